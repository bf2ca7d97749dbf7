-- monhost.transform (host/transform.c): plan:transform runs the per-row
-- loop in C; plan:transform_lua is the Lua reference. Every record field
-- (key, names, JSON, subitems, hashes, errors, filter flag) must be the same
-- bytes from both, for generated rows, hostile rows and every feature of the
-- mapping language.
local mapping = require "monhost.mapping"
local fx = require "mapping_fixtures"
local cjson = require "cjson"
local hash = require "monhost.hash"
local NULL = cjson.null

if not fx.have_reference() then
  it("needs ../shared/reference", function() skip("reference files not present") end)
  return
end

local row = fx.row

local function array(plan, r)
  local a = {}
  for i, name in ipairs(plan.select_columns) do
    local v = r[name]
    if v == nil then v = NULL end
    a[i] = v
  end
  return a
end

local FIELDS = { "key", "key_text", "item_name", "group_name", "customer", "column_values_json", "subitems",
  "hash", "item_hash", "errors", "filtered" }

-- Both implementations on the same row (keyed and as an array); returns the native record.
local function same(plan, r, what)
  local rec
  for _, input in ipairs { r, array(plan, r) } do
    local a, aerr = plan:transform_lua(input)
    local b, berr = plan:transform(input)
    for _, f in ipairs(FIELDS) do eq(rawget(b, f), rawget(a, f), (what or "") .. ": " .. f) end
    eq(berr, aerr, (what or "") .. ": second result")
    eq(getmetatable(b) ~= nil, getmetatable(a) ~= nil, "lazy column_values")
    eq(b.column_values, a.column_values, (what or "") .. ": column_values")
    rec = b
  end
  return rec
end

local KEYED = fx.KEYED

-- KEYED with some columns replaced, one row per case: both transforms agree
local function same_cases(plan, cases, what)
  for i, over in ipairs(cases) do
    local vals = {}
    for k, v in pairs(KEYED) do vals[k] = v end
    for k, v in pairs(over) do vals[k] = v end
    same(plan, row(vals), what .. " " .. i)
  end
end

describe("native transform, default mapping", function()
  local plan = assert(mapping.load("default", fx.opts()))

  it("gives the reference records for generated rows of every customer", function()
    local n = 0
    for i, c in ipairs(fx.orders.CUSTOMERS) do
      for _, r in ipairs(fx.rows(os.getenv("MONHOST_QUICK") and 8 or 40, { seed = 100 + i, customer = c.name })) do
        same(plan, r, c.name)
        n = n + 1
      end
    end
    ok(n >= 40)
  end)

  it("gives the reference records with column_values built eagerly and with clear_empty", function()
    local rows = fx.rows(10, { seed = 5 })
    for _, mode in ipairs { { true, false }, { false, true }, { true, true } } do
      plan.eager_values, plan.clear_empty = mode[1], mode[2]
      for _, r in ipairs(rows) do
        local rec = same(plan, r, "eager/clear")
        eq(getmetatable(rec) == nil, mode[1])
      end
    end
    plan.eager_values, plan.clear_empty = nil, false
  end)

  it("matches on hostile rows: bad values, empty keys, control characters, odd quantities", function()
    local cases = {
      {},
      { ["ORDER DATE PO RECEIVED"] = "2025-02-30", ["CUSTOMER PRICE"] = "n/a", XS = "lots" },
      { ["CUSTOMER STYLE"] = NULL, ["AAG ORDER NUMBER"] = "" },
      { ["AAG ORDER NUMBER"] = 12.0, ["CUSTOMER STYLE"] = 7, ["CUSTOMER COLOUR DESCRIPTION"] = 1.5 },
      { ["CUSTOMER STYLE"] = "\t JW\0HD\127 \n", ["STYLE DESCRIPTION"] = "caf\xc3\xa9 \xff\"q\"\\", ["NOTES"] = "a\nb" },
      { XS = "5", S = " 7 ", M = "2.0", L = "0x10", XL = 2.5, XXL = -1, XXXL = 3.0, ["0"] = "-0", ["2"] = 1e300 },
      { XS = true, S = {}, M = 0.0, L = "", XL = "1e2" },
      { ["US TARIFF RATE"] = " TRUE ", ["CUSTOMER NAME"] = "  greyson clothiers ", ["CUSTOMER SEASON"] = "  " },
      { ["CUSTOMER NAME"] = NULL, ["AAG SEASON"] = NULL, ["CUSTOMER SEASON"] = NULL },
      { ["ORDER TYPE"] = "CANCELLED", ["CUSTOMER PRICE"] = 28.86, ["DISCOUNT"] = 3, ["ORDER DATE PO RECEIVED"] = "20250520" },
      { ["EX FACTORY DATE"] = "2025-05-20 13:00:00", ["ETA CUSTOMER WAREHOUSE DATE"] = "2025/05/20" },
    }
    same_cases(plan, cases, "case")
    local r = row(KEYED)
    for i, s in ipairs(plan.sizes) do r[s] = i end
    eq(#same(plan, r, "all sizes").subitems, #plan.sizes)
    -- an array row with a metatable: values it lacks come from __index
    local full = array(plan, r)
    local sparse = setmetatable({}, { __index = function(_, i) return full[i] end })
    for i = 1, #full, 2 do rawset(sparse, i, full[i]) end
    local a, b = plan:transform_lua(sparse), plan:transform(sparse)
    eq(b.hash, a.hash)
    eq(b.hash, plan:transform(full).hash)
  end)

  it("reports the same errors, in the same order", function()
    local r = row(KEYED)
    r["CUSTOMER STYLE"], r["ORDER DATE PO RECEIVED"], r["CUSTOMER PRICE"], r["XS"] = NULL, "2025-13-01", "x", "many"
    local rec, errs = plan:transform(r)
    local cols = {}
    for i, e in ipairs(errs) do cols[i] = e.column end
    -- key, then monday columns in id order (date_... before numeric_...), then sizes
    eq(cols, { "CUSTOMER STYLE", "ORDER DATE PO RECEIVED", "CUSTOMER PRICE", "XS" })
    eq(rec.errors, errs)
    same(plan, r)
  end)
end)

describe("native transform, the whole mapping language", function()
  it("matches the reference for constants, defaults, cleaning chains, functions, templates, filters", function()
    local d = fx.with_default({ ["all.lua"] = [[
return {
  extends = "default",
  defaults = { ["DESTINATION"] = "UNKNOWN", ["PO NUMBER"] = "NO PO" },
  clean = {
    ["DESTINATION"] = { "trim", "upper", replace = { NOWHERE = false, ["N/A"] = NULL, HOME = "DOMICILE" } },
    ["NOTES"] = function(v) return type(v) == "string" and v:reverse() or v end,
    ["CATEGORY"] = "lower",
  },
  columns = {
    ["PO NUMBER"] = { "PO NUMBER", default = "NONE", clean = { "trim", { replace = { X = "Y" } } } },
    matchAlias = function(r, m) return m.customer .. "/" .. r["AAG ORDER NUMBER"] end,
    ["ADD TO PLANNING"] = { value = "Yes" },
    text_mkr5ptvg = function(r) if r["NOTES"] == "boom" then error("exploded") end return r["NOTES"] end,
    numeric_mkr5cact = { "CUSTOMER PRICE", map = { [10] = "11", ["28.86"] = "30" } },
    dropdown_mkr518fc = { "ORDER TYPE", map = { ACTIVE = "RECEIVED" }, default = false },
    dropdown_mkr5w5e = false,
  },
  item_name = "{AAG ORDER NUMBER} {customer} {CUSTOMER STYLE}",
  group = function(r, m) if r["DROP"] == "NOGROUP" then return "" end return m.customer end,
  filter = function(r) if r["DROP"] == "BADFILTER" then error(setmetatable({}, { __tostring = function() return "a table error" end })) end return r["ORDER TYPE"] ~= "CANCELLED" end,
  subitems = { name = function(size, qty) if size == "M" then error("no M") end return size .. "x" .. qty end,
    columns = { color_mkrbezbh = "Open" } },
}]] })
    local plan, err = mapping.load("all", fx.opts { mappings_dir = d })
    ok(plan, err)
    local variants = {
      {}, { DESTINATION = "  nowhere " }, { DESTINATION = "n/a" }, { DESTINATION = "home" }, { DESTINATION = " " },
      { NOTES = "moob" }, { NOTES = "hello" }, { ["CUSTOMER PRICE"] = 10 }, { ["CUSTOMER PRICE"] = 10.0 },
      { ["ORDER TYPE"] = "CANCELLED" }, { ["ORDER TYPE"] = NULL }, { DROP = "NOGROUP" }, { DROP = "BADFILTER" },
      { ["PO NUMBER"] = " X " }, { ["PO NUMBER"] = NULL }, { CATEGORY = "WoMeNs" }, { XS = 3, M = 2, L = 1 },
      { ["AAG ORDER NUMBER"] = NULL, ["CUSTOMER STYLE"] = NULL },
    }
    same_cases(plan, variants, "variant")
    local r = row(KEYED)
    r["ORDER TYPE"] = "CANCELLED"
    eq(plan:transform(r).filtered, true)
    r["NOTES"] = "moob" -- cleaned (reversed) to "boom"
    local rec = plan:transform(r)
    matches(rec.errors[1].message, "all.lua:%d+: exploded")
  end)

  it("a mapping function may transform another row (nested call) without corrupting the outer record", function()
    local d = fx.with_default({ ["nest.lua"] = [[
return {
  extends = "default",
  columns = { text_mkr61hpz = function(r, m) return m.plan:transform(m.raw).item_name end },
}]] })
    local plan = assert(mapping.load("nest", fx.opts { mappings_dir = d }))
    local r = row(KEYED)
    local rec = same(plan, r, "nested")
    eq(rec.column_values.text_mkr61hpz, rec.item_name)
  end)

  it("a failing cleaning function raises out of transform, and the next row is still right", function()
    local d = fx.with_default({ ["raise.lua"] = [[
return { extends = "default", clean = { ["NOTES"] = function(v) if v == "raise" then error("bad clean") end return v end } }]] })
    local plan = assert(mapping.load("raise", fx.opts { mappings_dir = d }))
    local r = row(KEYED)
    r["NOTES"] = "raise"
    raises(function() plan:transform(r) end, "bad clean")
    r["NOTES"] = "fine"
    same(plan, r, "after a raise")
  end)
end)

describe("item_hash", function()
  it("is the hash of the documented item text", function()
    local plan = assert(mapping.load("default", fx.opts()))
    local rec = plan:transform(row(KEYED))
    local text = '["monhost.item/1",' .. require("monhost.colvals").encode(rec.item_name) .. "," .. require("monhost.colvals").encode(rec.group_name) .. "," ..
      rec.column_values_json .. "]"
    eq(rec.item_hash, hash.bytes(text))
    eq(select(2, hash.order(rec)), rec.item_hash)
  end)
end)
