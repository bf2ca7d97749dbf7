-- cmd/db.lua: `monhost db`, the database side of the sync.
--   monhost db init [--config FILE] [--database CONNSTR] [--orders-unified TSV]
--       create or upgrade monhost's tables (staging, sync state, batch log,
--       board lock; sql/<dialect>/NNN_*.sql) to the newest schema version,
--       idempotently. --orders-unified also creates ORDERS_UNIFIED from a
--       column list (ordinal<TAB>name<TAB>type) if it does not exist: for
--       demos and tests; real installations already have it.
--   monhost db sql --dialect sqlserver|postgres|sqlite [--orders-unified TSV]
--       print the DDL db init would run, without a database (review it, or
--       hand it to a DBA for SQL Server).
--   monhost db version [--config FILE] [--database CONNSTR]
local schema = require "monhost.pipeline.schema"

local M = {}

local USAGE = [==[
usage: monhost db init    [--config FILE] [--database CONNSTR] [--orders-unified TSV]
       monhost db sql     --dialect sqlserver|postgres|sqlite [--orders-unified TSV]
       monhost db version [--config FILE] [--database CONNSTR]]==]

local function parse(args)
  local o = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local function val() i = i + 1; return args[i] or error(a .. " needs a value", 0) end
    if a == "--config" then o.config = val()
    elseif a == "--database" then o.database = val()
    elseif a == "--orders-unified" then o.orders_unified = val()
    elseif a == "--dialect" then o.dialect = val()
    else error("unknown option " .. a, 0) end
    i = i + 1
  end
  return o
end

local function connect(o)
  local cs = o.database
  if not cs then
    local config = require "monhost.config"
    local cfg = assert(config.load(o.config))
    cs = assert(config.connstr(cfg))
  end
  local db, msg, state = require("monhost.odbc").connect(cs)
  if not db then error(("database: %s%s"):format(tostring(msg), state and (" [" .. state .. "]") or ""), 0) end
  return db
end

-- The whole DDL text for a dialect (what `db sql` prints).
function M.sql_text(dialect, orders_tsv)
  local out = { "-- monhost schema for " .. dialect .. " (version " .. schema.latest(dialect) .. ")" }
  out[#out + 1] = schema.version_ddl(dialect) .. ";"
  for _, m in ipairs(schema.migrations(dialect)) do
    out[#out + 1] = "-- " .. m.name
    for _, s in ipairs(schema.statements(dialect, m.version)) do out[#out + 1] = s .. ";" end
    out[#out + 1] = ("INSERT INTO MON_SchemaVersion (version, name, applied_at) VALUES (%d, '%s', '<now>');"):format(m.version, m.name)
  end
  if orders_tsv then
    local cols = assert(schema.read_columns_tsv(orders_tsv))
    out[#out + 1] = "-- ORDERS_UNIFIED (" .. #cols .. " columns from " .. orders_tsv .. ")"
    out[#out + 1] = schema.orders_unified_ddl(dialect, cols) .. ";"
  end
  return table.concat(out, "\n") .. "\n"
end

local function run(cmd, o)
  if cmd == "sql" then
    if not o.dialect or not schema.DIALECTS[o.dialect] then error("--dialect sqlserver|postgres|sqlite needed", 0) end
    io.stdout:write(M.sql_text(o.dialect, o.orders_unified))
    return 0
  end
  local db = connect(o)
  if cmd == "version" then
    print(("schema version %d (this monhost: %d)"):format(schema.current(db), schema.latest(db.dialect)))
    db:close()
    return 0
  end
  local res, err = schema.init(db)
  if not res then db:close(); error(err, 0) end
  if #res.applied == 0 then
    print(("schema is up to date (version %d, %s)"):format(res.to, db.dialect))
  else
    print(("schema upgraded from version %d to %d (%s)"):format(res.from, res.to, db.dialect))
  end
  if o.orders_unified then
    local cols = assert(schema.read_columns_tsv(o.orders_unified))
    local ok, msg = db:exec(schema.orders_unified_ddl(db.dialect, cols))
    if not ok then db:close(); error("creating ORDERS_UNIFIED: " .. tostring(msg), 0) end
    print(("ORDERS_UNIFIED ready (%d columns)"):format(#cols))
  end
  db:close()
  return 0
end

function M.main(cmd, ...)
  local args = { ... }
  if cmd == nil or cmd == "-h" or cmd == "--help" then print(USAGE); return cmd and 0 or 1 end
  if cmd ~= "init" and cmd ~= "sql" and cmd ~= "version" then
    io.stderr:write("monhost db: unknown command ", tostring(cmd), "\n", USAGE, "\n")
    return 1
  end
  local ok, res = pcall(function() return run(cmd, parse(args)) end)
  if not ok then io.stderr:write("monhost db: ", tostring(res), "\n"); return 1 end
  return res
end

return M
