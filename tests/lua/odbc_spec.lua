-- monhost.odbc on real SQLite (libsqliteodbc) and PostgreSQL 15 (psqlODBC),
-- plus the SQL text generated for SQL Server, checked without a server.
local odbc = require "monhost.odbc"
local dbs = require "db"
local null = odbc.null

describe("SQL generation (no server)", function()
  it("quotes identifiers per dialect, doubling the closing quote", function()
    eq(odbc.quote_ident("sqlserver", "AAG ORDER NUMBER"), "[AAG ORDER NUMBER]")
    eq(odbc.quote_ident("sqlserver", "a]b"), "[a]]b]")
    eq(odbc.quote_ident("postgres", 'say "hi"'), '"say ""hi"""')
    eq(odbc.quote_ident("sqlite", "RANGE / COLLECTION"), '"RANGE / COLLECTION"')
    eq(odbc.quote_ident("sqlserver", "dbo.ORDERS_UNIFIED", { qualified = true }), "[dbo].[ORDERS_UNIFIED]")
    eq(odbc.quote_ident("postgres", { "stg", "MON_BatchProcessing" }), '"stg"."MON_BatchProcessing"')
    raises(function() odbc.quote_ident("oracle", "x") end, "unknown dialect")
    raises(function() odbc.quote_ident("postgres", "") end, "non%-empty")
  end)

  it("builds a SQL Server multi-row INSERT with OUTPUT INSERTED", function()
    local sql, n = odbc.build_insert("sqlserver", "STG_MON_CustMasterSchedule", { "AAG ORDER NUMBER", "QTY" }, 3,
      { returning = "stg_id" })
    eq(sql, "INSERT INTO [STG_MON_CustMasterSchedule] ([AAG ORDER NUMBER], [QTY]) OUTPUT INSERTED.[stg_id] "
      .. "VALUES (?,?),(?,?),(?,?)")
    eq(n, 6)
  end)

  it("builds RETURNING for PostgreSQL and SQLite", function()
    local sql = odbc.build_insert("postgres", "s.t", { "a" }, 2, { returning = "id" })
    eq(sql, 'INSERT INTO "s"."t" ("a") VALUES (?),(?) RETURNING "id"')
    eq((odbc.build_insert("sqlite", "t", { "a", "b" }, 1)), 'INSERT INTO "t" ("a", "b") VALUES (?,?)')
  end)

  it("sizes SQL Server batches by the 2,100-parameter and 1,000-row limits", function()
    local k12 = odbc.rows_per_statement("sqlserver", 12)
    eq(k12, 174) -- 174 * 12 = 2088 <= 2099 < 175 * 12
    local _, n = odbc.build_insert("sqlserver", "t", { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l" }, k12)
    ok(n <= 2100 and n + 12 > 2099, "parameter count at the limit: " .. n)
    eq(odbc.rows_per_statement("sqlserver", 1), 1000)
    eq(odbc.rows_per_statement("sqlserver", 2), 1000)
    eq(odbc.rows_per_statement("sqlserver", 3), 699)
    raises(function() odbc.build_insert("sqlserver", "t", { "a", "b", "c" }, 700) end, "over the sqlserver limit")
    raises(function() odbc.build_insert("sqlserver", "t", { "a" }, 1001) end, "1000 rows per VALUES")
    raises(function() odbc.rows_per_statement("sqlserver", 2100) end, "exceed")
    -- the 268 ORDERS_UNIFIED columns still fit: 7 rows per statement
    eq(odbc.rows_per_statement("sqlserver", 268), 7)
  end)

  it("gives TOP or LIMIT per dialect", function()
    eq({ odbc.limit_clause("sqlserver", 10) }, { "TOP (10) ", "" })
    eq({ odbc.limit_clause("postgres", 10) }, { "", " LIMIT 10" })
    eq(odbc.dialects.sqlserver.max_rows, 1000)
  end)

  it("builds PostgreSQL array literals: quoted, escaped text, NULL unquoted, exact numbers", function()
    local rows = { { 'a"b\\c', "", null, 1, 0.1, true }, { "{x, y}", "NULL", nil, -7, 1 / 3, false } }
    local a = odbc._pg_arrays(rows, 1, 2, 6)
    eq(#a, 6)
    eq(a[1], '{"a\\"b\\\\c","{x, y}"}')
    eq(a[2], '{"","NULL"}') -- the string NULL stays a string
    eq(a[3], "{NULL,NULL}")
    eq(a[4], "{1,-7}")
    eq(a[5], "{0.1,0.33333333333333331}") -- shortest text that reads back as the same double
    eq(a[6], "{1,0}")
    eq(odbc._pg_arrays(rows, 2, 1, 1)[1], '{"{x, y}"}')
    raises(function() odbc._pg_arrays({ { {} } }, 1, 1, 1) end, "cannot bind a table")
  end)

  it("builds the PostgreSQL unnest INSERT, ordered by ordinality for RETURNING", function()
    eq(odbc.build_unnest_insert("STG_MON_CustMasterSchedule", { "AAG ORDER NUMBER", "qty" }, { "character varying", "integer" }),
      'INSERT INTO "STG_MON_CustMasterSchedule" ("AAG ORDER NUMBER", "qty") SELECT c1, c2 FROM '
      .. "unnest(?::character varying[], ?::integer[]) AS u(c1, c2)")
    eq(odbc.build_unnest_insert("s.t", { "a" }, { "text" }, "id"),
      'INSERT INTO "s"."t" ("a") SELECT c1 FROM unnest(?::text[]) WITH ORDINALITY AS u(c1, mh_ord) '
      .. 'ORDER BY mh_ord RETURNING "id"')
  end)

  it("counts ? markers outside quotes and comments", function()
    eq(odbc.count_markers("UPDATE t SET a = ? WHERE [b?] = ? AND c = '?' -- ?\n AND d = ?"), 3)
    eq(odbc.count_markers('SELECT "x?" /* ? */, ?'), 1)
  end)

  it("builds FreeTDS connection strings with UTF-8 and TDS 7.4", function()
    local cs = odbc.connection_string { driver = "FreeTDS", server = "127.0.0.1", port = 1433, database = "AAG",
      uid = "sync", pwd = "p;w}d" }
    eq(cs, "Driver={FreeTDS};Server=127.0.0.1;Port=1433;Database=AAG;UID=sync;PWD={p;w}}d}")
    local full = odbc.prepare_connection_string(cs)
    matches(full, ";ClientCharset=UTF%-8")
    matches(full, ";TDS_Version=7%.4")
    eq(odbc.prepare_connection_string("Driver={FreeTDS};ClientCharset=CP1252;TDS_Version=7.3"),
      "Driver={FreeTDS};ClientCharset=CP1252;TDS_Version=7.3")
    matches(odbc.prepare_connection_string("Driver={PostgreSQL Unicode};Server=x"), "UseDeclareFetch=1;Fetch=%d+")
    eq(odbc.prepare_connection_string("Driver={PostgreSQL Unicode};UseDeclareFetch=0;Protocol=7.4-1"),
      "Driver={PostgreSQL Unicode};UseDeclareFetch=0;Protocol=7.4-1;CommLog=0")
    eq(odbc.prepare_connection_string("AAG_PROD"), "DSN=AAG_PROD")
    eq(odbc.cs_get(cs, "pwd"), "p;w}d")
  end)

  it("reports a FreeTDS connection failure with SQLSTATE and no password", function()
    local cs = odbc.connection_string { driver = "FreeTDS", server = "127.0.0.1", port = 1, database = "x",
      uid = "sa", pwd = "Sekr1t-xyz" }
    local db, msg, state = odbc.connect(cs, { timeout = 2 })
    eq(db, nil)
    matches(state, "^%w%w%w%w%w$")
    matches(msg, "^connect: %[" .. state .. "%]")
    ok(not msg:find("Sekr1t-xyz", 1, true), "password leaked: " .. msg)
  end)

  it("raises on misuse", function()
    raises(function() odbc.connect(42) end, "connection string expected")
    raises(function() odbc.connect("Driver=SQLite3;Database=:memory:", { dialect = "db2" }) end, "unknown dialect")
    local db, msg = odbc.connect("Driver={No Such Driver};Database=x")
    eq(db, nil)
    matches(msg, "No Such Driver")
  end)
end)

-- tonumber: with StepAPI (streaming) the SQLite driver types expression
-- columns without a declared type as text
local function count(db, tbl)
  return tonumber(db:first("SELECT COUNT(*) FROM " .. db:quote_ident(tbl))[1])
end

for _, kind in ipairs(dbs.kinds) do
  describe(kind, function()
    local db, cs
    before_each(function()
      cs = dbs.fresh(kind)
      db = assert(odbc.connect(cs))
    end)
    after_each(function() if db then db:close() end end)

    it("detects the dialect and can be overridden", function()
      eq(db.dialect, kind)
      local d2 <close> = assert(odbc.connect(cs, { dialect = "sqlserver" }))
      eq(d2.dialect, "sqlserver")
      d2.dialect = kind
      eq(d2:quote_ident("a b"), '"a b"')
      raises(function() d2.dialect = "nope" end, "unknown dialect")
    end)

    it("executes with ? parameters and returns affected rows", function()
      eq(math.type(db:exec("CREATE TABLE t (a INTEGER, b VARCHAR(20))")), "integer")
      eq(db:exec("INSERT INTO t (a, b) VALUES (?, ?)", 1, "x"), 1)
      eq(db:exec("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", 2, "y", 3, nil), 2)
      eq(db:exec("UPDATE t SET b = ? WHERE a >= ?", "z", 2), 2)
      eq(db:exec("DELETE FROM t WHERE a = ?", 99), 0)
      local r, msg, state = db:exec("INSERT INTO nowhere VALUES (1)")
      eq(r, nil)
      matches(msg, "nowhere")
      matches(state, "^%w%w%w%w%w$")
      raises(function() db:exec("SELECT ?", {}) end, "cannot bind a table")
    end)

    it("round-trips types: integers, decimals as strings, floats, dates, text, binary, NULL", function()
      local dec = kind == "sqlite" and "TEXT" or "NUMERIC(14,4)"
      local bin = kind == "sqlite" and "BLOB" or "BYTEA"
      db:exec(string.format([[CREATE TABLE ty (i BIGINT, d %s, f DOUBLE PRECISION, dt DATE, ts TIMESTAMP,
        s VARCHAR(100), t TEXT, b %s)]], dec, bin))
      local text = "Größe ✓ 日本 😀 'quote' \"dq\""
      eq(db:exec("INSERT INTO ty VALUES (?, ?, ?, ?, ?, ?, ?, NULL)", 9007199254740993, "12345.6789", 0.1,
        "2024-02-29", "2024-03-01 13:14:15", text, ""), 1)
      eq(db:exec("INSERT INTO ty VALUES (?, ?, ?, ?, ?, ?, ?, NULL)", null, nil, null, null, null, null, null), 1)
      local rows = {}
      for row in db:rows("SELECT i, d, f, dt, ts, s, t, b FROM ty ORDER BY i") do rows[#rows + 1] = row end
      eq(#rows, 2)
      local r = kind == "sqlite" and rows[2] or rows[1] -- NULLs sort first in SQLite, last in PostgreSQL
      local n = kind == "sqlite" and rows[1] or rows[2]
      eq(r[1], 9007199254740993)
      eq(math.type(r[1]), "integer")
      eq(r[2], "12345.6789")
      eq(r[3], 0.1)
      eq(r[4], "2024-02-29")
      eq(r[5], "2024-03-01T13:14:15")
      eq(r[6], text)
      eq(r[7], "") -- empty string stays empty, not NULL
      ok(r[8] == null)
      eq(#n, 8)
      for i = 1, 8 do ok(n[i] == null, "column " .. i .. " should be odbc.null") end
    end)

    it("converts decimals to numbers on request", function()
      if kind == "sqlite" then db:exec("CREATE TABLE d (x NUMERIC(10,2))") else db:exec("CREATE TABLE d (x NUMERIC(10,2))") end
      db:exec("INSERT INTO d VALUES (?)", "0.50")
      local row = db:first({ "SELECT x FROM d", decimal_as_number = true })
      eq(row[1], 0.5)
      if kind == "postgres" then
        eq(db:first("SELECT x FROM d")[1], "0.50")
        eq(db:first("SELECT -x FROM d")[1], "-0.50")
      end
    end)

    it("streams rows as arrays or named tables; columns() describes them", function()
      db:exec('CREATE TABLE "ORDERS_UNIFIED" ("AAG ORDER NUMBER" VARCHAR(40) NOT NULL, "RANGE / COLLECTION" TEXT, "S/M" INTEGER, "CO NUMBER (INITIAL DISTRO)" TEXT)')
      for i = 1, 25 do
        db:exec('INSERT INTO "ORDERS_UNIFIED" VALUES (?, ?, ?, ?)', "AAG-" .. i, i % 2 == 0 and "Core" or null, i, "CO" .. i)
      end
      local cur = assert(db:query { 'SELECT * FROM "ORDERS_UNIFIED" ORDER BY "S/M"', block = 4 })
      local cols = cur:columns()
      eq(#cols, 4)
      eq(cols[1].name, "AAG ORDER NUMBER")
      eq(cols[2].name, "RANGE / COLLECTION")
      eq(cols[3].name, "S/M")
      eq(cols[3].type, "integer")
      eq(cols[4].name, "CO NUMBER (INITIAL DISTRO)")
      if kind == "postgres" then eq(cols[1].nullable, false); eq(cols[1].size, 40) end
      local first = cur:fetch_many(10)
      eq(#first, 10)
      eq(first[1], { "AAG-1", null, 1, "CO1" })
      local named = cur:fetch_many(10, { named = true })
      eq(named[1]["AAG ORDER NUMBER"], "AAG-11")
      eq(named[1]["S/M"], 11)
      eq(named[2]["RANGE / COLLECTION"], "Core")
      eq(#cur:fetch_many(10), 5)
      eq(#cur:fetch_many(10), 0)
      local n = 0
      for row in db:rows({ 'SELECT "S/M" FROM "ORDERS_UNIFIED" WHERE "S/M" > ?', named = true }, 20) do
        n = n + 1
        ok(row["S/M"] > 20)
      end
      eq(n, 5)
    end)

    it("reads long text values whole", function()
      db:exec("CREATE TABLE lt (k INTEGER, t TEXT)")
      local long = string.rep("é🙂x", 5000)
      db:exec("INSERT INTO lt VALUES (?, ?)", 1, long)
      db:exec("INSERT INTO lt VALUES (?, ?)", 2, "short")
      local rows = assert(db:query { "SELECT t, k FROM lt ORDER BY k", long_width = 100 }):fetch_many(5)
      eq(#rows, 2)
      eq(#rows[1][1], #long)
      ok(rows[1][1] == long, "long value differs")
      eq(rows[2], { "short", 2 })
    end)

    it("reads long values around the bound width exactly, in the fastest mode the driver allows", function()
      db:exec("CREATE TABLE lw (k INTEGER, a TEXT, b TEXT, n INTEGER)")
      local W = 64
      local rows = {}
      for k = 1, 300 do
        local len = (k * 7) % (3 * W) -- lengths below, at and above the bound width
        local a = string.rep("x", len)
        if k % 5 == 0 then a = string.rep("é", len // 2) end -- multibyte across the boundary
        rows[k] = { k, a, (k % 4 == 0) and null or ("b" .. k), k * 3 }
      end
      assert(db:insert_many("lw", { "k", "a", "b", "n" }, rows))
      local cur = assert(db:query { "SELECT k, a, b, n FROM lw ORDER BY k", long_width = W })
      local info = db.info
      -- block cursors need SQLGetData on them (SQL_GD_BLOCK) to complete a
      -- truncated value; without, one bound row per fetch (SQL_GD_BOUND,
      -- e.g. the SQLite driver), or every cell through SQLGetData (0)
      local want = info.getdata_block and "block" or info.getdata_bound and 1 or 0
      if want == "block" then ok(cur:block_size() > 1) else eq(cur:block_size(), want) end
      local k = 0
      while true do
        local b = cur:fetch_many(50)
        if #b == 0 then break end
        for _, r in ipairs(b) do
          k = k + 1
          eq(r, rows[k], "row " .. k)
        end
      end
      eq(k, 300)
    end)

    it("raises from rows() on a bad query; query() returns nil, message, state", function()
      raises(function() for _ in db:rows("SELECT * FROM missing_table") do end end, "missing_table")
      local cur, msg, state = db:query("SELECT * FROM missing_table")
      eq(cur, nil)
      matches(msg, "missing_table")
      ok(#state == 5)
    end)

    it("closes the cursor when a loop breaks and when the connection closes", function()
      db:exec("CREATE TABLE c (x INTEGER)")
      db:insert_many("c", { "x" }, { { 1 }, { 2 }, { 3 } })
      for row in db:rows("SELECT x FROM c") do if row[1] then break end end
      local cur = db:query("SELECT x FROM c")
      db:close()
      raises(function() db:exec("SELECT 1") end, "closed")
      eq(#cur:fetch_many(5), 0) -- closed with its connection, no crash
      db = nil
    end)

    it("commits, rolls back and restores autocommit", function()
      db:exec("CREATE TABLE tx (x INTEGER)")
      ok(db:begin())
      ok(db:in_transaction())
      db:exec("INSERT INTO tx VALUES (1)")
      ok(db:rollback())
      eq(count(db, "tx"), 0)
      ok(db:begin())
      db:exec("INSERT INTO tx VALUES (2)")
      ok(db:commit())
      ok(not db:in_transaction())
      db:exec("INSERT INTO tx VALUES (3)") -- autocommit again: visible elsewhere
      local other <close> = assert(odbc.connect(cs))
      eq(count(other, "tx"), 2)
      raises(function() db:begin(); db:begin() end, "already open")
      db:rollback()
    end)

    it("transaction() commits, or rolls back and re-raises; nests with savepoints", function()
      db:exec("CREATE TABLE tx (x INTEGER)")
      local a, b = db:transaction(function(x)
        db:exec("INSERT INTO tx VALUES (?)", x)
        return "done", 7
      end, 1)
      eq({ a, b }, { "done", 7 })
      raises(function()
        db:transaction(function()
          db:exec("INSERT INTO tx VALUES (2)")
          error("boom")
        end)
      end, "boom")
      eq(count(db, "tx"), 1)
      db:transaction(function()
        db:exec("INSERT INTO tx VALUES (3)")
        local okk = pcall(db.transaction, db, function()
          db:exec("INSERT INTO tx VALUES (4)")
          error("inner")
        end)
        ok(not okk)
        db:exec("INSERT INTO tx VALUES (5)")
      end)
      local got = {}
      for row in db:rows("SELECT x FROM tx ORDER BY x") do got[#got + 1] = row[1] end
      eq(got, { 1, 3, 5 })
      ok(not db:in_transaction())
    end)

    local function stg_table()
      local id = kind == "sqlite" and "INTEGER PRIMARY KEY" or "SERIAL PRIMARY KEY"
      db:exec(string.format([[CREATE TABLE "STG_MON_CustMasterSchedule" (stg_id %s,
        "AAG ORDER NUMBER" VARCHAR(40) NOT NULL UNIQUE, qty INTEGER, price NUMERIC(12,2), note TEXT)]], id))
    end
    local COLS = { "AAG ORDER NUMBER", "qty", "price", "note" }
    local function gen(n)
      local rows = {}
      for i = 1, n do rows[i] = { "AAG-" .. i, i, string.format("%d.%02d", i, i % 100), i % 3 == 0 and null or ("n" .. i) } end
      return rows
    end

    it("insert_many inserts every row and returns identity values in row order", function()
      stg_table()
      local r = assert(db:insert_many("STG_MON_CustMasterSchedule", COLS, gen(1234), { returning = "stg_id" }))
      eq(r.inserted, 1234)
      eq(#r.failed, 0)
      eq(r.bisected, 0)
      eq(#r.ids, 1234)
      local byorder = {}
      for row in db:rows('SELECT stg_id, "AAG ORDER NUMBER" FROM "STG_MON_CustMasterSchedule"') do
        byorder[row[2]] = row[1]
      end
      for i = 1, 1234, 97 do eq(r.ids[i], byorder["AAG-" .. i], "id of row " .. i) end
      local row = db:first('SELECT qty, price, note FROM "STG_MON_CustMasterSchedule" WHERE "AAG ORDER NUMBER" = ?', "AAG-1203")
      eq(row[1], 1203)
      if kind == "postgres" then eq(row[2], "1203.03") end
      ok(row[3] == null)
    end)

    it("insert_many takes an iterator of batches and the array strategy", function()
      stg_table()
      local all = gen(2500)
      local i = 0
      local function batches()
        if i >= #all then return nil end
        local b = table.move(all, i + 1, math.min(i + 700, #all), 1, {})
        i = i + #b
        return b
      end
      local r = assert(db:insert_many("STG_MON_CustMasterSchedule", COLS, batches, { strategy = "array", batch_size = 300 }))
      eq(r.inserted, 2500)
      eq(count(db, "STG_MON_CustMasterSchedule"), 2500)
    end)

    it("on_error=isolate inserts the good rows and reports row 731 with its SQL state", function()
      stg_table()
      local rows = gen(1000)
      rows[731][1] = "AAG-5" -- duplicates row 5: a UNIQUE violation
      local r = assert(db:insert_many("STG_MON_CustMasterSchedule", COLS, rows, { on_error = "isolate", returning = "stg_id" }))
      eq(r.inserted, 999)
      eq(#r.failed, 1)
      eq(r.failed[1].index, 731)
      -- the SQLite driver reports constraint violations as HY000
      matches(r.failed[1].sqlstate, kind == "sqlite" and "^HY000$" or "^23505$")
      matches(r.failed[1].message, kind == "sqlite" and "UNIQUE constraint failed" or "duplicate key")
      ok(r.ids[731] == null)
      ok(r.ids[730] ~= null and r.ids[732] ~= null)
      eq(count(db, "STG_MON_CustMasterSchedule"), 999)
    end)

    it("on_error=isolate finds several bad rows and names the column", function()
      stg_table()
      local rows = gen(300)
      rows[1][1] = null    -- NOT NULL violation
      rows[150][1] = null
      rows[300][1] = "AAG-2"
      local r = assert(db:insert_many("STG_MON_CustMasterSchedule", COLS, rows, { on_error = "isolate" }))
      eq(r.inserted, 297)
      local idx = {}
      for _, f in ipairs(r.failed) do idx[#idx + 1] = f.index end
      eq(idx, { 1, 150, 300 })
      if kind == "postgres" then eq(r.failed[1].column, "AAG ORDER NUMBER") end
    end)

    it("on_error=abort inserts nothing and names the row", function()
      stg_table()
      local rows = gen(1000)
      rows[731][1] = "AAG-5"
      local r, msg, state, partial = db:insert_many("STG_MON_CustMasterSchedule", COLS, rows)
      eq(r, nil)
      matches(msg, "^row 731")
      matches(state, kind == "sqlite" and "^HY000$" or "^23505$")
      eq(partial.failed[1].index, 731)
      eq(count(db, "STG_MON_CustMasterSchedule"), 0)
    end)

    it("insert_many inside a transaction is part of it", function()
      stg_table()
      db:begin()
      assert(db:insert_many("STG_MON_CustMasterSchedule", COLS, gen(10)))
      local rows = gen(5)
      rows[3][1] = "AAG-1"
      local r = db:insert_many("STG_MON_CustMasterSchedule", COLS, rows)
      eq(r, nil) -- aborted; the earlier 10 rows are still pending
      ok(db:in_transaction())
      db:rollback()
      eq(count(db, "STG_MON_CustMasterSchedule"), 0)
    end)

    it("raises on misuse before anything is sent", function()
      stg_table()
      raises(function() db:insert_many("STG_MON_CustMasterSchedule", COLS, { { "a", 1, "1.00" } }) end, "ragged")
      raises(function() db:insert_many("STG_MON_CustMasterSchedule", COLS, { { "a", 1, "1.00", "x", "extra" } }) end, "ragged")
      raises(function() db:insert_many("STG_MON_CustMasterSchedule", { "AAG ORDER NUMBER", "nope" }, { { "a", 1 } }) end,
        'no column "nope"')
      raises(function() db:insert_many("STG_MON_CustMasterSchedule", {}, {}) end, "non%-empty")
      raises(function() db:insert_many("STG_MON_CustMasterSchedule", COLS, gen(3), { on_error = "skip" }) end, "on_error")
      raises(function() db:insert_many("STG_MON_CustMasterSchedule", COLS, { { "a", {}, "1", "x" } }) end, "cannot bind a table")
      eq(count(db, "STG_MON_CustMasterSchedule"), 0)
      ok(not db:in_transaction())
    end)

    if kind == "postgres" then
      it("unnest insert round-trips awkward text, exact decimals, dates, floats, booleans and NULL", function()
        db:exec([[CREATE TABLE u (id SERIAL PRIMARY KEY, s VARCHAR(40), t TEXT, d NUMERIC(12,2), dt DATE,
          f DOUBLE PRECISION, b BOOLEAN, i BIGINT)]])
        local long = string.rep("é\\\"{},x ", 900) -- > 4,000 bytes: bound as a long parameter
        local texts = { 'quote " and \\ backslash', "{braces}, commas", "  padded  ", "", "NULL", "Größe ✓ 日本 😀",
          "line\nbreak\ttab", "'single'" }
        local rows = {}
        for i, t in ipairs(texts) do
          rows[i] = { t:sub(1, 40), t, string.format("%d.%02d", i * 1000, i), "2024-02-29", i / 10, i % 2 == 0,
            9007199254740993 + i }
        end
        rows[#rows + 1] = { null, long, null, null, null, null, null }
        local r = assert(db:insert_many("u", { "s", "t", "d", "dt", "f", "b", "i" }, rows,
          { strategy = "unnest", returning = "id" }))
        eq(r.inserted, #rows)
        eq(r.bisected, 0) -- the unnest statement itself succeeded (no VALUES retry)
        local got = {}
        -- psqlODBC reports booleans as text (BoolsAsChar): compare as integers
        for row in db:rows("SELECT s, t, d, dt, f, CASE WHEN b THEN 1 WHEN NOT b THEN 0 END, i, id FROM u ORDER BY id") do got[#got + 1] = row end
        eq(#got, #rows)
        for i = 1, #texts do
          eq(got[i][1], rows[i][1], "varchar " .. i)
          eq(got[i][2], rows[i][2], "text " .. i)
          eq(got[i][3], rows[i][3], "numeric " .. i)
          eq(got[i][4], "2024-02-29")
          eq(got[i][5], i / 10)
          eq(got[i][6], i % 2 == 0 and 1 or 0)
          eq(got[i][7], 9007199254740993 + i)
          eq(got[i][8], r.ids[i], "RETURNING in row order")
        end
        local last = got[#got]
        ok(last[1] == null and last[3] == null and last[6] == null and last[7] == null)
        ok(last[2] == long, "long text differs")
      end)

      it("unnest insert keeps the column checks of VALUES: too long text fails, the row is isolated", function()
        db:exec("CREATE TABLE v (s VARCHAR(5), d NUMERIC(6,2), c CHAR(2))")
        local rows = {}
        for i = 1, 20 do rows[i] = { "s" .. i, "1.005", "ab" } end
        rows[13][1] = "much too long" -- an explicit ::varchar(5)[] cast would truncate silently
        rows[17][3] = "abc"           -- and ::character[] means char(1)
        local r = assert(db:insert_many("v", { "s", "d", "c" }, rows, { strategy = "unnest", on_error = "isolate" }))
        eq(r.inserted, 18)
        eq(r.bisected, 1)
        eq(r.failed[1].index, 13)
        eq(r.failed[2].index, 17)
        eq(r.failed[1].sqlstate, "22001")
        eq(db:first("SELECT c FROM v WHERE s = 's1'")[1], "ab")
        eq(db:first("SELECT d FROM v WHERE s = 's1'")[1], "1.01") -- rounded by the assignment cast, as VALUES does
      end)

      it("insert_many falls back to VALUES for array and domain columns", function()
        db:exec("CREATE DOMAIN short_code AS VARCHAR(3)")
        db:exec("CREATE TABLE arr (id SERIAL PRIMARY KEY, tags TEXT[], n INTEGER, code short_code)")
        local rows = {}
        for i = 1, 600 do rows[i] = { "{a,b}", i, "abc" } end
        local r = assert(db:insert_many("arr", { "tags", "n", "code" }, rows, { returning = "id" }))
        eq(r.inserted, 600)
        eq(#r.ids, 600)
        eq(db:first("SELECT array_length(tags, 1) FROM arr WHERE n = 600")[1], 2)
        rows = {}
        for i = 1, 600 do rows[i] = { "{c}", i, i == 9 and "abcd" or "x" } end -- too long for the domain
        local r2 = assert(db:insert_many("arr", { "tags", "n", "code" }, rows, { on_error = "isolate" }))
        eq(r2.inserted, 599)
        eq(r2.failed[1].index, 9)
      end)
    end

    it("update_many writes back per row on the array path, isolating failures", function()
      stg_table()
      local r = assert(db:insert_many("STG_MON_CustMasterSchedule", COLS, gen(600), { returning = "stg_id" }))
      local upd = {}
      for i, id in ipairs(r.ids) do upd[i] = { "item-" .. id, id } end
      local u = assert(db:update_many('UPDATE "STG_MON_CustMasterSchedule" SET note = ? WHERE stg_id = ?', upd))
      eq(u.inserted, 600)
      eq(db:first('SELECT note FROM "STG_MON_CustMasterSchedule" WHERE stg_id = ?', r.ids[77])[1], "item-" .. r.ids[77])
      local bad = { { "AAG-2", r.ids[1] }, { "fine", r.ids[3] } }
      local u2 = assert(db:update_many('UPDATE "STG_MON_CustMasterSchedule" SET "AAG ORDER NUMBER" = ? WHERE stg_id = ?', bad,
        { on_error = "isolate" }))
      eq(u2.inserted, 1)
      eq(u2.failed[1].index, 1)
      raises(function() db:update_many("UPDATE x SET a = 1", { { 1 } }) end, "no %? parameters")
    end)
  end)
end
