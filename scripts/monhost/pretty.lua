-- monhost.pretty: readable text for any Lua value, used by the REPL and by
-- test failure messages. Tables are printed nested with sorted keys (so the
-- same table always prints the same), cycles are marked, and long lists are
-- cut with a count of what was left out.
local M = {}

local NULL = require("cjson").null

local function is_ident(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

-- numbers before strings, then by value; other key types by their text
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return string.format("%q", v):gsub("\\\n", "\\n") end
  if v == NULL then return "null" end
  if t == "number" and math.type(v) == "float" and v == math.floor(v) and v == v and v ~= math.huge and v ~= -math.huge then
    return string.format("%.1f", v)
  end
  return tostring(v)
end

-- M.format(value [, {depth = 6, max_items = 50, indent = "  ", width = 78}])
function M.format(value, opts)
  opts = opts or {}
  local max_depth = opts.depth or 6
  local max_items = opts.max_items or 50
  local indent = opts.indent or "  "
  local width = opts.width or 78
  local out = {}
  local path = {} -- tables on the current path: a revisit is a cycle

  local function emit(v, level)
    if type(v) ~= "table" then
      out[#out + 1] = scalar(v)
      return
    end
    if path[v] then
      out[#out + 1] = "<cycle>"
      return
    end
    if level >= max_depth then
      out[#out + 1] = "{...}"
      return
    end
    local mt = getmetatable(v)
    if mt and mt.__tostring then
      out[#out + 1] = tostring(v)
      return
    end
    path[v] = true
    local n = #v
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, key_less)
    local items = {}
    local shown = math.min(n, max_items)
    for i = 1, shown do
      local save = #out
      emit(v[i], level + 1)
      items[#items + 1] = table.concat(out, "", save + 1)
      for j = #out, save + 1, -1 do out[j] = nil end
    end
    if n > shown then items[#items + 1] = string.format("... (%d more)", n - shown) end
    local kshown = math.min(#keys, max_items)
    for i = 1, kshown do
      local k = keys[i]
      local save = #out
      emit(v[k], level + 1)
      local val = table.concat(out, "", save + 1)
      for j = #out, save + 1, -1 do out[j] = nil end
      local ktext = is_ident(k) and k or "[" .. scalar(k) .. "]"
      items[#items + 1] = ktext .. " = " .. val
    end
    if #keys > kshown then items[#items + 1] = string.format("... (%d more keys)", #keys - kshown) end
    path[v] = nil
    if #items == 0 then
      out[#out + 1] = "{}"
      return
    end
    local flat = "{ " .. table.concat(items, ", ") .. " }"
    if #flat + #indent * level <= width and not flat:find("\n") then
      out[#out + 1] = flat
    else
      local pad = indent:rep(level + 1)
      out[#out + 1] = "{\n" .. pad .. table.concat(items, ",\n" .. pad) .. "\n" .. indent:rep(level) .. "}"
    end
  end

  emit(value, 0)
  return table.concat(out)
end

-- M.print(...) prints each value formatted, tab-separated like print
function M.print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = M.format((select(i, ...))) end
  print(table.concat(parts, "\t"))
end

return M
