-- pipeline/schema.lua: monhost's own tables (staging, sync state, batch log,
-- board lock) and their version. The DDL lives in sql/<dialect>/NNN_*.sql,
-- one file per schema version; `monhost db init` applies the files newer
-- than the version recorded in MON_SchemaVersion, each in a transaction, so
-- running it twice changes nothing and a newer monhost upgrades in place.
-- ORDERS_UNIFIED is the user's table: its DDL is generated here from the
-- column list (the TSV of ordinal, name, SQL Server type) only when asked,
-- for demos and tests; it is never part of the versioned schema.
local M = {}

M.DIALECTS = { sqlserver = true, postgres = true, sqlite = true }

local function sqldir()
  local lib = package.monhost and package.monhost.libdir or "scripts"
  return lib .. "/../sql"
end
M.sqldir = sqldir

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- Migrations for a dialect: { {version=1, name="001_monhost.sql", path=...}, ... }
function M.migrations(dialect, dir)
  assert(M.DIALECTS[dialect], "unknown dialect " .. tostring(dialect))
  dir = (dir or sqldir()) .. "/" .. dialect
  local list = {}
  local sys = require "monhost.sys"
  for _, name in ipairs(sys.listdir(dir) or {}) do
    local v = name:match("^(%d+)_.*%.sql$")
    if v then list[#list + 1] = { version = tonumber(v), name = name, path = dir .. "/" .. name } end
  end
  table.sort(list, function(a, b) return a.version < b.version end)
  return list
end

-- The newest schema version this monhost knows.
function M.latest(dialect, dir)
  local list = M.migrations(dialect, dir)
  return list[#list] and list[#list].version or 0
end

-- Split a DDL file into statements: a statement ends with ';' at the end of
-- a line; '--' comment lines are dropped.
function M.split(text)
  local out, cur = {}, {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if not line:match("^%s*%-%-") and line:match("%S") then
      cur[#cur + 1] = line
      if line:match(";%s*$") then
        local stmt = table.concat(cur, "\n"):gsub(";%s*$", "")
        out[#out + 1] = stmt
        cur = {}
      end
    end
  end
  if #cur > 0 then out[#out + 1] = table.concat(cur, "\n") end
  return out
end

function M.statements(dialect, version, dir)
  for _, m in ipairs(M.migrations(dialect, dir)) do
    if m.version == version then return M.split(assert(read(m.path))) end
  end
  error("no migration " .. tostring(version) .. " for " .. dialect)
end

-- The version table itself is created before anything else (bootstrap).
local VERSION_DDL = {
  sqlite = "CREATE TABLE IF NOT EXISTS MON_SchemaVersion (version INTEGER NOT NULL PRIMARY KEY, "
    .. "name VARCHAR(200) NOT NULL, applied_at VARCHAR(32) NOT NULL)",
  postgres = "CREATE TABLE IF NOT EXISTS MON_SchemaVersion (version INTEGER NOT NULL PRIMARY KEY, "
    .. "name VARCHAR(200) NOT NULL, applied_at VARCHAR(32) NOT NULL)",
  sqlserver = "IF OBJECT_ID(N'MON_SchemaVersion', N'U') IS NULL\nCREATE TABLE MON_SchemaVersion "
    .. "(version INT NOT NULL PRIMARY KEY, name NVARCHAR(200) NOT NULL, applied_at NVARCHAR(32) NOT NULL)",
}
function M.version_ddl(dialect) return assert(VERSION_DDL[dialect], "unknown dialect") end

function M.now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

-- Current version recorded in the database (0 when never initialised).
function M.current(db)
  local ok, v = pcall(function()
    for row in db:rows("SELECT MAX(version) FROM MON_SchemaVersion") do return row[1] end
  end)
  if not ok then return 0 end
  v = tonumber(v)
  return v or 0
end

-- SQLite has no ADD COLUMN IF NOT EXISTS: its migrations' ALTER TABLE ...
-- ADD COLUMN statements are skipped when the column is there already, so
-- every migration stays idempotent like the other dialects'.
function M.has_added_column(db, stmt)
  if db.dialect ~= "sqlite" then return false end
  local t, c = stmt:match("^%s*ALTER%s+TABLE%s+([%w_]+)%s+ADD%s+COLUMN%s+([%w_]+)")
  if not t then return false end
  local r = db:first("SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?", t, c)
  return tonumber(r and r[1]) == 1
end

-- Create or upgrade. Returns { from=, to=, applied={versions...} } or nil, err.
function M.init(db, opts)
  opts = opts or {}
  local dialect = db.dialect
  if not M.DIALECTS[dialect] then return nil, "unsupported database dialect " .. tostring(dialect) end
  db = require("monhost.pipeline.common").strict(db)
  local ok, err = pcall(db.exec, db, M.version_ddl(dialect))
  if not ok then return nil, "creating MON_SchemaVersion: " .. tostring(err) end
  local from = M.current(db)
  local applied = {}
  for _, m in ipairs(M.migrations(dialect, opts.dir)) do
    if m.version > from then
      local stmts = M.split(assert(read(m.path)))
      local ok, e = pcall(db.transaction, db, function()
        for _, s in ipairs(stmts) do
          if not M.has_added_column(db, s) then db:exec(s) end
        end
        db:exec("INSERT INTO MON_SchemaVersion (version, name, applied_at) VALUES (?, ?, ?)",
          m.version, m.name, M.now())
      end)
      if not ok then return nil, ("applying %s: %s"):format(m.name, tostring(e)) end
      applied[#applied + 1] = m.version
    end
  end
  return { from = from, to = math.max(from, applied[#applied] or 0), applied = applied }
end

-- ORDERS_UNIFIED ------------------------------------------------------------

-- Column list from the TSV (ordinal, column, type): { {ordinal=, name=, type=} }
function M.read_columns_tsv(path)
  local text, err = read(path)
  if not text then return nil, err end
  local cols = {}
  for line in text:gmatch("[^\r\n]+") do
    local ord, name, typ = line:match("^(%d+)\t([^\t]+)\t([^\t]+)$")
    if ord then cols[#cols + 1] = { ordinal = tonumber(ord), name = name, type = typ } end
  end
  table.sort(cols, function(a, b) return a.ordinal < b.ordinal end)
  if #cols == 0 then return nil, path .. ": no columns (expected ordinal<TAB>column<TAB>type lines)" end
  return cols
end

local TYPES = {
  sqlserver = { ["NVARCHAR(MAX)"] = "NVARCHAR(MAX)", INT = "INT", DATE = "DATE", UNIQUEIDENTIFIER = "UNIQUEIDENTIFIER" },
  postgres = { ["NVARCHAR(MAX)"] = "TEXT", INT = "INTEGER", DATE = "DATE", UNIQUEIDENTIFIER = "UUID" },
  sqlite = { ["NVARCHAR(MAX)"] = "TEXT", INT = "INTEGER", DATE = "DATE", UNIQUEIDENTIFIER = "TEXT" },
}

-- Identifier quoting without a connection (db:quote_ident does the same).
function M.quote(dialect, name)
  if dialect == "sqlserver" then return "[" .. name:gsub("%]", "]]") .. "]" end
  return '"' .. name:gsub('"', '""') .. '"'
end

-- CREATE TABLE for ORDERS_UNIFIED in a dialect, from the TSV columns.
function M.orders_unified_ddl(dialect, cols, table_name)
  local types = assert(TYPES[dialect], "unknown dialect")
  table_name = table_name or "ORDERS_UNIFIED"
  local lines = {}
  for i, c in ipairs(cols) do
    local t = types[c.type:upper()]
    if not t then error(("column %q: unsupported type %s"):format(c.name, c.type)) end
    lines[i] = "  " .. M.quote(dialect, c.name) .. " " .. t
  end
  local head
  if dialect == "sqlserver" then
    head = ("IF OBJECT_ID(N'%s', N'U') IS NULL\nCREATE TABLE %s (\n"):format(table_name:gsub("'", "''"), M.quote(dialect, table_name))
  else
    head = ("CREATE TABLE IF NOT EXISTS %s (\n"):format(M.quote(dialect, table_name))
  end
  return head .. table.concat(lines, ",\n") .. "\n)"
end

return M
