-- mapping/source.lua: the source table's column list (names and SQL types in
-- table order), from a database cursor's columns() or the reference TSV
-- (ordinal<TAB>name<TAB>type), and the size columns found in it.
local M = {}

-- SQL integer types as drivers report them (names or ODBC type codes).
local INT_NAMES = { int = true, integer = true, smallint = true, bigint = true, tinyint = true,
  ["int identity"] = true }
local INT_CODES = { [4] = true, [5] = true, [-5] = true, [-6] = true }

function M.is_int(t)
  if type(t) == "number" then return INT_CODES[t] or false end
  if type(t) ~= "string" then return false end
  return INT_NAMES[t:lower():gsub("%(.*$", ""):gsub("%s+$", "")] or false
end

-- load(path.tsv | array of {name=, type=} | array of names) -> columns or nil, err
function M.load(x)
  if type(x) == "table" then
    local out = {}
    for i, c in ipairs(x) do
      if type(c) == "string" then out[i] = { name = c }
      else out[i] = { name = c.name, type = c.type_name or c.type, nullable = c.nullable, size = c.size } end
    end
    return out
  end
  local f, err = io.open(x, "rb")
  if not f then return nil, err end
  local cols = {}
  for line in f:lines() do
    local ord, name, typ = line:match("^(%d+)\t([^\t]+)\t([^\t\r]+)")
    if ord then cols[#cols + 1] = { name = name, type = typ, ordinal = tonumber(ord) } end
  end
  f:close()
  if #cols == 0 then return nil, x .. ": no columns (expected ordinal<TAB>name<TAB>type lines)" end
  return cols
end

-- Size columns: the integer columns strictly between two marker columns, in
-- table order. Returns names or nil, err.
function M.size_columns(cols, after, before)
  local a, b
  for i, c in ipairs(cols) do
    if c.name == after and not a then a = i end
    if c.name == before and a and not b then b = i end
  end
  if not a then return nil, "size columns: no column '" .. after .. "' in the source table" end
  if not b then return nil, "size columns: no column '" .. before .. "' after '" .. after .. "'" end
  local out = {}
  for i = a + 1, b - 1 do
    -- an unknown type (a plain name list) counts as a size
    if cols[i].type == nil or M.is_int(cols[i].type) then out[#out + 1] = cols[i].name end
  end
  return out
end

return M
