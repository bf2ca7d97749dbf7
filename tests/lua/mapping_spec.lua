-- monhost.mapping: the mapping language, the default ORDERS_UNIFIED mapping,
-- group and title rules, the size unpivot, per-record errors, array rows.
local mapping = require "monhost.mapping"
local fx = require "mapping_fixtures"
local cjson = require "cjson"
local NULL = cjson.null

if not fx.have_reference() then
  it("needs ../shared/reference", function() skip("reference files not present") end)
  return
end

local function load(name, extra)
  local plan, err = mapping.load(name, fx.opts(extra))
  ok(plan, err)
  return plan
end

local row = fx.row

local KEYED = fx.KEYED

describe("default mapping", function()
  local plan = load("default")

  it("has the legacy board ids, key and 37 + 6 columns, and no problems", function()
    eq(plan.board_id, 9200517329)
    eq(plan.subitem_board_id, 9200771505)
    eq(plan.key_columns, { "AAG ORDER NUMBER", "CUSTOMER STYLE", "CUSTOMER COLOUR DESCRIPTION" })
    eq(#plan.entries, 43)
    eq(#plan.problems, 0, plan.problems[1] and plan.problems[1].message)
    eq(plan.customers, nil)
  end)

  it("finds the 161 size columns between INFOR COLOUR CODE and TOTAL QTY from the column list", function()
    eq(#plan.sizes, 161)
    eq(plan.sizes[1], "XXXS")
    eq(plan.sizes[161], "S(6-8)")
    for _, s in ipairs(plan.sizes) do
      ok(s ~= "TOTAL QTY" and s ~= "INFOR COLOUR CODE" and s ~= "Sum of TOTAL QTY", s)
    end
    -- detection follows the list given, not a built-in one
    local cols = fx.columns()
    table.insert(cols, 51, { name = "NEW SIZE", type = "INT" })
    table.insert(cols, 52, { name = "A NOTE", type = "NVARCHAR(MAX)" })
    local p2 = load("default", { columns = cols })
    eq(#p2.sizes, 162)
    eq(p2.sizes[1], "NEW SIZE")
  end)

  it("transforms a row: value map, cleaning, customer, numbers as text, dates", function()
    local rec = plan:transform(row(KEYED))
    eq(rec.errors, {})
    local v = rec.column_values
    eq(v.dropdown_mkr518fc, { labels = { "RECEIVED" } }, "ORDER TYPE ACTIVE -> RECEIVED")
    eq(v.dropdown_mkr542p2, { labels = { "JOHNNIE O" } })
    eq(v.numeric_mkr5cact, "28.86")
    eq(v.numeric_mkr55zg1, "0", "US TARIFF RATE TRUE -> 0")
    eq(v.long_text_mkr5p0cf, { text = "NALLA" }, "trim and control characters")
    eq(v.date_mkr5zp5, { date = "2025-05-20" })
    eq(v.color_mkr5yf27, { label = "PCE" })
    eq(v.text_mkr5ps35, nil, "NULL is omitted")
    eq(cjson.decode(rec.column_values_json), v)
    eq(rec.key, { "JOO-00505", "JWHD100120", "WHITE" })
    eq(rec.key_text, "JOO-00505|JWHD100120|WHITE")
    matches(rec.hash, "^%x+$")
  end)

  it("names the item STYLE COLOUR ORDER and the group CUSTOMER SEASON", function()
    local rec = plan:transform(row(KEYED))
    eq(rec.item_name, "JWHD100120 WHITE JOO-00505")
    eq(rec.group_name, "JOHNNIE O SPRING SUMMER 2026")
  end)

  it("canonicalises customer aliases for the group and the CUSTOMER column", function()
    for raw, canon in pairs { ["RHYTHM (AU)"] = "RHYTHM", ["RHYTHM (US)"] = "RHYTHM", ["TITLE 9"] = "TITLE NINE",
      ["lorna jane (nz) "] = "LORNA JANE", ["GREYSON CLOTHIERS"] = "GREYSON", ["Someone New"] = "Someone New" } do
      local r = row(KEYED)
      r["CUSTOMER NAME"] = raw
      local rec = plan:transform(r)
      eq(rec.column_values.dropdown_mkr542p2, { labels = { canon } }, raw)
      eq(rec.group_name, canon:upper() .. " SPRING SUMMER 2026", raw)
    end
  end)

  it("falls back from CUSTOMER SEASON to AAG SEASON to UNKNOWN_SEASON, never 'None'", function()
    local r = row(KEYED)
    r["CUSTOMER SEASON"] = NULL
    eq(plan:transform(r).group_name, "JOHNNIE O 2026 SPRING")
    r["CUSTOMER SEASON"] = "   "
    eq(plan:transform(r).group_name, "JOHNNIE O 2026 SPRING")
    r["AAG SEASON"] = NULL
    eq(plan:transform(r).group_name, "JOHNNIE O UNKNOWN_SEASON")
    for _, rr in ipairs(fx.rows(30)) do
      local g = plan:transform(rr).group_name
      ok(not g:find("None") and not g:find("nil"), g)
    end
  end)

  it("unpivots sizes: quantity > 0 only, NULL and 0 skipped, column order, sizes as text", function()
    local r = row(KEYED)
    r["XS"], r["M"], r["L"], r["2"], r["0"], r["S(6-8)"], r["XXXS"] = 5, 0, NULL, 7, 3, 1, -2
    r["TOTAL QTY"], r["Sum of TOTAL QTY"] = 16, 16
    local rec = plan:transform(r)
    local got = {}
    for i, s in ipairs(rec.subitems) do got[i] = s.size .. "=" .. s.qty end
    -- column order of the table (XS #53, then the digit sizes later, S(6-8) last)
    local idx = {}
    for i, c in ipairs(fx.columns()) do idx[c.name] = i end
    ok(idx["XS"] < idx["0"] and idx["0"] < idx["2"] or idx["XS"] < idx["2"])
    local want = {}
    for _, c in ipairs(fx.columns()) do
      local q = ({ XS = 5, ["2"] = 7, ["0"] = 3, ["S(6-8)"] = 1 })[c.name]
      if q then want[#want + 1] = c.name .. "=" .. q end
    end
    eq(got, want)
    local s = rec.subitems[1]
    eq(s.name, "Size XS")
    eq(cjson.decode(s.column_values_json), { dropdown_mkrak7qp = { labels = { "XS" } }, numeric_mkra7j8e = "5" })
    for _, sub in ipairs(rec.subitems) do
      eq(type(sub.size), "string")
      eq(cjson.decode(sub.column_values_json).dropdown_mkrak7qp.labels[1], sub.size)
    end
  end)

  it("all 161 sizes set gives 161 subitems in column order", function()
    local r = row(KEYED)
    for i, s in ipairs(plan.sizes) do r[s] = i end
    local rec = plan:transform(r)
    eq(#rec.subitems, 161)
    for i, s in ipairs(rec.subitems) do
      eq(s.size, plan.sizes[i])
      eq(s.qty, i)
    end
  end)

  it("turns a bad value into a per-record error naming the column, and still builds the record", function()
    local r = row(KEYED)
    r["ORDER DATE PO RECEIVED"] = "2025-02-30"
    r["CUSTOMER PRICE"] = "n/a"
    r["XS"] = "lots"
    local rec, errs = plan:transform(r)
    eq(#rec.errors, 3)
    eq(errs, rec.errors)
    local cols = {}
    for _, e in ipairs(rec.errors) do cols[e.column] = e.message end
    matches(cols["ORDER DATE PO RECEIVED"], "not a date")
    matches(cols["CUSTOMER PRICE"], "not a number")
    matches(cols["XS"], "not a number")
    eq(rec.item_name, "JWHD100120 WHITE JOO-00505")
    eq(rec.column_values.date_mkr5zp5, nil)
    eq(rec.column_values.text_mkr5wya6, "JOO-00505")
  end)

  it("reports an empty key column", function()
    local r = row(KEYED)
    r["CUSTOMER STYLE"] = NULL
    local rec = plan:transform(r)
    eq(rec.errors[1].column, "CUSTOMER STYLE")
    eq(rec.key_text, "JOO-00505||WHITE")
  end)

  it("gives the same record for a keyed row and an array row in select_columns order", function()
    for _, r in ipairs(fx.rows(20, { seed = 11 })) do
      local arr = {}
      for i, name in ipairs(plan.select_columns) do arr[i] = r[name] end
      local a, b = plan:transform(r), plan:transform(arr)
      eq(b.column_values_json, a.column_values_json)
      eq(b.hash, a.hash)
      eq(#b.subitems, #a.subitems)
    end
  end)

  it("selects only the columns it needs, in table order", function()
    local idx = {}
    for i, c in ipairs(fx.columns()) do idx[c.name] = i end
    for i = 2, #plan.select_columns do
      ok(idx[plan.select_columns[i - 1]] < idx[plan.select_columns[i]])
    end
    local set = {}
    for _, n in ipairs(plan.select_columns) do set[n] = true end
    ok(set["CUSTOMER NAME"] and set["CUSTOMER SEASON"] and set["XS"] and set["AAG SEASON"])
    ok(not set["Delta"] and not set["VALIDATION"] and not set["TOTAL QTY"])
  end)

  it("hashes what is sent: an unmapped column changes nothing, a mapped one does", function()
    local r = row(KEYED)
    local h = plan:transform(r).hash
    r["VALIDATION"] = "changed"
    eq(plan:transform(r).hash, h)
    r["NOTES"] = "changed"
    ok(plan:transform(r).hash ~= h)
  end)
end)

describe("customer mappings", function()
  it("greyson extends default, covers its aliases, overrides group and a column", function()
    local plan = load("greyson")
    eq(plan.name, "greyson")
    eq(plan.board_id, 9200517329)
    table.sort(plan.customers)
    eq(plan.customers, { "GREYSON", "GREYSON CLOTHIERS" })
    local r = row(KEYED)
    r["CUSTOMER NAME"] = "GREYSON CLOTHIERS"
    r["PATTERN ID"] = "PAT-991"
    local rec = plan:transform(r)
    eq(rec.group_name, "GREYSON 2026 SPRING")
    eq(rec.column_values.text_mkr5cz8m, "991")
    eq(rec.column_values.dropdown_mkr518fc, { labels = { "RECEIVED" } }, "inherited")
    eq(#plan.entries, 43)
  end)
  it("rhythm adds a value and a cleaning rule to inherited columns", function()
    local plan = load("rhythm")
    table.sort(plan.customers)
    eq(plan.customers, { "RHYTHM", "RHYTHM (AU)", "RHYTHM (US)" })
    local r = row(KEYED)
    r["CUSTOMER NAME"], r["ORDER TYPE"], r["DESTINATION"] = "RHYTHM (AU)", "FORECAST", "sydney"
    local rec = plan:transform(r)
    eq(rec.column_values.dropdown_mkr518fc, { labels = { "FORECAST" } })
    eq(rec.column_values.text_mkr5kbc6, "SYDNEY")
    eq(rec.group_name, "RHYTHM SPRING SUMMER 2026")
  end)
end)

describe("the mapping language", function()
  local function write_and_load(files, name, extra)
    local d = fx.with_default(files)
    return mapping.load(name, fx.opts(extra or { mappings_dir = d }))
  end

  it("supports titles as keys, constants, defaults, functions with ctx, templates and filters", function()
    local plan, err = write_and_load({ ["t.lua"] = [[
return {
  extends = "default",
  customers = { "JOHNNIE O" },
  defaults = { ["DESTINATION"] = "UNKNOWN" },
  where = "\"ORDER TYPE\" <> 'CANCELLED'",
  columns = {
    ["PO NUMBER"] = { "PO NUMBER", default = "NO PO" },       -- by title
    ["matchAlias"] = function(r, m) return m.customer .. "/" .. r["AAG ORDER NUMBER"] end,
    ["ADD TO PLANNING"] = { value = "Yes" },                 -- a constant
    dropdown_mkr5w5e = false,                                  -- DROP: not sent
  },
  item_name = "{AAG ORDER NUMBER} {customer}",
  filter = function(r) return r["ORDER TYPE"] ~= "CANCELLED" end,
}]] }, "t")
    ok(plan, err)
    eq(plan.customers, { "JOHNNIE O" })
    eq(plan.filter, "\"ORDER TYPE\" <> 'CANCELLED'")
    local r = row(KEYED)
    r["DROP"] = "D1"
    local rec = plan:transform(r)
    eq(rec.column_values.text_mkr5kbc6, "UNKNOWN")
    eq(rec.column_values.text_mkr5ej2x, "NO PO")
    eq(rec.column_values.text_mkr61hpz, "JOHNNIE O/JOO-00505")
    eq(rec.column_values.color_mkrerxrs, { label = "Yes" })
    eq(rec.column_values.dropdown_mkr5w5e, nil)
    eq(rec.item_name, "JOO-00505 JOHNNIE O")
    eq(rec.filtered, nil)
    r["ORDER TYPE"] = "CANCELLED"
    eq(plan:transform(r).filtered, true)
  end)

  it("lets a customer file override an inherited column by title; twice in one file is an error", function()
    local plan = assert(write_and_load({ ["o.lua"] = [[
return { extends = "default", columns = { ["ORDER TYPE"] = { "ORDER TYPE", map = { ACTIVE = "LIVE" } } } }]] }, "o"))
    eq(#plan.problems, 0)
    eq(plan:transform(row(KEYED)).column_values.dropdown_mkr518fc, { labels = { "LIVE" } })
    local p2 = assert(write_and_load({ ["t2.lua"] = [[
return { extends = "default", columns = { ["PO NUMBER"] = "PO NUMBER", text_mkr5ej2x = "NOTES" } }]] }, "t2"))
    matches(p2.problems[1].message, "set twice")
  end)

  it("reports unknown and read-only columns with file:line and drops them (strict fails)", function()
    local d = fx.with_default({ ["bad.lua"] = [[
return {
  extends = "default",
  columns = {
    text_nope = "PO NUMBER",
    lookup_mkr5fkj1 = "TOTAL QTY",
    text_mkr61hpz = "NO SUCH COLUMN",
  },
}]] })
    local plan = assert(mapping.load("bad", fx.opts { mappings_dir = d }))
    local msgs = {}
    for _, p in ipairs(plan.problems) do msgs[#msgs + 1] = p.at.file:match("[^/]+$") .. ":" .. p.at.line .. " " .. p.message end
    table.sort(msgs)
    eq(#msgs, 3, table.concat(msgs, "\n"))
    matches(msgs[1], "^bad.lua:4 unknown monday column")
    matches(msgs[2], "^bad.lua:5 .*read%-only")
    matches(msgs[3], "^bad.lua:6 unknown source column 'NO SUCH COLUMN'")
    eq(#plan.entries, 43)
    local p2, err = mapping.load("bad", fx.opts { mappings_dir = d, strict = true })
    eq(p2, nil)
    matches(err, "bad.lua:4:")
  end)

  it("shows Lua errors with file:line, at load time and in per-record errors", function()
    local _, err = write_and_load({ ["syn.lua"] = "return {\n  columns = {\n    x = = 1 }\n}\n" }, "syn")
    matches(err, "syn.lua:3:")
    local plan = assert(write_and_load({ ["fn.lua"] = [[
return {
  extends = "default",
  columns = {
    text_mkr61hpz = function(r)
      return r["PO NUMBER"]:upper()
    end,
  },
}]] }, "fn"))
    local rec = plan:transform(row(KEYED)) -- PO NUMBER is NULL -> nil:upper() fails
    eq(#rec.errors, 1)
    matches(rec.errors[1].message, "fn.lua:4")
    eq(rec.column_values.text_mkr61hpz, nil)
  end)

  it("refuses a mapping that extends itself and names a missing base", function()
    local _, err = write_and_load({ ["a.lua"] = 'return { extends = "b" }', ["b.lua"] = 'return { extends = "a" }' }, "a")
    matches(err, "extends itself")
    local _, err2 = write_and_load({ ["c.lua"] = 'return { extends = "nothere" }' }, "c")
    matches(err2, "no mapping 'nothere'")
  end)

  it("needs the column list for size detection", function()
    local plan, err = mapping.load("default", { board = fx.BOARD, subitem_board = fx.SUBBOARD })
    eq(plan, nil)
    matches(err, "column list")
  end)
end)

describe("legacy YAML", function()
  local yplan = load(fx.YAML)
  local lua_dir = fx.dir()

  it("loads at run time and reports the column the board lacks, with its YAML line", function()
    eq(#yplan.entries, 42) -- 43 minus FREIGHT's unknown text_mkr5kyf4
    local p = yplan.problems[1]
    eq(p.at.line, 295)
    matches(p.message, "text_mkr5kyf4")
  end)

  it("converts to a Lua mapping that transforms rows exactly as the YAML does", function()
    local out, err, code = fx.run { "mapping", "convert", fx.YAML, "--customers", fx.CUSTOMERS_YAML,
      "--subitems", fx.SUBITEMS_YAML, "-o", lua_dir .. "/legacy.lua" }
    eq(code, 0, err)
    eq(out, "")
    matches(err, "wrote .*legacy.lua %(43 columns, 4 cleaning rules, 1 value maps%)")
    matches(err, "orders_unified_monday_mapping.yaml:469: note: target_only_fields")
    local text = io.open(lua_dir .. "/legacy.lua"):read("a")
    matches(text, 'dropdown_mkr518fc = { "ORDER TYPE", map = {')
    matches(text, '%["ACTIVE"%] = "RECEIVED", %-%- line 122')
    matches(text, '%["US TARIFF RATE"%] = { replace = { TRUE = "0" } }')
    local lplan = load(lua_dir .. "/legacy.lua")
    eq(#lplan.entries, #yplan.entries)
    eq(lplan.select_columns, yplan.select_columns)
    local rows = fx.rows(40, { seed = 5 })
    for _, c in ipairs { "JOHNNIE O", "RHYTHM (US)", "LORNA JANE (AU)" } do
      for _, r in ipairs(fx.rows(10, { seed = 9, customer = c })) do rows[#rows + 1] = r end
    end
    local bad = row(KEYED)
    bad["EX FACTORY DATE"] = "2025-31-12"
    rows[#rows + 1] = bad
    local subs = 0
    for i, r in ipairs(rows) do
      local a, b = yplan:transform(r), lplan:transform(r)
      eq(b.column_values_json, a.column_values_json, "row " .. i)
      eq(b.item_name, a.item_name)
      eq(b.group_name, a.group_name)
      eq(b.hash, a.hash)
      eq(b.filtered, a.filtered)
      eq(#b.errors, #a.errors)
      subs = subs + #a.subitems
    end
    ok(subs > #rows, "rows have subitems")
  end)

  it("writes the alias table as Lua, equivalent to the YAML", function()
    local a = mapping.customers(fx.CUSTOMERS_YAML)
    local b = mapping.customers("mappings/customers.lua")
    eq(b.lookup, a.lookup)
    eq(a("RHYTHM (AU)"), "RHYTHM")
    eq(a("  title 9 "), "TITLE NINE")
    eq(a(NULL), nil)
  end)
end)
