-- sql_spec.lua: the DDL in sql/ and `monhost db`: statement splitting,
-- the SQL Server text (checked as text: no server here), ORDERS_UNIFIED
-- generated from the column list, and db init on SQLite: creates, is
-- idempotent, upgrades from an older version.
local schema = require "monhost.pipeline.schema"
local dbcmd = require "monhost.cmd.db"
local odbc = require "monhost.odbc"
local sys = require "monhost.sys"

local TSV = "../shared/reference/legacy-pipeline/orders_unified_columns.tsv"
local TABLES = { "STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems", "MON_SyncState",
  "MON_SyncState_Subitems", "MON_BatchProcessing", "MON_BoardLock" }

describe("sql files", function()
  it("every dialect has the same versions", function()
    local v = {}
    for d in pairs(schema.DIALECTS) do
      local list = {}
      for _, m in ipairs(schema.migrations(d)) do list[#list + 1] = m.version end
      v[d] = list
      ok(#list >= 1, d .. " has migrations")
    end
    eq(v.sqlserver, v.sqlite)
    eq(v.postgres, v.sqlite)
  end)

  it("split: statements end with ';' at line end, comment lines dropped", function()
    eq(schema.split("-- c\nCREATE TABLE a (x INT);\n\nCREATE INDEX i\n  ON a (x);\n"),
      { "CREATE TABLE a (x INT)", "CREATE INDEX i\n  ON a (x)" })
  end)

  it("every dialect creates every table and each statement is idempotent", function()
    for d in pairs(schema.DIALECTS) do
      local text = table.concat(schema.statements(d, 1), "\n")
      for _, t in ipairs(TABLES) do
        local head = d == "sqlserver" and "CREATE TABLE " or "CREATE TABLE IF NOT EXISTS "
        ok(text:find(head .. t .. " (", 1, true), d .. ": " .. t)
      end
      for _, s in ipairs(schema.statements(d, 1)) do
        if d == "sqlserver" then
          ok(s:match("^IF OBJECT_ID%(N'[%w_]+', N'U'%) IS NULL\nCREATE TABLE") or s:match("^IF NOT EXISTS %(SELECT 1 FROM sys%.indexes"),
            "guarded: " .. s:sub(1, 60))
        else
          ok(s:match("IF NOT EXISTS"), "guarded: " .. s:sub(1, 60))
        end
      end
    end
  end)

  it("SQL Server text: T-SQL types, no dialect leaks, index keys within 1700/900 bytes", function()
    local text = dbcmd.sql_text("sqlserver")
    ok(not text:find("AUTOINCREMENT", 1, true), "no SQLite AUTOINCREMENT")
    ok(not text:find("GENERATED", 1, true), "no PostgreSQL identity")
    ok(not text:find(" TEXT", 1, true), "no TEXT type (deprecated in SQL Server)")
    ok(not text:find("IF NOT EXISTS MON", 1, true) and not text:find("TABLE IF NOT EXISTS", 1, true), "no CREATE ... IF NOT EXISTS")
    ok(not text:find("\nGO\n", 1, true), "no GO batches")
    matches(text, "BIGINT IDENTITY%(1,1%) PRIMARY KEY")
    -- every key column of the primary keys and indexes is bounded
    for _, s in ipairs(schema.statements("sqlserver", 1)) do
      local cols = {}
      for name, len in s:gmatch("\n%s+([%w_]+)%s+NVARCHAR%((%w+)%)") do cols[name] = len end
      local function bytes(list)
        local n = 0
        for c in list:gmatch("[%w_]+") do
          local len = cols[c]
          ok(len ~= "MAX", "index on NVARCHAR(MAX) column " .. c)
          n = n + 2 * (tonumber(len) or 4)
        end
        return n
      end
      local pk = s:match("PRIMARY KEY %(([^)]+)%)")
      if pk then ok(bytes(pk) <= 900, "clustered key under 900 bytes: " .. pk) end
    end
    local all = table.concat(schema.statements("sqlserver", 1), "\n")
    local widths = {}
    for name, len in all:gmatch("\n%s+([%w_]+)%s+NVARCHAR%((%d+)%)") do widths[name] = math.max(widths[name] or 0, tonumber(len)) end
    for cols in all:gmatch("CREATE [%w ]*INDEX [%w_]+ ON [%w_]+ %(([^)]+)%)") do
      local n = 0
      for c in cols:gmatch("[%w_]+") do n = n + 2 * (widths[c] or 4) end
      ok(n <= 1700, "nonclustered index key under 1700 bytes: " .. cols)
    end
  end)

  it("ORDERS_UNIFIED DDL from the column list: 268 columns quoted per dialect", function()
    local cols = assert(schema.read_columns_tsv(TSV))
    eq(#cols, 268)
    local ss = schema.orders_unified_ddl("sqlserver", cols)
    matches(ss, "^IF OBJECT_ID%(N'ORDERS_UNIFIED', N'U'%) IS NULL\nCREATE TABLE %[ORDERS_UNIFIED%]")
    ok(ss:find("[CUSTOMER'S COLOUR CODE (CUSTOM FIELD) CUSTOMER PROVIDES THIS] NVARCHAR(MAX)", 1, true), "apostrophe column")
    ok(ss:find("[record_uuid] UNIQUEIDENTIFIER", 1, true), "uuid")
    local pg = schema.orders_unified_ddl("postgres", cols)
    ok(pg:find('"PROMO GROUP / CAMPAIGN (HOT 30/GLOBAL EDIT" TEXT', 1, true), "unclosed parenthesis column")
    ok(pg:find('"0w" INTEGER', 1, true), "mixed-case column quoted")
    ok(pg:find('"record_uuid" UUID', 1, true), "uuid type")
    local n = 0
    for _ in pg:gmatch('\n  "') do n = n + 1 end
    eq(n, 268)
    raises(function() schema.orders_unified_ddl("sqlite", { { name = "x", type = "XML" } }) end, "unsupported type")
  end)

  it("db sql prints the version bookkeeping and the ORDERS_UNIFIED table", function()
    local text = dbcmd.sql_text("postgres", TSV)
    matches(text, "CREATE TABLE IF NOT EXISTS MON_SchemaVersion")
    matches(text, "INSERT INTO MON_SchemaVersion %(version, name, applied_at%) VALUES %(1, '001_monhost.sql'")
    matches(text, "CREATE TABLE IF NOT EXISTS \"ORDERS_UNIFIED\"")
  end)
end)

describe("db init (SQLite)", function()
  local dir, path, db
  before_each(function()
    dir = sys.tmpdir("mhsql")
    path = dir .. "/t.db"
    db = assert(odbc.connect("Driver=SQLite3;Database=" .. path))
  end)
  after_each(function()
    db:close()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("creates every table and records the newest version", function()
    local r = assert(schema.init(db))
    eq(r.from, 0)
    eq(r.to, schema.latest("sqlite"))
    for _, t in ipairs(TABLES) do
      eq(tonumber(db:first("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", t)[1]), 1, t)
    end
    eq(schema.current(db), schema.latest("sqlite"))
  end)

  it("is idempotent and upgrades from an older version", function()
    assert(schema.init(db))
    local again = assert(schema.init(db))
    eq(again.applied, {})
    -- pretend only version 1 was applied: init applies the rest, tables intact
    db:exec("INSERT INTO MON_BoardLock (board_id, holder, acquired_at, heartbeat_at) VALUES ('1', 'x', 'a', 'b')")
    db:exec("DELETE FROM MON_SchemaVersion WHERE version > 1")
    local up = assert(schema.init(db))
    eq(up.from, 1)
    eq(up.to, schema.latest("sqlite"))
    eq(tonumber(db:first("SELECT COUNT(*) FROM MON_BoardLock")[1]), 1)
  end)

  it("monhost db init creates ORDERS_UNIFIED from --orders-unified and reports the version", function()
    local out = dir .. "/out"
    local pid = sys.spawn({ os.getenv("MONHOST_BIN") or "./monhost", "db", "init", "--database", "Driver=SQLite3;Database=" .. path,
      "--orders-unified", TSV }, { stdout = out, stderr = out })
    local how, code = sys.wait(pid)
    local f = io.open(out); local text = f:read("a"); f:close()
    eq({ how, code }, { "exit", 0 }, text)
    matches(text, "ORDERS_UNIFIED ready %(268 columns%)")
    local cur = assert(db:query('SELECT * FROM "ORDERS_UNIFIED" WHERE 1 = 0'))
    eq(#cur:columns(), 268)
    cur:close()
  end)
end)
