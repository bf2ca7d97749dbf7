-- odbc_sql.lua: the policy half of monhost.odbc (host/odbc.c is the
-- mechanism). Loaded by the C module, it adds: connect (connection-string
-- policy per driver), the dialect facts of SQL Server / PostgreSQL / SQLite,
-- quoting, SQL text for bulk inserts (multi-row VALUES, OUTPUT/RETURNING),
-- batch sizing by each dialect's parameter limits, transactions with
-- savepoints, and insert_many/update_many with per-row error isolation by
-- bisection. Everything here is plain Lua so it is testable without a server.
return function(odbc)
  local null = odbc.null
  local Conn = odbc._conn_mt
  local methods = {}
  for k, v in pairs(Conn) do if type(v) == "function" and not k:match("^__") then methods[k] = v end end

  -- What differs between the three databases. max_params: markers per
  -- statement; max_rows: rows per VALUES list; strategy: how insert_many
  -- writes ("values": multi-row INSERT statements, "array": one-row INSERT
  -- executed over a parameter array); rows_per_statement / sets: defaults
  -- measured in bench/odbc.bench.lua (see docs/performance-odbc.md).
  local dialects = {
    sqlserver = {
      name = "sqlserver", quote = { "[", "]" },
      -- 2,100 is the server's hard limit; sp_prepexec/sp_executesql (how
      -- drivers send prepared statements) keep one for themselves
      max_params = 2099, max_rows = 1000,
      returning = "output", limit = "top",
      savepoint = "SAVE TRANSACTION %s", rollback_to = "ROLLBACK TRANSACTION %s", release = nil,
      strategy = "values", rows_per_statement = 1000, sets = 1,
    },
    postgres = {
      name = "postgres", quote = { '"', '"' },
      -- the server takes 65,535, but psqlODBC 13.02 loses sync reading the
      -- ParameterDescription of a prepared statement with 7,772 (measured;
      -- 6,000 works)
      max_params = 6000, max_rows = nil,
      returning = "returning", limit = "limit",
      savepoint = "SAVEPOINT %s", rollback_to = "ROLLBACK TO SAVEPOINT %s", release = "RELEASE SAVEPOINT %s",
      -- "unnest": INSERT ... SELECT FROM unnest($1::type[], ...), one array
      -- literal per column built in C, unnest_rows rows per statement (~3x
      -- the VALUES path, see docs/performance-odbc.md). Small inserts (no
      -- more than rows_per_statement rows) and the bisection after a
      -- failure use VALUES: psqlODBC turns a parameter array into one round
      -- trip per row, a 500-row VALUES list is one round trip
      strategy = "unnest", unnest_rows = 5000, rows_per_statement = 500, sets = 1,
      -- prepared once and executed per batch: 2x faster than SQLExecDirect
      -- of the same text, which psqlODBC re-parses every time
      direct = false,
    },
    sqlite = {
      name = "sqlite", quote = { '"', '"' },
      max_params = 32766, max_rows = nil,
      returning = "returning", limit = "limit",
      -- the SQLite ODBC driver (0.9998) predates RETURNING and reports no
      -- result set for it: ids come from last_insert_rowid(), exact for a
      -- rowid-alias key since one statement's rows get consecutive rowids
      returning_via = "last_insert_rowid",
      savepoint = "SAVEPOINT %s", rollback_to = "ROLLBACK TO SAVEPOINT %s", release = "RELEASE SAVEPOINT %s",
      strategy = "values", rows_per_statement = 100, sets = 1,
    },
  }
  dialects.ansi = {
    name = "ansi", quote = { '"', '"' }, max_params = 1000, max_rows = 100,
    returning = nil, limit = "limit",
    savepoint = "SAVEPOINT %s", rollback_to = "ROLLBACK TO SAVEPOINT %s", release = "RELEASE SAVEPOINT %s",
    strategy = "array", rows_per_statement = 1, sets = 500,
  }
  odbc.dialects = dialects

  local function dialect_of(d)
    if type(d) == "table" then return d end
    local facts = dialects[d]
    if not facts then error("unknown dialect " .. tostring(d) .. " (sqlserver, postgres, sqlite)", 3) end
    return facts
  end

  -- Quotes one identifier part, doubling the closing quote.
  local function quote_part(facts, name)
    local o, c = facts.quote[1], facts.quote[2]
    return o .. name:gsub(c:gsub("%p", "%%%0"), c .. c) .. c
  end

  -- odbc.quote_ident(dialect, name [, {qualified=true}]): a table name may be
  -- schema-qualified ("dbo.ORDERS_UNIFIED" or {"dbo", "ORDERS_UNIFIED"});
  -- column names are quoted whole (qualified=false).
  function odbc.quote_ident(d, name, opts)
    local facts = dialect_of(d)
    if type(name) == "table" then
      local parts = {}
      for i, p in ipairs(name) do parts[i] = quote_part(facts, p) end
      return table.concat(parts, ".")
    end
    if type(name) ~= "string" or name == "" then
      error("identifier must be a non-empty string, got " .. type(name), 2)
    end
    if opts and opts.qualified and name:find(".", 1, true) then
      local parts = {}
      for p in name:gmatch("[^.]+") do parts[#parts + 1] = quote_part(facts, p) end
      return table.concat(parts, ".")
    end
    return quote_part(facts, name)
  end
  local quote_ident = odbc.quote_ident

  local function check_columns(columns, level)
    if type(columns) ~= "table" or #columns == 0 then
      error("columns must be a non-empty array of names", level + 1)
    end
    local seen = {}
    for i, c in ipairs(columns) do
      if type(c) ~= "string" or c == "" then error("column " .. i .. " is not a name", level + 1) end
      if seen[c] then error("column " .. c .. " is listed twice", level + 1) end
      seen[c] = true
    end
  end

  -- odbc.rows_per_statement(dialect, ncols [, wanted]) -> rows in one VALUES
  -- list, bounded by the dialect's parameter and row limits.
  function odbc.rows_per_statement(d, ncols, wanted)
    local facts = dialect_of(d)
    local k = wanted or facts.rows_per_statement
    k = math.min(k, facts.max_params // ncols)
    if facts.max_rows then k = math.min(k, facts.max_rows) end
    if k < 1 then
      error(string.format("%d columns exceed the %s limit of %d parameters per statement",
        ncols, facts.name, facts.max_params), 2)
    end
    return k
  end

  -- odbc.build_insert(dialect, table, columns, nrows [, {returning=col}])
  --   -> sql, nparams. Pure: SQL text for an nrows-row VALUES list.
  function odbc.build_insert(d, tbl, columns, nrows, opts)
    local facts = dialect_of(d)
    check_columns(columns, 2)
    opts = opts or {}
    if math.type(nrows) ~= "integer" or nrows < 1 then error("nrows must be a positive integer", 2) end
    local ncols = #columns
    if ncols * nrows > facts.max_params then
      error(string.format("%d rows x %d columns = %d parameters, over the %s limit of %d",
        nrows, ncols, ncols * nrows, facts.name, facts.max_params), 2)
    end
    if facts.max_rows and nrows > facts.max_rows then
      error(string.format("%d rows exceed the %s limit of %d rows per VALUES list", nrows, facts.name,
        facts.max_rows), 2)
    end
    local cols = {}
    for i, c in ipairs(columns) do cols[i] = quote_ident(facts, c) end
    local one = "(" .. string.rep("?", ncols, ",") .. ")"
    local out, ret = "", ""
    if opts.returning then
      if facts.returning == "output" then
        out = " OUTPUT INSERTED." .. quote_ident(facts, opts.returning)
      elseif facts.returning == "returning" then
        ret = " RETURNING " .. quote_ident(facts, opts.returning)
      else
        error("dialect " .. facts.name .. " cannot return inserted values", 2)
      end
    end
    local sql = "INSERT INTO " .. quote_ident(facts, tbl, { qualified = true }) .. " (" ..
      table.concat(cols, ", ") .. ")" .. out .. " VALUES " .. string.rep(one, nrows, ",") .. ret
    return sql, ncols * nrows
  end

  -- odbc.limit_clause(dialect, n) -> top, limit: put `top` right after
  -- SELECT and `limit` at the end ("TOP (10) ", "" or "", " LIMIT 10").
  function odbc.limit_clause(d, n)
    local facts = dialect_of(d)
    if math.type(n) ~= "integer" or n < 0 then error("limit must be a non-negative integer", 2) end
    if facts.limit == "top" then return "TOP (" .. n .. ") ", "" end
    return "", " LIMIT " .. n
  end

  -- Counts ? markers outside quotes and comments.
  function odbc.count_markers(sql)
    local n, i, len = 0, 1, #sql
    while i <= len do
      local ch = sql:sub(i, i)
      if ch == "?" then n = n + 1; i = i + 1
      elseif ch == "'" or ch == '"' or ch == "[" then
        local close = ch == "[" and "]" or ch
        local j = i + 1
        while true do
          local k = sql:find(close, j, true)
          if not k then i = len + 1; break end
          if sql:sub(k + 1, k + 1) == close then j = k + 2 else i = k + 1; break end
        end
      elseif sql:sub(i, i + 1) == "--" then
        i = (sql:find("\n", i, true) or len) + 1
      elseif sql:sub(i, i + 1) == "/*" then
        i = (select(2, sql:find("*/", i + 2, true)) or len) + 1
      else i = i + 1 end
    end
    return n
  end

  ---------------------------------------------------------------------------
  -- connect

  local function add_secret(s)
    local okl, log = pcall(require, "monhost.log")
    if okl and log.add_secret then log.add_secret(s) end
  end

  -- Splits "k=v;k={v;with}};braces}" into {{key, value}...}.
  local function cs_parse(cs)
    local out, i, n = {}, 1, #cs
    while i <= n do
      local eqp = cs:find("=", i, true)
      if not eqp then break end
      local key = cs:sub(i, eqp - 1):match("^%s*(.-)%s*$")
      local j, val = eqp + 1, nil
      while cs:sub(j, j) == " " do j = j + 1 end
      if cs:sub(j, j) == "{" then
        local buf, k = {}, j + 1
        while k <= n do
          local ch = cs:sub(k, k)
          if ch == "}" then
            if cs:sub(k + 1, k + 1) == "}" then buf[#buf + 1] = "}"; k = k + 2
            else k = k + 1; break end
          else buf[#buf + 1] = ch; k = k + 1 end
        end
        val = table.concat(buf)
        local semi = cs:find(";", k, true)
        i = semi and semi + 1 or n + 1
      else
        local semi = cs:find(";", j, true)
        val = cs:sub(j, (semi or n + 1) - 1):match("^(.-)%s*$")
        i = semi and semi + 1 or n + 1
      end
      if key ~= "" then out[#out + 1] = { key, val } end
    end
    return out
  end

  local function cs_get(cs, key)
    key = key:lower()
    for _, kv in ipairs(cs_parse(cs)) do
      if kv[1]:lower() == key then return kv[2] end
    end
  end
  odbc.cs_get = cs_get

  -- odbc.connection_string{driver=, server=, port=, database=, uid=, pwd=, ...}
  -- -> "Driver={...};Server=...;..." with values braced when they need it.
  function odbc.connection_string(t)
    if type(t) ~= "table" or type(t.driver) ~= "string" then
      error("connection_string needs a table with driver=", 2)
    end
    local order = { "driver", "server", "port", "database", "uid", "pwd" }
    local names = { driver = "Driver", server = "Server", port = "Port", database = "Database", uid = "UID", pwd = "PWD" }
    local parts, done = {}, {}
    local function add(k, v)
      v = tostring(v)
      if v:find("[;{}=%s]") or k == "Driver" or k == "PWD" then v = "{" .. v:gsub("}", "}}") .. "}" end
      parts[#parts + 1] = k .. "=" .. v
    end
    for _, k in ipairs(order) do
      if t[k] ~= nil then add(names[k], t[k]); done[k] = true end
    end
    local rest = {}
    for k in pairs(t) do if not done[k] then rest[#rest + 1] = k end end
    table.sort(rest)
    for _, k in ipairs(rest) do add(k, t[k]) end
    if t.pwd then add_secret(tostring(t.pwd)) end
    return table.concat(parts, ";")
  end

  -- odbc.prepare_connection_string(cs) -> cs as it will be sent: the
  -- settings monhost relies on are added per driver when missing.
  function odbc.prepare_connection_string(cs, opts)
    opts = opts or {}
    if not cs:find("=", 1, true) then cs = "DSN=" .. cs end
    local pwd = cs_get(cs, "PWD") or cs_get(cs, "Password")
    if pwd and pwd ~= "" then add_secret(pwd) end
    local driver = (cs_get(cs, "Driver") or ""):lower()
    local extra = {}
    if driver:find("postgres", 1, true) then
      -- without UseDeclareFetch psqlODBC reads whole result sets into memory
      if not cs_get(cs, "UseDeclareFetch") and opts.stream ~= false then
        extra[#extra + 1] = "UseDeclareFetch=1"
        if not cs_get(cs, "Fetch") then extra[#extra + 1] = "Fetch=" .. (opts.fetch or 10000) end
      end
      -- on an error psqlODBC rolls back the whole transaction by default,
      -- destroying our savepoints; "-2" rolls back only the failed statement
      -- ("-0" would leave its implicit UseDeclareFetch transaction aborted)
      if not cs_get(cs, "Protocol") then extra[#extra + 1] = "Protocol=7.4-0" end
      -- Debian's odbcinst.ini sets CommLog=1: a log file in /tmp per process
      if not cs_get(cs, "CommLog") then extra[#extra + 1] = "CommLog=0" end
    elseif driver:find("sqlite", 1, true) then
      -- the SQLite driver reads a whole result into memory at execute
      -- unless it steps through it (StepAPI)
      if not cs_get(cs, "StepAPI") and opts.stream ~= false then extra[#extra + 1] = "StepAPI=1" end
    elseif driver:find("freetds", 1, true) or driver:find("tds", 1, true) then
      if not cs_get(cs, "ClientCharset") then extra[#extra + 1] = "ClientCharset=UTF-8" end
      if not cs_get(cs, "TDS_Version") then extra[#extra + 1] = "TDS_Version=7.4" end
    end
    if #extra > 0 then cs = cs:gsub(";%s*$", "") .. ";" .. table.concat(extra, ";") end
    return cs
  end

  local function detect_dialect(info)
    local dbms = (info.dbms or ""):lower()
    if dbms:find("postgres", 1, true) then return "postgres" end
    if dbms:find("sql server", 1, true) or dbms:find("sybase", 1, true) then return "sqlserver" end
    if dbms:find("sqlite", 1, true) then return "sqlite" end
    return "ansi"
  end
  odbc.detect_dialect = detect_dialect

  -- odbc.connect(dsn_or_connection_string [, {dialect=, timeout=, wide=}])
  --   -> db | nil, message, sqlstate
  function odbc.connect(target, opts)
    if type(target) ~= "string" or target == "" then
      error("bad argument #1 to 'connect' (DSN or connection string expected, got " .. type(target) .. ")", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then error("bad argument #2 to 'connect' (table expected)", 2) end
    opts = opts or {}
    if opts.dialect ~= nil then dialect_of(opts.dialect) end
    local cs = odbc.prepare_connection_string(target, opts)
    local db, info, state = odbc._connect(cs, opts.timeout or 15)
    if not db then return nil, info, state end
    local st = db:_state()
    st.info = info
    st.dialect = opts.dialect or detect_dialect(info)
    st.depth = 0
    st.sp = 0
    -- psqlODBC's Unicode driver converts narrow text through the process
    -- locale; UTF-16 keeps non-ASCII text exact whatever the locale
    local wide = opts.wide
    if wide == nil then wide = (info.driver or ""):find("psqlodbcw", 1, true) ~= nil end
    db:_set_wide(wide)
    -- with Protocol=7.4-0 a failed statement leaves psqlODBC's implicit
    -- (UseDeclareFetch) transaction aborted: end it in autocommit mode
    if st.dialect == "postgres" then db:_set_reset_sql("ROLLBACK") end
    st.wide = wide
    return db
  end

  ---------------------------------------------------------------------------
  -- connection methods

  Conn.__index = function(self, k)
    local m = methods[k]
    if m ~= nil then return m end
    if k == "dialect" or k == "info" then return self:_state()[k] end
    return nil
  end
  Conn.__newindex = function(self, k, v)
    if k ~= "dialect" then error("cannot set field " .. tostring(k) .. " of a connection", 2) end
    dialect_of(v)
    self:_state().dialect = v
  end
  Conn.__name = "monhost.odbc.connection"
  Conn.__tostring = function(self)
    local st = self:_state()
    return string.format("odbc connection (%s%s)", st.dialect or "?", self:is_open() and "" or ", closed")
  end

  function methods.facts(self) return dialects[self:_state().dialect] end
  function methods.quote_ident(self, name) return quote_ident(self:_state().dialect, name, { qualified = true }) end
  function methods.limit_clause(self, n) return odbc.limit_clause(self:_state().dialect, n) end

  local function raise(msg, state, level)
    error(string.format("odbc: %s", msg), level or 3)
  end

  -- db:query(sql | {sql, named=, block=, long_width=, decimal_as_number=}, ...)
  --   -> cursor | nil, msg, state
  function methods.query(self, sql, ...)
    if type(sql) == "table" then
      local text = sql[1]
      if type(text) ~= "string" then error("bad argument #1 to 'query' (sql expected)", 2) end
      return self:_query(sql, text, ...)
    end
    if type(sql) ~= "string" then error("bad argument #1 to 'query' (sql expected, got " .. type(sql) .. ")", 2) end
    return self:_query(nil, sql, ...)
  end

  -- for row in db:rows(sql, ...) do ... end; raises on errors (a for loop
  -- cannot take nil, msg); the cursor closes when the loop ends or breaks.
  function methods.rows(self, sql, ...)
    local cur, msg, state = methods.query(self, sql, ...)
    if not cur then raise(msg, state) end
    return cur.fetch, cur, nil, cur
  end

  -- db:first(sql, ...) -> first row or nil; convenience for lookups
  function methods.first(self, sql, ...)
    local cur, msg, state = methods.query(self, sql, ...)
    if not cur then return nil, msg, state end
    local row = cur:fetch()
    cur:close()
    return row
  end

  -- Transactions. depth counts db:transaction nesting; inner levels are
  -- savepoints.
  function methods.begin(self)
    local st = self:_state()
    if st.depth > 0 then error("a transaction is already open (use db:transaction for nesting)", 2) end
    local okk, msg, state = self:_autocommit(false)
    if not okk then return nil, msg, state end
    st.depth = 1
    return true
  end

  local function finish(self, commit)
    local st = self:_state()
    if st.depth == 0 then return nil, "no transaction is open", "25000" end
    local okk, msg, state = self:_endtran(commit)
    st.depth = 0
    local ok2, msg2, state2 = self:_autocommit(true)
    if not okk then return nil, msg, state end
    if not ok2 then return nil, msg2, state2 end
    return true
  end
  function methods.commit(self) return finish(self, true) end
  function methods.rollback(self) return finish(self, false) end
  function methods.in_transaction(self) return self:_state().depth > 0 end

  local function savepoint_name(st)
    st.sp = st.sp + 1
    return "mh_sp" .. st.sp
  end

  local function sp_exec(self, fmt, name)
    if not fmt then return true end
    return self:exec(string.format(fmt, name))
  end

  -- db:transaction(fn, ...) -> fn's results. Commits when fn returns,
  -- rolls back and re-raises when it raises; nested calls use savepoints.
  function methods.transaction(self, fn, ...)
    if type(fn) ~= "function" then error("bad argument #1 to 'transaction' (function expected)", 2) end
    local st = self:_state()
    local facts = dialects[st.dialect]
    local function pack(okk, ...) return okk, select("#", ...), { ... } end
    if st.depth == 0 then
      local okb, msg, state = methods.begin(self)
      if not okb then raise(msg, state) end
      local okk, n, res = pack(xpcall(fn, debug.traceback, ...))
      if okk then
        local okc, cmsg, cstate = methods.commit(self)
        if not okc then raise(cmsg, cstate) end
        return table.unpack(res, 1, n)
      end
      if self:is_open() then methods.rollback(self) end
      error(res[1], 0)
    end
    local name = savepoint_name(st)
    local oks, msg, state = sp_exec(self, facts.savepoint, name)
    if not oks then raise(msg, state) end
    st.depth = st.depth + 1
    local okk, n, res = pack(xpcall(fn, debug.traceback, ...))
    st.depth = st.depth - 1
    if okk then
      sp_exec(self, facts.release, name)
      return table.unpack(res, 1, n)
    end
    if self:is_open() then sp_exec(self, facts.rollback_to, name) end
    error(res[1], 0)
  end

  ---------------------------------------------------------------------------
  -- bulk writes

  -- Finds the column a driver message names, if any.
  local function column_in(msg, columns)
    if not columns or not msg then return nil end
    for _, c in ipairs(columns) do
      if msg:find('"' .. c .. '"', 1, true) or msg:find("'" .. c .. "'", 1, true)
        or msg:find("[" .. c .. "]", 1, true) or msg:find("." .. c .. " ", 1, true) then
        return c
      end
    end
  end

  -- The engine shared by insert_many and update_many.
  --   spec.sql_for(k) -> SQL text for a k-row statement
  --   spec.k, spec.sets: rows per statement and statements per call
  local function bulk(self, spec, rows, opts)
    local st = self:_state()
    local facts = dialects[st.dialect]
    local on_error = opts.on_error or "abort"
    if on_error ~= "abort" and on_error ~= "isolate" then
      error("on_error must be \"abort\" or \"isolate\"", 3)
    end
    local ncols, k, sets = spec.ncols, spec.k, spec.sets
    local returning = spec.returning
    local rowid = returning and facts.returning_via == "last_insert_rowid"
    local direct = opts.direct
    if direct == nil then direct = facts.direct end
    -- bisected: chunks that failed whole and were retried in halves
    local result = { inserted = 0, failed = {}, bisected = 0 }
    local affected_total = 0
    local ids = returning and {} or nil
    local sqlcache = {}
    local function sql_for(n)
      local s = sqlcache[n]
      if not s then s = spec.sql_for(n); sqlcache[n] = s end
      return s
    end
    local own_txn = st.depth == 0
    local sp = facts.savepoint ~= nil
    local outer_sp
    if own_txn then
      local okb, msg, state = methods.begin(self)
      if not okb then return nil, msg, state end
    elseif sp then
      outer_sp = savepoint_name(st)
      local oks, msg, state = sp_exec(self, facts.savepoint, outer_sp)
      if not oks then return nil, msg, state end
    end

    -- executes rows [i, i+n) of batch as one call: VALUES lists of k rows
    -- over sets parameter sets (plus a smaller statement for the rest)
    local function run(batch, i, n, kk)
      kk = math.min(kk, n)
      local full = n - n % kk
      local affected, got = 0, nil
      local function rowids(r, cnt)
        if not rowid then return r end
        local last = self:first("SELECT last_insert_rowid()")
        last = last and last[1]
        r = {}
        for j = 1, cnt do r[j] = last - cnt + j end
        return r
      end
      if full > 0 then
        local a, r, state = self:execute_array(sql_for(kk), batch, i, full, ncols, kk, returning and not rowid, direct)
        if not a then return nil, r, state end
        affected = affected + a
        got = rowids(r, full)
      end
      if full < n then
        local a, r, state = self:execute_array(sql_for(n - full), batch, i + full, n - full, ncols, n - full,
          returning and not rowid, direct)
        if not a then return nil, r, state end
        affected = affected + a
        r = rowids(r, n - full)
        if got then table.move(r, 1, #r, #got + 1, got) else got = r end
      end
      return affected, got
    end

    local function store_ids(base, got, n)
      if not ids then return end
      for j = 1, n do ids[base + j] = got[j] == nil and null or got[j] end
    end

    -- runs rows [i, i+n) inside a savepoint; on failure splits until the
    -- bad rows are single, recording them (bisection: drivers such as the
    -- SQLite one never fill the parameter status array)
    local function isolate(batch, i, n, base, stop_at_first)
      local name = savepoint_name(st)
      if sp then
        local oks, msg, state = sp_exec(self, facts.savepoint, name)
        if not oks then return nil, msg, state end
      end
      local a, got, state = run(batch, i, n, k)
      if a then
        if sp then sp_exec(self, facts.release, name) end
        result.inserted = result.inserted + n
        affected_total = affected_total + a
        store_ids(base + i - 1, got, n)
        return true
      end
      if sp then sp_exec(self, facts.rollback_to, name) end
      if n == 1 then
        result.failed[#result.failed + 1] = {
          index = base + i, message = got, sqlstate = state, column = column_in(got, spec.columns),
        }
        if ids then ids[base + i] = null end
        return false
      end
      local h = n // 2
      local r1 = isolate(batch, i, h, base, stop_at_first)
      if r1 == false and stop_at_first then return false end
      local r2 = isolate(batch, i + h, n - h, base, stop_at_first)
      if r1 == nil or r2 == nil then return nil end
      return r1 and r2
    end

    local function undo()
      if own_txn then methods.rollback(self)
      elseif outer_sp then sp_exec(self, facts.rollback_to, outer_sp) end
    end

    -- spec.fast(batch, i, n): a faster whole-chunk path (PostgreSQL unnest)
    -- of spec.fast_rows rows; a failed chunk is bisected with run (VALUES)
    local fast = spec.fast
    local chunk = fast and spec.fast_rows or k * sets
    local base = 0
    local function do_batch(batch, n)
      local i = 1
      while i <= n do
        local m = math.min(chunk, n - i + 1)
        local name
        if sp then
          name = savepoint_name(st)
          local oks, msg, state = sp_exec(self, facts.savepoint, name)
          if not oks then return nil, msg, state end
        end
        local a, got, state
        if fast then a, got, state = fast(batch, i, m) else a, got, state = run(batch, i, m, k) end
        if a then
          if name and facts.release then sp_exec(self, facts.release, name) end
          result.inserted = result.inserted + m
          affected_total = affected_total + a
          store_ids(base + i - 1, got, m)
        else
          if not sp then
            -- no savepoints: nothing to bisect safely
            result.failed[#result.failed + 1] = { index = base + i, message = got, sqlstate = state,
              column = column_in(got, spec.columns), rows = m }
            return nil, got, state
          end
          sp_exec(self, facts.rollback_to, name)
          result.bisected = result.bisected + 1
          local before = #result.failed
          local r = isolate(batch, i, m, base, on_error == "abort")
          if r == nil then return nil, got, state end
          if #result.failed == before then
            -- the chunk failed as a whole but every part succeeded alone
            result.failed[#result.failed + 1] = { index = base + i, message = got, sqlstate = state,
              column = column_in(got, spec.columns), rows = m }
          end
          if on_error == "abort" then
            local f = result.failed[before + 1]
            return nil, string.format("row %d%s: %s", f.index,
              f.column and (" (column " .. f.column .. ")") or "", f.message), f.sqlstate
          end
        end
        i = i + m
      end
      return true
    end

    local okk, r, msg, state
    if type(rows) == "function" then
      okk, r, msg, state = pcall(function()
        while true do
          local batch = rows()
          if batch == nil then return true end
          if type(batch) ~= "table" then error("the row iterator must yield arrays of rows", 0) end
          local n = #batch
          if n > 0 then
            local good, m2, s2 = do_batch(batch, n)
            if not good then return nil, m2, s2 end
            base = base + n
          end
        end
      end)
    else
      okk, r, msg, state = pcall(do_batch, rows, #rows)
    end
    if not okk then
      undo()
      error(r, 0)
    end
    if not r then
      undo()
      result.inserted = 0
      if ids then result.ids = nil end
      return nil, msg, state, result
    end
    if own_txn then
      local okc, cmsg, cstate = methods.commit(self)
      if not okc then return nil, cmsg, cstate, result end
    elseif outer_sp and facts.release then
      sp_exec(self, facts.release, outer_sp)
    end
    result.ids = ids
    result.affected = affected_total
    return result
  end

  local unnest_insert

  -- odbc.build_unnest_insert(table, columns, types [, returning]) -> sql
  -- PostgreSQL: INSERT INTO t (cols) SELECT FROM unnest(?::type[], ...),
  -- one array parameter per column. WITH ORDINALITY + ORDER BY keeps the
  -- RETURNING values in row order. types are base types without typmod
  -- (pg_catalog.varchar, pg_catalog.bpchar) so the INSERT's own assignment
  -- cast checks lengths and rounds decimals exactly as the VALUES path does
  -- (an explicit ::varchar(40) or ::character would silently truncate).
  function odbc.build_unnest_insert(tbl, columns, types, returning)
    local facts = dialects.postgres
    check_columns(columns, 2)
    local cols, aliases, params = {}, {}, {}
    for i, c in ipairs(columns) do
      cols[i] = quote_ident(facts, c)
      aliases[i] = "c" .. i
      params[i] = "?::" .. types[i] .. "[]"
    end
    local sel = table.concat(aliases, ", ")
    local sql = "INSERT INTO " .. quote_ident(facts, tbl, { qualified = true }) .. " (" .. table.concat(cols, ", ") ..
      ") SELECT " .. sel .. " FROM unnest(" .. table.concat(params, ", ") .. ")"
    if returning then
      sql = sql .. " WITH ORDINALITY AS u(" .. sel .. ", mh_ord) ORDER BY mh_ord RETURNING " ..
        quote_ident(facts, returning)
    else
      sql = sql .. " AS u(" .. sel .. ")"
    end
    return sql
  end

  -- The unnest INSERT for tbl, with column types from one catalog query.
  -- Returns nil (no error) when a column's type cannot travel in an array
  -- literal (array columns), nil, msg, state on a database error.
  function unnest_insert(self, facts, tbl, columns, returning)
    local qname = quote_ident(facts, tbl, { qualified = true })
    -- the internal type name (pg_catalog.bpchar, not "character", which
    -- means char(1) and would truncate); only base and enum types: domains
    -- (their casts may truncate), arrays and composites go through VALUES
    local cur, msg, state = methods.query(self, "SELECT a.attname, quote_ident(n.nspname) || '.' || "
      .. "quote_ident(t.typname), CASE WHEN t.typtype IN ('b', 'e') AND t.typcategory <> 'A' THEN 1 ELSE 0 END "
      .. "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace n ON n.oid = t.typnamespace "
      .. "WHERE a.attrelid = CAST(? AS regclass) AND a.attnum > 0 AND NOT a.attisdropped", qname)
    if not cur then return nil, msg, state end
    local types, lower = {}, {}
    while true do
      local b = cur:fetch_many(1000)
      if #b == 0 then break end
      for _, r in ipairs(b) do
        local t = r[3] == 1 and r[2] or false
        types[r[1]] = t
        if lower[r[1]:lower()] == nil then lower[r[1]:lower()] = t end
      end
    end
    local list = {}
    for i, c in ipairs(columns) do
      local t = types[c]
      if t == nil then t = lower[c:lower()] end
      if not t then return nil end
      list[i] = t
    end
    return odbc.build_unnest_insert(tbl, columns, list, returning)
  end

  local function check_rows(rows, ncols, fname)
    if type(rows) == "function" then return end
    if type(rows) ~= "table" then
      error("bad argument #3 to '" .. fname .. "' (array of rows or iterator expected, got " .. type(rows) .. ")", 3)
    end
    for i = 1, #rows do
      local row = rows[i]
      if type(row) ~= "table" then error(fname .. ": row " .. i .. " is a " .. type(row) .. ", not an array", 3) end
      local n = #row
      if n ~= ncols and (n > ncols or next(row, n > 0 and n or nil) == nil) then
        error(string.format("%s: row %d has %d values for %d columns (ragged; use odbc.null for NULL)",
          fname, i, n, ncols), 3)
      end
    end
  end

  -- db:insert_many(table, columns, rows [, opts]) -> result | nil, msg, state, result
  -- opts: returning = column, on_error = "abort"|"isolate", strategy =
  -- "values"|"array", rows_per_statement, batch_size (rows per driver call)
  function methods.insert_many(self, tbl, columns, rows, opts)
    if type(tbl) ~= "string" and type(tbl) ~= "table" then
      error("bad argument #1 to 'insert_many' (table name expected)", 2)
    end
    check_columns(columns, 2)
    opts = opts or {}
    local st = self:_state()
    local facts = dialects[st.dialect]
    local ncols = #columns
    check_rows(rows, ncols, "insert_many")
    if opts.check_columns ~= false then
      -- unknown columns are misuse: raise before any row is sent
      local cur, msg, state = methods.query(self, "SELECT * FROM " .. quote_ident(facts, tbl, { qualified = true }) ..
        " WHERE 1 = 0")
      if not cur then return nil, msg, state end
      local have = {}
      for _, c in ipairs(cur:columns()) do have[c.name] = true; have[c.name:lower()] = true end
      cur:close()
      for _, c in ipairs(columns) do
        if not have[c] and not have[c:lower()] then
          error(string.format("insert_many: table %s has no column %q", tostring(tbl), c), 2)
        end
      end
    end
    local strategy = opts.strategy or facts.strategy
    if strategy == "unnest" and not opts.strategy and type(rows) == "table" and #rows <= facts.rows_per_statement then
      strategy = "values" -- one VALUES statement: cheaper than the catalog query
    end
    local k, sets
    local fast, fast_rows
    if strategy == "unnest" then
      if st.dialect ~= "postgres" then error("strategy \"unnest\" needs PostgreSQL", 2) end
      local sql, msg, state = unnest_insert(self, facts, tbl, columns, opts.returning)
      if not sql and msg then return nil, msg, state end
      k = odbc.rows_per_statement(facts, ncols)
      sets = 1
      if sql then -- nil: a column type unnest cannot carry (arrays): VALUES
        fast_rows = opts.rows_per_statement or opts.batch_size or facts.unnest_rows
        local want_ids = opts.returning ~= nil
        fast = function(batch, i, n)
          local arrays = odbc._pg_arrays(batch, i, n, ncols)
          return self:execute_array(sql, { arrays }, 1, 1, ncols, 1, want_ids, false)
        end
      end
    elseif strategy == "values" then
      k = odbc.rows_per_statement(facts, ncols, opts.rows_per_statement)
      sets = math.max(1, (opts.batch_size or k * facts.sets) // k)
    elseif strategy == "array" then
      k, sets = 1, opts.batch_size or math.max(facts.sets, 500)
    else
      error("strategy must be \"unnest\", \"values\" or \"array\"", 2)
    end
    local spec = {
      ncols = ncols, k = k, sets = sets, columns = columns, returning = opts.returning ~= nil,
      fast = fast, fast_rows = fast_rows,
      sql_for = function(n)
        local ret = opts.returning
        if facts.returning_via then ret = nil end
        return (odbc.build_insert(facts, tbl, columns, n, { returning = ret }))
      end,
    }
    return bulk(self, spec, rows, opts)
  end

  -- db:update_many(sql, rows [, opts]) -> result | nil, msg, state, result
  -- sql has ? markers; each row binds one execution (parameter arrays).
  -- result.inserted counts the rows executed; result.affected the rows the
  -- database reports changed.
  function methods.update_many(self, sql, rows, opts)
    if type(sql) ~= "string" then error("bad argument #1 to 'update_many' (sql expected)", 2) end
    opts = opts or {}
    local ncols = odbc.count_markers(sql)
    if ncols == 0 then error("update_many: the statement has no ? parameters", 2) end
    check_rows(rows, ncols, "update_many")
    local spec = { ncols = ncols, k = 1, sets = opts.batch_size or 500,
      sql_for = function() return sql end }
    local res, msg, state, partial = bulk(self, spec, rows, opts)
    if res then res.updated = res.affected end
    return res, msg, state, partial
  end
end
