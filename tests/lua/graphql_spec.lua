-- Unit tests of monhost.graphql: documents, the native JSON encoder, the
-- governor on a fake clock, and the retry/idempotency/error rules against a
-- scripted fake engine (no network).
local g = require "monhost.graphql"
local native = require "monhost.graphql_native"
local cjson = require "cjson"
local log = require "monhost.log"

local function read(path)
  local f = assert(io.open(path)); local s = f:read("a"); f:close(); return s
end

-- A fake engine: `respond(req, n)` answers the n-th submitted request.
local function fake(respond)
  local clock = { now = 1000 }
  local e = { sent = {}, pending = {}, clock = clock }
  function e:submit(t)
    local req = { url = t.url, body = t.body, headers = {} }
    for _, h in ipairs(t.headers) do
      local k, v = h:match("^([^:]+):%s*(.*)$"); req.headers[k:lower()] = v
    end
    req.doc = cjson.decode(t.body)
    self.sent[#self.sent + 1] = req
    req.id = #self.sent
    self.pending[#self.pending + 1] = req
    return req.id
  end
  function e:wait(t)
    local out = {}
    for _, req in ipairs(self.pending) do
      local r = respond(req, req.id)
      r.id = req.id; r.headers = r.headers or {}; r.body = r.body or ""; r.uploaded = #req.body
      out[#out + 1] = r
    end
    self.pending = {}
    clock.now = clock.now + 0.01
    return out
  end
  function e:close() end
  return e, function() return clock.now end, function(d) clock.now = clock.now + d end
end

-- A 200 reply that creates every aliased op (ids 100+k) and reports cost.
local function created(req, cost_per_op, extra_errors)
  local data, n = {}, 0
  for alias in req.doc.query:gmatch("\n(op%d+):") do
    n = n + 1
    data[alias] = { id = tostring(100 + tonumber(alias:sub(3))) }
  end
  data.mh_complexity = { query = n * (cost_per_op or 10000), before = 10000000,
    after = 10000000 - n * (cost_per_op or 10000), reset_in_x_seconds = 60 }
  local body = { data = data, errors = extra_errors }
  for _, e in ipairs(extra_errors or {}) do data[e.path[1]] = cjson.null end
  return { status = 200, body = cjson.encode(body) }
end

local function client(respond, opts)
  local eng, clock, sleep = fake(respond)
  opts = opts or {}
  opts.engine, opts.clock, opts.sleep = eng, clock, sleep
  opts.random = function() return 0.5 end
  opts.url = opts.url or "http://127.0.0.1:1/v2"
  return g.client(opts), eng
end

local function items(n, board)
  local ops = {}
  for i = 1, n do ops[i] = { field = "create_item", args = { board_id = board or 1, item_name = "Order " .. i } } end
  return ops
end

describe("native.encode", function()
  it("sorts object keys so equal tables give equal bytes", function()
    local a = { zeta = 1, alpha = { 3, 2, 1 }, mid = { y = true, x = false } }
    local b = {}
    b.mid = { x = false, y = true }; b.alpha = { 3, 2, 1 }; b.zeta = 1
    eq(native.encode(a), native.encode(b))
    eq(native.encode(a), '{"alpha":[3,2,1],"mid":{"x":false,"y":true},"zeta":1}')
  end)
  it("round-trips awkward strings through a JSON parser", function()
    local s = 'quote" back\\slash }{ new\nline tab\t nul\0 ctl\1 emoji \u{1F600} é'
    eq(cjson.decode(native.encode({ s = s })).s, s)
  end)
  it("encodes null, integers, floats and rejects what JSON cannot hold", function()
    eq(native.encode({ cjson.null, 9200517329, 1.5 }), "[null,9200517329,1.5]")
    raises(function() native.encode({ f = print }) end, "cannot encode")
    raises(function() native.encode(0 / 0) end, "cannot encode")
    local t = {}; t.self = t
    raises(function() native.encode(t) end, "deeper than")
  end)
  it("makes random keys that differ", function()
    local a, b = native.random_hex(16), native.random_hex(16)
    matches(a, "^%x+$"); eq(#a, 32); ok(a ~= b)
  end)
end)

describe("documents", function()
  it("declares the same argument types as monday's published schema", function()
    local sdl = read("../shared/reference/monday/schema-2026-10.graphql")
    local types = assert(g.sdl_arg_types(sdl))
    for field, args in pairs(g.arg_types) do
      ok(types[field], "schema has " .. field)
      for a, t in pairs(args) do eq(types[field][a], t, field .. "." .. a) end
    end
  end)
  it("keeps values out of the document text (no GraphQL injection)", function()
    local evil = 'x") { id } delete_item(item_id: 1) { id } #"\\'
    local mon, eng = client(function(req) return created(req) end)
    local res = mon:batch({ { field = "create_item", args = { board_id = 1, item_name = evil,
      column_values = { text = evil } } } })
    ok(res[1].ok)
    local sent = eng.sent[1].doc
    ok(not sent.query:find("delete_item", 1, true), "value spliced into the document")
    eq(sent.variables.item_name_1, evil)
    eq(cjson.decode(sent.variables.column_values_1).text, evil)
  end)
  it("injects the complexity field into a query's top selection", function()
    local d, ok_ = g.inject_complexity('query ($x: String = "{") { boards(ids: [1]) { id } }')
    ok(ok_)
    matches(d, '^query %(%$x: String = "{"%) {mh_complexity:complexity')
  end)
  it("rejects unknown fields, unknown and missing arguments, and values in select", function()
    local mon = client(function(req) return created(req) end)
    raises(function() mon:batch({ { field = "drop_everything", args = {} } }) end, "unknown mutation")
    raises(function() mon:batch({ { field = "create_item", args = { board_id = 1 } } }) end, "needs item_name")
    raises(function() mon:batch({ { field = "create_item", args = { board_id = 1, item_name = "a", nope = 1 } } }) end, "no argument nope")
    raises(function() mon:batch({ { field = "create_item", args = { board_id = 1, item_name = "a" }, select = 'id name(x:"1")' } }) end, "select")
  end)
end)

describe("request builder (native.prepare / native.build)", function()
  local ref = require "graphql_reference"
  local AWK = { "plain", 'quote " and \\ backslash', "tab\tnew\nline\r", "\1\31\127 ctl", "emoji 😀 ü", "", "}{)($:", '{"json":"text"}' }
  local function rand_value(depth)
    local r = math.random(8)
    if r == 1 then return math.random(-1000, 1000)
    elseif r == 2 then return math.random() * 1e6
    elseif r == 3 then return math.random(2) == 1
    elseif r == 4 then return cjson.null
    elseif r == 5 and depth < 3 then
      local t = {}
      for k = 1, math.random(0, 4) do t[k] = rand_value(depth + 1) end
      return t
    elseif r == 6 and depth < 3 then
      local t = {}
      for _ = 1, math.random(0, 5) do t[AWK[math.random(#AWK)] .. math.random(20)] = rand_value(depth + 1) end
      return t
    end
    return AWK[math.random(#AWK)] .. math.random(1000)
  end
  local COLS = { "text_mk1", "status", "date4", "numbers", "text_mk10", "text_mk2", "a", "b_1", 7 }
  local function rand_op(i)
    local kind = math.random(5)
    local cv
    if math.random(3) > 1 then
      cv = {}
      -- usually the same key set (the key-order cache), sometimes another
      local nc = math.random(4) > 1 and #COLS or math.random(0, #COLS)
      for k = 1, nc do cv[COLS[k]] = rand_value(1) end
      if math.random(6) == 1 then cv = cjson.encode(cv) end
    end
    local sel = ({ nil, "id", "id name", false, "id\tname\n board { id }" })[math.random(5)]
    if kind == 1 then
      return { field = "create_item", select = sel, args = { board_id = 9200517329, item_name = AWK[math.random(#AWK)] .. i,
        column_values = cv, group_id = math.random(2) == 1 and "topics" or nil } }
    elseif kind == 2 then
      return { field = "create_subitem", select = sel, args = { parent_item_id = tostring(1000 + i), item_name = "S" .. i, column_values = cv } }
    elseif kind == 3 then
      return { field = "change_multiple_column_values", select = sel, args = { item_id = i, board_id = 1, column_values = cv or {} } }
    elseif kind == 4 then
      return { field = "change_column_value", select = sel, args = { item_id = i, board_id = 1, column_id = "status", value = rand_value(1) } }
    end
    return { field = "delete_item", select = sel, args = { item_id = i } }
  end
  local function built(mon, ops, types)
    local spec = types and native.spec(types) or mon.spec
    local ps = {}
    for i, op in ipairs(ops) do ps[i] = native.prepare(spec, op, i, true) end
    return native.build(spec, ps), ps
  end
  it("writes the same bytes as the Lua builder it replaces", function()
    math.randomseed(42)
    local mon = client(function(req) return created(req) end)
    for _, n in ipairs({ 0, 1, 2, 9, 10, 11, 99, 100, 101, 257, 1000 }) do
      local ops = {}
      for i = 1, n do ops[i] = rand_op(i) end
      local body = built(mon, ops)
      eq(body, ref.body(ops, g.arg_types), n .. " ops")
      ok(cjson.decode(body).query, "valid JSON")
    end
  end)
  it("sorts variables of argument names that prefix each other like the encoder does", function()
    math.randomseed(7)
    local types = { f = { a = "String", a_1 = "Int", a_x = "String", aB = "String", item = "ID", itemA = "ID", ["item_"] = "ID" },
      g = { a = "String", b = "JSON" } }
    for _, n in ipairs({ 1, 12, 150 }) do
      local ops = {}
      for i = 1, n do
        if i % 3 == 0 then ops[i] = { field = "g", args = { a = "x" .. i, b = { z = i, y = { i } } } }
        else ops[i] = { field = "f", args = { a = "v" .. i, a_1 = i % 2 == 0 and i or nil, a_x = "w", aB = "q", item = i, itemA = -i, ["item_"] = i } } end
      end
      eq(built(nil, ops, types), ref.body(ops, types), n .. " ops")
    end
  end)
  it("snapshots arguments: changing the caller's tables later does not change the bytes", function()
    local mon = client(function(req) return created(req) end)
    local ops = { { field = "create_item", args = { board_id = 1, item_name = "A", column_values = { text = "x" } } } }
    local body, ps = built(mon, ops)
    ops[1].args.item_name = "B"; ops[1].args.column_values.text = "y"
    eq(native.build(mon.spec, ps), body)
  end)
  it("finds each op's lane and column count", function()
    local mon = client(function(req) return created(req) end)
    local p = native.prepare(mon.spec, { field = "create_item", args = { board_id = 9200517329, item_name = "a", column_values = { x = 1, y = 2 } } }, 3, true)
    eq({ p.i, p.field, p.lane, p.ncols, p.attempts }, { 3, "create_item", "9200517329", 2, 0 })
    p = native.prepare(mon.spec, { field = "create_subitem", args = { parent_item_id = 1, item_name = "a", column_values = '{"a":1}' } }, 1, true)
    eq(p.lane, "?"); eq(p.ncols, nil, "JSON text: counted by graphql.lua")
    eq(native.prepare(mon.spec, { field = "delete_item", board = 5, args = { item_id = 1 } }, 1, true).lane, "5")
    eq(native.prepare(mon.spec, { field = "delete_item", args = { item_id = 1 } }, 1, false).lane, "*")
    raises(function() native.prepare(mon.spec, "x", 1, true) end, "expected")
    raises(function() native.prepare(mon.spec, { field = "create_item", args = { board_id = 1, item_name = "a", column_values = { f = print } } }, 1, true) end, "cannot encode")
    raises(function() native.build(mon.spec, { { enc = "\0\1" } }) end, "prepared op")
  end)
end)

describe("governor", function()
  local cfg
  before_each(function()
    cfg = {}
    for k, v in pairs(g.defaults) do cfg[k] = v end
  end)
  it("learns the cost per op and its slope per column value", function()
    local now = 0
    local gov = g.governor(cfg, function() return now end)
    gov:learn({ { field = "create_item", ncols = 2 }, { field = "create_item", ncols = 2 } }, 22000)
    ok(math.abs(gov:estimate("create_item", 2) / (1 + cfg.margin) - 11000) < 1)
    -- one slope observed: ops with more columns cost more, never less
    ok(gov:estimate("create_item", 10) > gov:estimate("create_item", 2))
    gov:learn({ { field = "create_item", ncols = 10 } }, 15000)
    ok(math.abs(gov:estimate("create_item", 6) / (1 + cfg.margin) - 13000) < 1)
    -- a field never seen is assumed as dear as the dearest known
    ok(gov:estimate("create_subitem", 0) >= gov:estimate("create_item", 2))
  end)
  it("sizes a request to the budget left and waits for the reset", function()
    local now = 0
    cfg.complexity_per_minute = 1000000
    local gov = g.governor(cfg, function() return now end)
    gov:learn({ { field = "create_item", ncols = 0 } }, 10000)
    local ops = {}
    for i = 1, 500 do ops[i] = { field = "create_item", ncols = 0 } end
    local n = gov:fit(ops, 1, 500, now, true)
    eq(n, math.floor(1000000 / (10000 * (1 + cfg.margin))))
    local req = { est = n * gov:estimate("create_item", 0), nmut = n }
    gov:reserve(req, now)
    -- the server's word wins: less is left than we thought (another client)
    gov:observe(req, { headers = {} }, 0.2, { query = n * 10000, before = 1000000, after = 25000, reset_in_x_seconds = 42 })
    eq(gov:fit(ops, n + 1, 500, 0.2, true), 2, "the remainder is used")
    gov:sync("complexity", 5000, 41.8, 0.2)
    local n2, wake = gov:fit(ops, n + 1, 500, 0.2, true)
    eq(n2, 0); eq(wake, 42)
    now = 42.3
    ok(gov:fit(ops, n + 1, 500, now, true) > 0)
  end)
  it("keeps to the per-request cap and the mutations left in the minute", function()
    local gov = g.governor(cfg, function() return 0 end)
    gov:learn({ { field = "create_item", ncols = 0 } }, 10000)
    local ops = {}
    for i = 1, 3000 do ops[i] = { field = "create_item", ncols = 0 } end
    local n = gov:fit(ops, 1, 3000, 0, true)
    ok(n * 10000 <= cfg.complexity_per_request, "cap")
    gov:sync("mutations", 7, 30, 0)
    eq(gov:fit(ops, 1, 3000, 0, true), 7)
  end)
  it("reads RateLimit headers", function()
    local r = g.parse_ratelimit('"complexity";r=9000;t=40, "requests";r=12;t=3', '"complexity";q=10000000;w=60')
    eq(r.complexity.remaining, 9000); eq(r.complexity.reset, 40); eq(r.complexity.limit, 10000000)
    eq(r.requests.remaining, 12)
  end)
end)

describe("batch", function()
  it("returns one result per op in input order, in one request when it fits", function()
    local mon, eng = client(function(req) return created(req) end)
    local res, sum = mon:batch(items(69))
    eq(#eng.sent, 1)
    eq(#res, 69)
    for i = 1, 69 do eq(res[i].data.id, tostring(100 + i)) end
    eq(sum.ok, 69)
  end)
  it("retries 5xx, 429 and transport failures with the same Idempotency-Key", function()
    local script = {
      function() return { status = 502, body = "<html>bad gateway</html>" } end,
      function() return { status = 429, body = cjson.encode({ errors = { { message = "Rate", extensions = { code = "RATE_LIMIT_EXCEEDED", retry_in_seconds = 7 } } } }), headers = { ["retry-after"] = "7" } } end,
      function() return { status = 0, error = "Recv failure: Connection reset by peer" } end,
      function(req) return created(req) end,
    }
    local mon, eng = client(function(req, n) return script[n](req) end)
    local keys = {}
    local res = mon:batch(items(3), { before_send = function(r) keys[#keys + 1] = r.key; eq(#eng.sent, 0, "before_send runs before sending") end })
    eq(#eng.sent, 4)
    eq(#keys, 1)
    for _, s in ipairs(eng.sent) do eq(s.headers["idempotency-key"], keys[1]); eq(s.body, eng.sent[1].body) end
    for i = 1, 3 do ok(res[i].ok); eq(res[i].key, keys[1]) end
    ok(eng.clock.now >= 1007, "waited for Retry-After")
  end)
  it("never retries validation errors", function()
    local mon, eng = client(function()
      return { status = 200, body = cjson.encode({ errors = { { message = "Field 'x' doesn't exist", extensions = { code = "GRAPHQL_VALIDATION_FAILED" } } } }) }
    end)
    local res = mon:batch(items(2))
    eq(#eng.sent, 1)
    eq(res[1].ok, false); eq(res[1].code, "GRAPHQL_VALIDATION_FAILED"); eq(res[1].retryable, false)
  end)
  it("keeps per-op failures per op and re-sends only transient ones", function()
    local mon, eng = client(function(req, n)
      if n == 1 then
        return created(req, 10000, {
          { message = "invalid value", path = { "op2" }, extensions = { code = "ColumnValueException", error_data = { column_id = "x" } } },
          { message = "Internal server error", path = { "op3" }, extensions = { code = "INTERNAL_SERVER_ERROR", status_code = 500 } },
        })
      end
      return created(req)
    end)
    local res = mon:batch(items(4))
    eq(#eng.sent, 2)
    ok(res[1].ok); ok(res[4].ok)
    eq(res[2].ok, false); eq(res[2].code, "ColumnValueException"); eq(res[2].retryable, false)
    eq(res[2].details.column_id, "x")
    ok(res[3].ok, "transient per-op error re-sent")
    ok(eng.sent[2].headers["idempotency-key"] ~= eng.sent[1].headers["idempotency-key"], "a new request gets a new key")
    eq(eng.sent[2].doc.variables.item_name_1, "Order 3")
  end)
  it("stops on DAILY_LIMIT_EXCEEDED and reports every unsent op as not sent", function()
    local mon, eng = client(function(req, n)
      if n == 1 then return created(req) end
      return { status = 429, body = cjson.encode({ errors = { { message = "Daily limit exceeded", extensions = { code = "DAILY_LIMIT_EXCEEDED", retry_in_seconds = 3600 } } } }) }
    end, { max_ops_per_request = 10 })
    local res, sum = mon:batch(items(35))
    eq(#eng.sent, 2)
    eq(sum.stopped, "DAILY_LIMIT_EXCEEDED")
    for i = 1, 10 do ok(res[i].ok) end
    for i = 11, 35 do eq(res[i].ok, false); eq(res[i].code, "DAILY_LIMIT_EXCEEDED"); eq(res[i].sent, false) end
  end)
  it("splits a request that monday finds too complex", function()
    local mon, eng = client(function(req, n)
      if n == 1 then
        return { status = 200, body = cjson.encode({ errors = { { message = "Query has complexity of 9000000, which exceeds max complexity of 5000000", extensions = { code = "maxComplexityExceeded", complexity = 9000000 } } } }) }
      end
      return created(req, 90000)
    end)
    local res = mon:batch(items(100))
    for i = 1, 100 do ok(res[i].ok, "op " .. i) end
    ok(#eng.sent >= 3)
  end)
  it("re-sends a given set of ops under a given key (crash recovery)", function()
    local mon, eng = client(function(req) return created(req) end)
    local first = mon:batch(items(5), { idempotency_key = "k-123" })
    local again = mon:batch(items(5), { idempotency_key = "k-123" })
    eq(#eng.sent, 2)
    eq(eng.sent[1].headers["idempotency-key"], "k-123")
    eq(eng.sent[2].body, eng.sent[1].body, "same ops, same bytes: the server can replay")
    eq(first[5].key, "k-123"); ok(again[5].ok)
  end)
  it("sends mutations on one board one after another, different boards together", function()
    local max_by_board, inflight, total, max_total = {}, {}, 0, 0
    local mon, eng = client(function(req) return created(req) end, { max_ops_per_request = 2, concurrency = 4 })
    local function board(id) return eng.sent[id].doc.variables.board_id_1 end
    local submit = eng.submit
    function eng:submit(t)
      local id = submit(self, t)
      local b = board(id)
      inflight[b] = (inflight[b] or 0) + 1
      total = total + 1
      max_by_board[b] = math.max(max_by_board[b] or 0, inflight[b])
      max_total = math.max(max_total, total)
      return id
    end
    local wait = eng.wait
    function eng:wait(t)
      local out = wait(self, t)
      for _, r in ipairs(out) do local b = board(r.id); inflight[b] = inflight[b] - 1; total = total - 1 end
      return out
    end
    local ops = items(6, "1")
    for _, o in ipairs(items(6, "2")) do ops[#ops + 1] = o end
    local res = mon:batch(ops)
    for i = 1, 12 do ok(res[i].ok) end
    eq(max_by_board["1"], 1); eq(max_by_board["2"], 1)
    eq(max_total, 2, "the two boards went in parallel")
    eq(#eng.sent, 6)
  end)
end)

describe("query", function()
  it("returns data, errors and meta, without the complexity field in data", function()
    local mon = client(function(req)
      return { status = 200, headers = { ratelimit = '"complexity";r=99;t=5' },
        body = cjson.encode({ data = { me = { id = "1" }, mh_complexity = { query = 2, before = 100, after = 98, reset_in_x_seconds = 5 } }, extensions = { request_id = "rq-1" } }) }
    end)
    local data, errs, meta = mon:query("query { me { id } }")
    eq(data, { me = { id = "1" } }); eq(errs, nil)
    eq(meta.status, 200); eq(meta.complexity.query, 2); eq(meta.request_id, "rq-1"); eq(meta.attempts, 1)
    eq(meta.rate_limit.complexity.remaining, 99)
  end)
end)

describe("token", function()
  it("never appears in errors, dumps, tracebacks or logs", function()
    local token = "tok-SECRET-5f1e2d3c"
    local eng = native.engine { token = token }
    local mon = g.client { token = token, url = "http://127.0.0.1:9/v2", max_attempts = 1, timeout = 2, connect_timeout = 1 }
    -- a request that fails at the transport
    local data, errs, meta = mon:query("query { me { id } }")
    eq(data, nil)
    local seen = {}
    local function walk(v, depth)
      if depth > 12 then return "" end
      if type(v) == "string" then return v end
      if type(v) ~= "table" or seen[v] then return tostring(v) end
      seen[v] = true
      local parts = {}
      for k, x in pairs(v) do parts[#parts + 1] = walk(k, depth + 1) .. "=" .. walk(x, depth + 1) end
      local mt = getmetatable(v)
      if type(mt) == "table" then parts[#parts + 1] = walk(mt, depth + 1) end
      return table.concat(parts, " ")
    end
    local dump = walk({ mon, errs, meta, tostring(mon), tostring(eng) }, 0)
    ok(not dump:find(token, 1, true), "token in a dump")
    local okc, tb = xpcall(function() mon:batch({ { field = "create_item", args = { board_id = 1 } } }) end, debug.traceback)
    ok(not okc); ok(not tb:find(token, 1, true), "token in a traceback")
    eq(log.redact("Authorization: " .. token), "Authorization: [REDACTED]")
    eng:close(); mon:close()
  end)
  it("comes from MONDAY_API_TOKEN when not given, and is required", function()
    if os.getenv("MONDAY_API_TOKEN") then skip("MONDAY_API_TOKEN is set in this environment") end
    raises(function() g.client { url = "http://127.0.0.1:9/v2" } end, "no monday token")
  end)
end)
