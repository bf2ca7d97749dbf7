-- graphql_reference.lua: the request body graphql.lua used to build in Lua
-- (string concatenation + native.encode), kept as the reference that the C
-- builder (native.prepare/native.build) must match byte for byte.
local native = require "monhost.graphql_native"

local M = {}

local CX_FIELD = "mh_complexity:complexity{query before after reset_in_x_seconds}"

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- ops: caller ops {field=, args=, select=}; types: {field = {arg = "Type"}}
function M.body(ops, types)
  local defs, parts, vars = {}, {}, {}
  for k, op in ipairs(ops) do
    local ft = types[op.field]
    local argl = {}
    for _, a in ipairs(sorted_keys(ft)) do
      local v = op.args[a]
      if v ~= nil then
        if (ft[a] == "JSON" or ft[a] == "JSON!") and type(v) == "table" then v = native.encode(v) end
        local vn = a .. "_" .. k
        defs[#defs + 1] = "$" .. vn .. ":" .. ft[a]
        argl[#argl + 1] = a .. ":$" .. vn
        vars[vn] = v
      end
    end
    local sel = op.select
    if sel == nil then sel = "id" end
    parts[k] = "op" .. k .. ":" .. op.field .. "(" .. table.concat(argl, ",") .. ")" ..
      (sel and ("{" .. sel .. "}") or "")
  end
  local doc = "mutation(" .. table.concat(defs, ",") .. "){\n" .. table.concat(parts, "\n") ..
    "\n" .. CX_FIELD .. "}"
  return native.encode({ query = doc, variables = vars })
end

return M
