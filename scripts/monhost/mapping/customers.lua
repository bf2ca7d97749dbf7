-- mapping/customers.lua: canonical customer names. The alias table is a Lua
-- file (mappings/customers.lua: canonical = {aliases...}) or the legacy
-- customer_mapping.yaml (customers: [{canonical, aliases, master_order_list}]).
-- Matching is on the trimmed, upper-cased raw CUSTOMER NAME; a name that is
-- in no list is its own canonical name (trimmed), as in the legacy code.
local yaml = require "monhost.yaml"

local M = {}

local function key(s)
  return (tostring(s):gsub("^%s+", ""):gsub("%s+$", ""):upper())
end

-- From {canonical = {aliases}} build the canonicaliser.
function M.new(aliases, source)
  local c = { aliases = {}, lookup = {}, source = source, conflicts = {} }
  local names = {}
  for canon in pairs(aliases) do names[#names + 1] = canon end
  table.sort(names) -- deterministic conflict resolution: first canonical wins
  for _, canon in ipairs(names) do
    local list = { canon }
    for _, a in ipairs(aliases[canon]) do if a ~= canon then list[#list + 1] = a end end
    c.aliases[canon] = list
    for _, a in ipairs(list) do
      local k = key(a)
      if c.lookup[k] and c.lookup[k] ~= canon then
        c.conflicts[#c.conflicts + 1] = { alias = a, canonical = canon, kept = c.lookup[k] }
      else
        c.lookup[k] = canon
      end
    end
  end
  -- raw names repeat on every row of a customer: remember the answers
  local memo, nmemo = {}, 0
  return setmetatable(c, { __call = function(self, raw)
    if raw == nil or raw == yaml.null then return nil end
    local hit = memo[raw]
    if hit ~= nil then return hit or nil end
    local k = key(raw)
    local res = k ~= "" and (self.lookup[k] or (tostring(raw):gsub("^%s+", ""):gsub("%s+$", ""))) or false
    if nmemo < 4096 then memo[raw] = res; nmemo = nmemo + 1 end
    return res or nil
  end })
end

-- The legacy YAML document -> {canonical = {aliases}}.
function M.from_yaml_doc(doc)
  local out = {}
  for _, e in ipairs(doc.customers or {}) do
    if type(e) == "table" and type(e.canonical) == "string" then
      local list, seen = {}, {}
      local function add(v)
        if type(v) == "string" and v ~= "" and not seen[v] then seen[v] = true; list[#list + 1] = v end
      end
      add(e.canonical)
      for _, a in ipairs(type(e.aliases) == "table" and e.aliases or {}) do add(a) end
      -- the legacy lookup matched the master order list names too
      if type(e.master_order_list) == "table" then for _, a in ipairs(e.master_order_list) do add(a) end
      else add(e.master_order_list) end
      out[e.canonical] = list
    end
  end
  return out
end

-- load(path.yaml | path.lua | table) -> canonicaliser or nil, err
function M.load(x)
  if type(x) == "table" then
    if getmetatable(x) and x.lookup then return x end
    return M.new(x, "table")
  end
  if type(x) ~= "string" then return nil, "customers: expected a path or a table" end
  if x:match("%.ya?ml$") then
    local doc, err = yaml.load_file(x)
    if not doc then return nil, err end
    return M.new(M.from_yaml_doc(doc), x)
  end
  local chunk, err = loadfile(x, "t", {})
  if not chunk then return nil, err end
  local ok, t = pcall(chunk)
  if not ok then return nil, tostring(t) end
  if type(t) ~= "table" then return nil, x .. ": must return a table {canonical = {aliases}}" end
  return M.new(t, x)
end

return M
