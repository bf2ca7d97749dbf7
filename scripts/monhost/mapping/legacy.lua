-- mapping/legacy.lua: the legacy pipeline's YAML mapping format
-- (orders_unified_monday_mapping.yaml: exact_matches, mapped_fields,
-- computed_fields, preprocessing, value maps), read into one model that is
-- either turned into a spec at run time (mapping.load("x.yaml")) or written
-- out as a readable Lua mapping (`monhost mapping convert`). Whatever the
-- model cannot express is reported with its YAML line, never dropped.
local yaml = require "monhost.yaml"
local customers = require "monhost.mapping.customers"

local M = {}

-- Sections that only document the legacy system: noted, nothing to convert.
local DOC_SECTIONS = {
  metadata = "description of the file",
  target_only_fields = "monday-only columns (no source value to copy)",
  source_only_fields = "source columns the legacy mapping did not send",
  excluded_fields = "mirror/formula/board_relation columns (read-only; `monhost check` rejects them)",
  transformation_summary = "counts",
  mapping_categories = "counts",
  api_implementation = "value formats and mutation template (monhost formats values from the board's column types)",
  notes = "free text",
}

-- The key and group rules lived in the legacy Python code, not in the YAML.
M.KEY = { "AAG ORDER NUMBER", "CUSTOMER STYLE", "CUSTOMER COLOUR DESCRIPTION" }

local function q(s) return string.format("%q", s) end

-- parse(path | text, opts) -> model
function M.parse(path, opts)
  opts = opts or {}
  local text = opts.text
  if not text then
    local f, err = io.open(path, "rb")
    if not f then return nil, err end
    text = f:read("a")
    f:close()
  end
  local doc, lines = yaml.load(text, { name = path, lines = true })
  if not doc then return nil, lines end
  if type(doc) ~= "table" then return nil, path .. ": not a mapping document" end
  local function line(t, k) return lines[t] and lines[t][k] end
  local m = { path = path, columns = {}, clean = {}, filters = {}, notes = {}, unconverted = {} }
  local function note(l, what) m.notes[#m.notes + 1] = { line = l, what = what } end
  local function skip(l, what) m.unconverted[#m.unconverted + 1] = { line = l, what = what } end

  for k, v in pairs(doc) do
    if DOC_SECTIONS[k] then note(line(doc, k), k .. ": " .. DOC_SECTIONS[k] .. " - not converted")
    elseif not ({ exact_matches = 1, mapped_fields = 1, computed_fields = 1, preprocessing = 1 })[k] then
      skip(line(doc, k), "unknown section '" .. tostring(k) .. "'")
    end
    local _ = v
  end
  m.version = doc.metadata and doc.metadata.version

  local function field(e, section)
    local l = line(e, "source_field") or line(e, "target_field")
    local src, id = e.source_field, e.target_column_id
    if type(src) ~= "string" or type(id) ~= "string" then
      skip(l, section .. ": entry without source_field and target_column_id")
      return
    end
    local c = { source = src, target = id, title = e.target_field, type = e.target_type, line = l,
      section = section, id_line = line(e, "target_column_id") }
    local tr = e.transformation
    if tr == "value_mapping" then
      c.map, c.map_lines = {}, {}
      for _, r in ipairs(e.mapping_rules or {}) do
        if type(r) == "table" and r.source_value ~= nil then
          c.map[#c.map + 1] = { from = tostring(r.source_value), to = r.target_value == yaml.null and false or r.target_value,
            line = line(r, "source_value") }
        end
      end
    elseif tr == "customer_mapping_lookup" then
      c.customer = true
      m.customer_column = src
      m.customer_line = line(e, "transformation")
      m.customer_source = e.mapping_source
    elseif tr == "color_mapping" then
      note(line(e, "transformation"), src .. ": color_mapping has no rules in the file; copied as is")
    elseif tr ~= nil and tr ~= "direct_mapping" then
      skip(line(e, "transformation"), src .. ": transformation '" .. tostring(tr) .. "' is not known; the column is copied as is")
    end
    m.columns[#m.columns + 1] = c
  end
  for _, e in ipairs(type(doc.exact_matches) == "table" and doc.exact_matches or {}) do field(e, "exact_matches") end
  for _, e in ipairs(type(doc.mapped_fields) == "table" and doc.mapped_fields or {}) do field(e, "mapped_fields") end

  for _, e in ipairs(type(doc.computed_fields) == "table" and doc.computed_fields or {}) do
    local l = line(e, "target_field")
    if e.target_field == "Title" and e.transformation == "concatenation" and type(e.source_fields) == "table" then
      m.title = { fields = e.source_fields, line = l }
      note(line(e, "formula") or l, "Title: the formula's sample has no separators; the legacy code joined the parts " ..
        "with a space, which the converted mapping keeps")
    else
      skip(l, "computed field '" .. tostring(e.target_field) .. "' (" .. tostring(e.transformation) .. ")")
    end
  end

  local pre = type(doc.preprocessing) == "table" and doc.preprocessing or {}
  for _, e in ipairs(type(pre.data_cleaning) == "table" and pre.data_cleaning or {}) do
    local l = line(e, "field")
    if e.operation == "replace_value" and e.find ~= nil then
      m.clean[#m.clean + 1] = { field = e.field, replace = { [tostring(e.find)] = e.replace }, line = l }
    elseif e.operation == "trim_and_clean" then
      m.clean[#m.clean + 1] = { field = e.field, op = "trim", line = l }
    else
      skip(l, "cleaning operation '" .. tostring(e.operation) .. "' on " .. tostring(e.field))
    end
  end
  for _, e in ipairs(type(pre.data_filtering) == "table" and pre.data_filtering or {}) do
    local l = line(e, "operation")
    if e.operation == "date_filter" and e.condition == "current_year_only" then
      m.filters[#m.filters + 1] = { kind = "current_year", field = e.field, line = l }
    elseif e.operation == "customer_filter" and e.condition == "not_null" then
      m.filters[#m.filters + 1] = { kind = "customer", line = l }
      note(l, "customer_filter on " .. tostring(e.field) .. ": kept as 'the canonical customer is not empty'")
    else
      skip(l, "filter '" .. tostring(e.operation) .. "' (" .. tostring(e.condition) .. ")")
    end
  end
  for k in pairs(pre) do
    if k ~= "data_cleaning" and k ~= "data_filtering" then skip(line(pre, k), "preprocessing." .. tostring(k)) end
  end

  -- subitems: from subitem-field-mapping.yaml when given
  if opts.subitems then
    local sdoc, slines = yaml.load_file(opts.subitems, { lines = true })
    if not sdoc then return nil, slines end
    local mf = sdoc.monday_fields or {}
    m.subitems = {
      size_column = mf.size_dropdown and mf.size_dropdown.column_id,
      qty_column = mf.order_quantity and mf.order_quantity.column_id,
      name = "Size %s",
    }
    local det = sdoc.size_detection and sdoc.size_detection.markers
    if det and det.start_column and det.start_column ~= "INFOR COLOUR CODE" then
      local l = slines[sdoc.size_detection.markers] and slines[sdoc.size_detection.markers].start_column
      m.sub_notes = { { line = l, what = opts.subitems .. ": the legacy size range started after '" .. det.start_column ..
        "' (one column early); sizes are the INT columns between INFOR COLOUR CODE and TOTAL QTY" } }
    end
  end
  table.sort(m.unconverted, function(a, b) return (a.line or 0) < (b.line or 0) end)
  table.sort(m.notes, function(a, b) return (a.line or 0) < (b.line or 0) end)
  return m
end

-- ---- the shared functions (one definition, used by both paths) ---------------

local function title_fn(fields)
  local join = require("monhost.mapping.loader").helpers.join
  return function(r)
    local parts = {}
    for i, f in ipairs(fields) do parts[i] = r[f] end
    return join(" ", table.unpack(parts, 1, #fields))
  end
end

local function group_fn(r, m)
  local nonempty = require("monhost.mapping.loader").helpers.nonempty
  local season = nonempty(r["CUSTOMER SEASON"]) or nonempty(r["AAG SEASON"]) or "UNKNOWN_SEASON"
  return (m.customer or "UNKNOWN_CUSTOMER"):upper() .. " " .. season
end

local function filter_fn(filters)
  local year = require("monhost.mapping.loader").helpers.year
  return function(r, m)
    for _, f in ipairs(filters) do
      if f.kind == "current_year" and year(r[f.field]) ~= tonumber(os.date("%Y")) then return false end
      if f.kind == "customer" and m.customer == nil then return false end
    end
    return true
  end
end

-- ---- run time: model -> spec ------------------------------------------------

function M.spec(path, opts)
  opts = opts or {}
  local dir = path:match("^(.*)/[^/]*$") or "."
  local sub = opts.legacy_subitems
  if sub == nil then
    local guess = dir .. "/subitem-field-mapping.yaml"
    local f = io.open(guess)
    if f then f:close(); sub = guess end
  end
  local m, err = M.parse(path, { subitems = sub or nil })
  if not m then return nil, err end
  local function at(l) return { file = path, line = l } end
  local p = { file = path, problems = {}, clean = {}, defaults = {}, columns = {}, legacy = m }
  p.source = "ORDERS_UNIFIED"
  p.key = M.KEY
  p.key_at = at(1)
  p.customer_column = m.customer_column
  if m.customer_source then
    local cpath = opts.customers or (dir .. "/" .. m.customer_source)
    p.aliases, p.aliases_at = cpath, at(m.customer_line)
  end
  for _, c in ipairs(m.clean) do
    p.clean[c.field] = { rule = c.op or { replace = c.replace }, at = at(c.line) }
  end
  for _, c in ipairs(m.columns) do
    local e = { target = c.target, at = at(c.id_line or c.line), source = c.source }
    if c.customer then e.source = nil; e.fn = function(_, ctx) return ctx.customer end end
    if c.map then
      e.map, e.map_at = {}, {}
      for _, r in ipairs(c.map) do e.map[r.from] = r.to; e.map_at[r.from] = at(r.line) end
    end
    p.columns[c.target] = e
  end
  if m.title then p.item_name = { fn = title_fn(m.title.fields), at = at(m.title.line) } end
  p.group = { fn = group_fn, at = at(1) }
  if #m.filters > 0 then p.filter = { fn = filter_fn(m.filters), at = at(m.filters[1].line) } end
  if m.subitems then
    p.subitems = { size_column = m.subitems.size_column, qty_column = m.subitems.qty_column, name = "Size %s",
      sizes = { after = "INFOR COLOUR CODE", before = "TOTAL QTY" }, at = at(1) }
  end
  for _, u in ipairs(m.unconverted) do
    p.problems[#p.problems + 1] = { severity = "warning", at = at(u.line), message = "not converted: " .. u.what }
  end
  return p
end

-- ---- convert: model -> Lua text -----------------------------------------------

local function ident(s) return s:match("^[%a_][%w_]*$") and s or ("[" .. q(s) .. "]") end

-- to_lua(model, opts) -> text. opts.aliases: what to write for `aliases`.
function M.to_lua(m, opts)
  opts = opts or {}
  local o = {}
  local function w(s) o[#o + 1] = s end
  w(("-- Converted by `monhost mapping convert` from %s%s."):format(m.path:match("[^/]+$"),
    m.version and (" (version " .. m.version .. ")") or ""))
  w("-- Comments give the YAML line each entry came from. Review, then run")
  w("-- `monhost check` on it against the board.")
  if #m.unconverted > 0 then
    w("--")
    w("-- Not converted (see the YAML lines):")
    for _, u in ipairs(m.unconverted) do w(("--   line %s: %s"):format(tostring(u.line), u.what)) end
  end
  w("return {")
  w('  source = "ORDERS_UNIFIED",')
  if opts.board then w(("  board = %s,"):format(tostring(opts.board))) end
  if opts.subitem_board then w(("  subitem_board = %s,"):format(tostring(opts.subitem_board))) end
  w("  -- the order-line key of the legacy code (not in the YAML)")
  w("  key = { " .. table.concat((function() local t = {} for i, k in ipairs(M.KEY) do t[i] = q(k) end return t end)(), ", ") .. " },")
  if m.customer_column then
    w(("  customer_column = %s, -- line %s"):format(q(m.customer_column), tostring(m.customer_line)))
    w(("  aliases = %s,"):format(q(opts.aliases or m.customer_source or "customers")))
  end
  if #m.clean > 0 then
    w("")
    w("  -- preprocessing.data_cleaning")
    w("  clean = {")
    for _, c in ipairs(m.clean) do
      local rule
      if c.op then rule = q(c.op) else
        local parts = {}
        local keys = {}
        for k in pairs(c.replace) do keys[#keys + 1] = k end
        table.sort(keys)
        for _, k in ipairs(keys) do parts[#parts + 1] = ident(k) .. " = " .. q(tostring(c.replace[k])) end
        rule = "{ replace = { " .. table.concat(parts, ", ") .. " } }"
      end
      w(("    [%s] = %s, -- line %s"):format(q(c.field), rule, tostring(c.line)))
    end
    w("  },")
  end
  w("")
  w("  columns = {")
  local last
  for _, c in ipairs(m.columns) do
    if c.section ~= last then
      w("    -- " .. c.section)
      last = c.section
    end
    local lhs = ident(c.target)
    local title = c.title and c.title ~= c.source and (" (" .. c.title .. ")") or ""
    if c.customer then
      w(("    %s = function(r, m) return m.customer end, -- line %s: canonical %s%s"):format(lhs, tostring(c.line), c.source, title))
    elseif c.map then
      w(("    %s = { %s, map = { -- line %s%s"):format(lhs, q(c.source), tostring(c.line), title))
      for _, r in ipairs(c.map) do
        w(("      [%s] = %s, -- line %s"):format(q(r.from), r.to == false and "false" or q(tostring(r.to)), tostring(r.line)))
      end
      w("    } },")
    else
      w(("    %s = %s, -- line %s%s"):format(lhs, q(c.source), tostring(c.line), title))
    end
  end
  w("  },")
  if m.title then
    w("")
    local refs = {}
    for i, f in ipairs(m.title.fields) do refs[i] = "r[" .. q(f) .. "]" end
    w(("  -- computed_fields Title, line %s"):format(tostring(m.title.line)))
    w("  item_name = function(r) return join(\" \", " .. table.concat(refs, ", ") .. ") end,")
  end
  w("")
  w("  -- the legacy code's group rule: canonical customer + season")
  w("  group = function(r, m)")
  w('    local season = nonempty(r["CUSTOMER SEASON"]) or nonempty(r["AAG SEASON"]) or "UNKNOWN_SEASON"')
  w('    return (m.customer or "UNKNOWN_CUSTOMER"):upper() .. " " .. season')
  w("  end,")
  if #m.filters > 0 then
    w("")
    w("  -- preprocessing.data_filtering")
    w("  filter = function(r, m)")
    for _, f in ipairs(m.filters) do
      if f.kind == "current_year" then
        w(("    if year(r[%s]) ~= tonumber(os.date(\"%%Y\")) then return false end -- line %s"):format(q(f.field), tostring(f.line)))
      else
        w(("    if m.customer == nil then return false end -- line %s"):format(tostring(f.line)))
      end
    end
    w("    return true")
    w("  end,")
  end
  if m.subitems then
    w("")
    w("  subitems = {")
    w('    sizes = { after = "INFOR COLOUR CODE", before = "TOTAL QTY" },')
    w('    name = "Size %s",')
    w(("    size_column = %s,"):format(q(m.subitems.size_column or "Size")))
    w(("    qty_column = %s,"):format(q(m.subitems.qty_column or "Order Qty")))
    w("  },")
  end
  w("}")
  return table.concat(o, "\n") .. "\n"
end

-- customer_mapping.yaml -> mappings/customers.lua text
function M.customers_to_lua(path)
  local doc, err = yaml.load_file(path)
  if not doc then return nil, err end
  local t = customers.from_yaml_doc(doc)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  local o = { ("-- Canonical customer names and the raw CUSTOMER NAME values (aliases) that\n" ..
    "-- mean them. Converted by `monhost mapping convert` from %s.\n" ..
    "-- Matching ignores case and surrounding spaces.\nreturn {"):format(path:match("[^/]+$")) }
  for _, n in ipairs(names) do
    local al = {}
    for _, a in ipairs(t[n]) do if a ~= n then al[#al + 1] = q(a) end end
    o[#o + 1] = #al == 0 and ("  [%s] = {},"):format(q(n)) or ("  [%s] = { %s },"):format(q(n), table.concat(al, ", "))
  end
  o[#o + 1] = "}"
  return table.concat(o, "\n") .. "\n", #names
end

return M
