-- mapping/loader.lua: finds and reads mapping files, follows `extends`, and
-- returns one merged spec whose every entry knows its file:line (for check,
-- the REPL and error messages). Lua mappings run in an environment with the
-- helpers below; legacy YAML mappings go through mapping/legacy.lua.
local sys = require "monhost.sys"
local NULL = require("cjson").null

local M = {}

-- ---- helpers visible to mapping files -------------------------------------

local helpers = {}

-- nonempty(v): v unless it is nil, NULL or blank text
function helpers.nonempty(v)
  if v == nil or v == NULL then return nil end
  if type(v) == "string" and not v:find("%S") then return nil end
  return v
end

-- join(sep, ...): the non-empty values joined by sep
-- (runs per row in item names: no table, no pattern for plain text)
local nonempty = helpers.nonempty
function helpers.join(sep, ...)
  if sep == nil then sep = "" end -- as table.concat
  local out
  for i = 1, select("#", ...) do
    local v = nonempty((select(i, ...)))
    if v ~= nil then
      v = tostring(v)
      if out then out = out .. sep .. v else out = v end
    end
  end
  return out or ""
end

-- year(v): the year of a date value ("2025-05-20", {year=}) or nil
function helpers.year(v)
  if type(v) == "table" then return math.tointeger(v.year) end
  if type(v) == "string" then return math.tointeger(tonumber(v:match("^%s*(%d%d%d%d)"))) end
  return nil
end

M.helpers = helpers

local function env()
  local e = {}
  for k, v in pairs(helpers) do e[k] = v end
  e.NULL = NULL
  return setmetatable(e, { __index = _G })
end

-- ---- locating ---------------------------------------------------------------

local function exists(p) return p and sys.stat(p) ~= nil end

function M.dir(opts)
  if opts and opts.mappings_dir then return opts.mappings_dir end
  if exists("mappings") then return "mappings" end
  local lib = package.monhost and package.monhost.libdir
  if lib and exists(lib .. "/../mappings") then return lib .. "/../mappings" end
  return "mappings"
end

function M.list(dir)
  local names = {}
  for _, f in ipairs(sys.listdir(dir) or {}) do
    local n = type(f) == "table" and f.name or f
    local base = n:match("^(.-)%.lua$")
    if base and base ~= "default" and base ~= "customers" and not base:match("^_") then names[#names + 1] = base end
  end
  table.sort(names)
  return names
end

-- name -> path: "greyson" -> DIR/greyson.lua; a path (with / or an
-- extension) is used as given.
function M.resolve(name, opts, near)
  if name:find("/") or name:match("%.lua$") or name:match("%.ya?ml$") then
    if exists(name) then return name end
    if near and exists(near .. "/" .. name) then return near .. "/" .. name end
    return nil, "mapping file not found: " .. name
  end
  local tried = {}
  for _, d in ipairs { near or false, M.dir(opts) } do
    if d then
      local p = d .. "/" .. name .. ".lua"
      tried[#tried + 1] = p
      if exists(p) then return p end
    end
  end
  return nil, "no mapping '" .. name .. "' (looked for " .. table.concat(tried, ", ") .. ")"
end

-- ---- line numbers -------------------------------------------------------------

local function escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

-- Line of the first mention of `needle` as a quoted string or a `key =`,
-- at or after line `from`.
function M.locate(lines, needle, from)
  if not lines or type(needle) ~= "string" then return from end
  local q1, q2 = '"' .. needle .. '"', "'" .. needle .. "'"
  local word = "%f[%w_]" .. escape(needle) .. "%s*="
  for i = from or 1, #lines do
    local l = lines[i]
    if l:find(q1, 1, true) or l:find(q2, 1, true) or l:find(word) then return i end
  end
  if from and from > 1 then return M.locate(lines, needle, 1) end
  return nil
end

local function split_lines(text)
  local t = {}
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

local function fn_line(f)
  local info = debug.getinfo(f, "S")
  return info and info.linedefined
end

-- ---- reading one file into a partial spec -------------------------------------

local TOP_KEYS = {
  extends = true, name = true, source = true, board = true, subitem_board = true, key = true,
  customer = true, customers = true, customer_column = true, aliases = true, where = true,
  filter = true, clean = true, defaults = true, columns = true, item_name = true, group = true,
  subitems = true, uses = true, description = true, empty = true,
  changes = true, -- update rules (docs/changes.md)
}

-- Normalise a mapping table (as returned by the file) into a partial spec
-- with `at` = {file=, line=} on each entry.
function M.normalise(t, file, lines)
  local function at(needle, from, f)
    local line = (f and fn_line(f)) or M.locate(lines, needle, from)
    return { file = file, line = line }
  end
  local p = { file = file, problems = {}, clean = {}, defaults = {}, columns = {} }
  for k in pairs(t) do
    if not TOP_KEYS[k] then
      p.problems[#p.problems + 1] = { at = at(tostring(k)), severity = "error",
        message = "unknown mapping field '" .. tostring(k) .. "'" }
    end
  end
  for _, k in ipairs { "extends", "name", "source", "board", "subitem_board", "customer", "customers",
    "customer_column", "aliases", "description", "empty", "uses", "changes" } do
    if t[k] ~= nil then p[k] = t[k]; p[k .. "_at"] = at(k) end
  end
  if t.key ~= nil then p.key = t.key; p.key_at = at("key") end
  if type(t.filter) == "function" then p.filter = { fn = t.filter, at = at("filter", nil, t.filter) }
  elseif type(t.filter) == "string" then p.where = t.filter; p.where_at = at("filter")
  elseif t.filter ~= nil then p.filter = false end
  if type(t.where) == "string" or t.where == false then p.where = t.where; p.where_at = at("where") end
  for _, k in ipairs { "item_name", "group" } do
    local v = t[k]
    if type(v) == "function" then p[k] = { fn = v, at = at(k, nil, v) }
    elseif type(v) == "string" then p[k] = { template = v, at = at(k) }
    elseif v ~= nil then
      p.problems[#p.problems + 1] = { at = at(k), severity = "error", message = k .. " must be a function or a string" }
    end
  end
  local sect = {}
  for _, s in ipairs { "clean", "defaults", "columns" } do
    if t[s] ~= nil and type(t[s]) ~= "table" then
      p.problems[#p.problems + 1] = { at = at(s), severity = "error", message = s .. " must be a table" }
    else
      sect[s] = t[s] or {}
    end
  end
  local base_line = {}
  for _, s in ipairs { "clean", "defaults", "columns" } do base_line[s] = M.locate(lines, s) or 1 end
  for col, v in pairs(sect.clean or {}) do
    p.clean[col] = v == false and false or { rule = v, at = at(col, base_line.clean, type(v) == "function" and v or nil) }
  end
  for col, v in pairs(sect.defaults or {}) do
    p.defaults[col] = { value = v, at = at(col, base_line.defaults) }
  end
  for target, v in pairs(sect.columns or {}) do
    if v == false then
      p.columns[target] = false
    else
      local e = { at = at(target, base_line.columns, type(v) == "function" and v or nil), target = target }
      if type(v) == "string" then e.source = v
      elseif type(v) == "function" then e.fn = v
      elseif type(v) == "table" then
        e.source = v[1] or v.source
        e.fn = type(v.value) == "function" and v.value or (type(v[1]) == "function" and v[1]) or nil
        if e.fn then e.source = nil; e.at.line = fn_line(e.fn) or e.at.line end
        if v.value ~= nil and type(v.value) ~= "function" then e.const = v.value end
        e.map, e.default, e.clean = v.map, v.default, v.clean
        if e.map ~= nil and type(e.map) ~= "table" then
          p.problems[#p.problems + 1] = { at = e.at, severity = "error", message = "columns." .. target .. ": map must be a table" }
          e.map = nil
        end
        if e.map then
          e.map_at = {}
          for k in pairs(e.map) do e.map_at[k] = { file = file, line = M.locate(lines, tostring(k), e.at.line) } end
        end
      elseif type(v) == "number" or type(v) == "boolean" then
        e.const = v
      else
        p.problems[#p.problems + 1] = { at = e.at, severity = "error",
          message = "columns." .. tostring(target) .. ": expected a source column name, a function or a table" }
      end
      p.columns[target] = e
    end
  end
  if t.subitems == false then p.subitems = false
  elseif type(t.subitems) == "table" then
    local s = {}
    for k, v in pairs(t.subitems) do s[k] = v end
    s.at = at("subitems")
    if type(s.name) == "function" then s.name_at = { file = file, line = fn_line(s.name) } end
    p.subitems = s
  end
  return p
end

-- Read a Lua mapping file -> partial spec (or nil, err with file:line).
local function read_lua(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local chunk, lerr = load(text, "@" .. path, "t", env())
  if not chunk then return nil, lerr end
  local ok, t = xpcall(chunk, function(e) return tostring(e) end)
  if not ok then return nil, t end
  if type(t) ~= "table" then return nil, path .. ":1: a mapping file must return a table" end
  return M.normalise(t, path, split_lines(text))
end

-- ---- merging ---------------------------------------------------------------

local function merge(base, child)
  local out = {}
  for k, v in pairs(base) do out[k] = v end
  for k, v in pairs(child) do
    if k == "clean" or k == "defaults" or k == "columns" then
      local m = {}
      for ck, cv in pairs(base[k] or {}) do m[ck] = cv end
      for ck, cv in pairs(v) do m[ck] = cv end
      out[k] = m
    elseif k == "subitems" and type(v) == "table" and type(base.subitems) == "table" then
      local m = {}
      for sk, sv in pairs(base.subitems) do m[sk] = sv end
      for sk, sv in pairs(v) do m[sk] = sv end
      out.subitems = m
    elseif k == "problems" then
      local m = {}
      for _, pr in ipairs(base.problems or {}) do m[#m + 1] = pr end
      for _, pr in ipairs(v) do m[#m + 1] = pr end
      out.problems = m
    else
      out[k] = v
    end
  end
  return out
end

local function read_any(path, opts)
  if path:match("%.ya?ml$") then
    return require("monhost.mapping.legacy").spec(path, opts)
  end
  return read_lua(path)
end

-- load(name_or_path, opts) -> merged spec or nil, err
function M.load(name, opts, seen, near)
  opts = opts or {}
  seen = seen or {}
  if type(name) == "table" then -- an in-memory mapping table (tests, REPL)
    local p = M.normalise(name, "(table)", nil)
    if p.extends then
      local base, err = M.load(p.extends, opts, seen, near)
      if not base then return nil, err end
      p = merge(base, p)
    end
    p.name = p.name or "table"
    return p
  end
  local path, err = M.resolve(name, opts, near)
  if not path then return nil, err end
  if seen[path] then return nil, path .. ": extends itself (through " .. table.concat(seen, " -> ") .. ")" end
  seen[path] = true
  seen[#seen + 1] = path
  local p, rerr = read_any(path, opts)
  if not p then return nil, rerr end
  local dir = path:match("^(.*)/[^/]*$") or "."
  if p.extends then
    local base, berr = M.load(p.extends, opts, seen, dir)
    if not base then return nil, path .. ": extends " .. tostring(p.extends) .. ": " .. berr end
    local files = { table.unpack(base.files or {}) }
    p = merge(base, p)
    files[#files + 1] = path
    p.files = files
  else
    p.files = { path }
  end
  p.file = path
  p.dir = dir
  local base_name = path:match("([^/]+)%.%w+$")
  p.name = (p.file == path and p.name_at and p.name_at.file == path and p.name) or base_name
  return p
end

return M
