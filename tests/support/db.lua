-- db.lua: fresh databases for specs that need one.
--   local db = require "db"
--   db.sqlite() -> connstr, path   (a new file under a private tmp dir)
--   db.postgres() -> connstr, name | raises with a clear message when the
--                    PostgreSQL test cluster cannot start (CI must have it)
--   db.each(fn): runs fn(kind, connstr) for "sqlite" and "postgres"
-- Files and the cluster are removed when the process exits (tests/support/pg.lua).
local sys = require "monhost.sys"
local pg = require "pg"

local M = {}
local dir
local seq = 0

local sentinel -- removes the SQLite files on exit
function M.sqlite()
  if not dir then
    dir = assert(sys.tmpdir("monhost-sqlite"))
    sentinel = setmetatable({}, { __gc = function() os.execute("rm -rf '" .. dir .. "'") end })
  end
  seq = seq + 1
  local path = string.format("%s/t%d.db", dir, seq)
  return "Driver=SQLite3;Database=" .. path, path
end

function M.postgres()
  local cs, name = pg.createdb()
  if not cs then
    error("PostgreSQL test cluster unavailable: " .. tostring(name) ..
      " (tests need postgresql-15 and odbc-postgresql; run make deps)", 2)
  end
  return cs, name
end

-- The kinds of database every ODBC spec runs against.
M.kinds = { "sqlite", "postgres" }
function M.fresh(kind)
  if kind == "sqlite" then return M.sqlite() end
  return M.postgres()
end

M.keep = function() return sentinel end
return M
