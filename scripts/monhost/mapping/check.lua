-- mapping/check.lua: what `monhost check` reports about mappings, each with
-- file:line: unknown source columns, unknown or read-only monday columns,
-- values that cannot fit their column's type, value-map labels the board's
-- status/dropdown column lacks, missing key columns. The compiler
-- (mapping/plan.lua) finds the structural problems; this adds the type and
-- label checks that need the board and the source column types.
local colvals = require "monhost.colvals"
local loader = require "monhost.mapping.loader"
local planmod = require "monhost.mapping.plan"
local source = require "monhost.mapping.source"

local M = {}

local function sqlkind(t)
  if t == nil then return nil end
  if source.is_int(t) then return "int" end
  local s = tostring(t):lower()
  if s:find("char") or s:find("text") or s:find("string") then return "text" end
  if s:find("timestamp") or s:find("datetime") or s == "date" or s:find("^date") then return "date" end
  if s:find("uniqueidentifier") or s:find("guid") or s:find("uuid") then return "uuid" end
  if s:find("decimal") or s:find("numeric") or s:find("float") or s:find("real") or s:find("double") or s:find("money") then return "number" end
  if s:find("bit") or s:find("bool") then return "bool" end
  return nil
end
M.sqlkind = sqlkind

-- source kind -> monday type -> "error" | "warning" message
local FIT = {
  date = { numbers = "error", checkbox = "error", email = "error", link = "error" },
  int = { date = "error", email = "error", link = "error" },
  number = { date = "error", checkbox = "error", email = "error", link = "error" },
  uuid = { numbers = "error", date = "error", checkbox = "error", email = "error", link = "error" },
  bool = { date = "error", numbers = "error", email = "error", link = "error" },
  text = { numbers = "warning", date = "warning", checkbox = "warning" },
}

-- Check one mapping; returns a list of {severity, file, line, message}.
function M.mapping(name, opts)
  local out = {}
  local function add(sev, at, msg)
    out[#out + 1] = { severity = sev, file = at and at.file or tostring(name), line = at and at.line, message = msg }
  end
  local spec, err = loader.load(name, opts)
  if not spec then
    local file, line, msg = tostring(err):match("^(.-):(%d+): (.*)$")
    add("error", { file = file or tostring(name), line = tonumber(line) }, msg or tostring(err))
    return out
  end
  local ok, plan = pcall(planmod.compile, spec, opts)
  if not ok then
    add("error", { file = spec.file }, tostring(plan))
    return out
  end
  for _, p in ipairs(plan.problems) do add(p.severity, p.at, p.message) end
  if #plan.key_columns == 0 then add("error", { file = spec.file }, "missing key columns") end

  local types = {}
  for _, c in ipairs(plan.source_columns or {}) do types[c.name] = c.type end
  for _, e in ipairs(plan.entries) do
    local ty = e.type == "color" and "status" or e.type
    local label = ("%s (%s, %s)"):format(e.id, e.title or "?", ty)
    -- source type against column type (a value map or cleaning can turn text into anything)
    if e.source and types[e.source] and not e.map and not e.clean then
      local k = sqlkind(types[e.source])
      local sev = k and FIT[k] and FIT[k][ty]
      if sev == "error" then
        add("error", e.at, ("'%s' is %s: it cannot fit monday column %s"):format(e.source, tostring(types[e.source]), label))
      elseif sev == "warning" then
        add("warning", e.at, ("'%s' is %s going into monday column %s: values that do not parse become per-record errors"):format(
          e.source, tostring(types[e.source]), label))
      end
    end
    -- constants, defaults and map results must format for the column
    local function try(v, at, what)
      if v == nil or v == false then return end
      local _, verr = colvals.value(ty, v)
      if verr then add("error", at, ("%s %s cannot go into monday column %s: %s"):format(what, string.format("%q", tostring(v)), label, verr)) end
    end
    try(e.const, e.at, "the constant")
    try(e.default, e.at, "the default")
    local labels = e.col and e.col.labels
    local set
    -- an empty list means the board did not say (a new dropdown), not "no labels"
    if labels and #labels > 0 and (ty == "status" or ty == "dropdown") then
      set = {}
      for _, l in ipairs(labels) do set[l] = true end
    end
    for from, to in pairs(e.map or {}) do
      local at = e.map_at and e.map_at[from] or e.at
      try(to, at, "the value-map result")
      if set and type(to) == "string" and not set[to] then
        add("error", at, ("value map '%s' -> '%s': monday column %s has no label '%s'"):format(from, to, label, to))
      end
    end
  end
  return out, plan
end

-- Expand paths (files or directories) into mapping files.
function M.files(paths)
  local sys = require "monhost.sys"
  local files = {}
  for _, p in ipairs(paths) do
    local st = sys.stat(p)
    if st and (st.type == "dir" or st.type == "directory") then
      local names = {}
      for _, f in ipairs(sys.listdir(p) or {}) do
        local n = type(f) == "table" and f.name or f
        if n:match("%.lua$") and n ~= "customers.lua" and not n:match("^_") then names[#names + 1] = n end
      end
      table.sort(names)
      for _, n in ipairs(names) do files[#files + 1] = p:gsub("/$", "") .. "/" .. n end
    else
      files[#files + 1] = p
    end
  end
  return files
end

return M
