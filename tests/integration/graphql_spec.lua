-- monhost.graphql against the monday emulator over HTTP: batching, the
-- budget governor, faults, injection and TLS. Needs node (tests/emulator);
-- skips when the emulator cannot start. MONHOST_QUICK=1 skips the long ones.
local g = require "monhost.graphql"
local emulator = require "emulator"
local cjson = require "cjson"
local sys = require "monhost.sys"

local REF = "../shared/reference/legacy-pipeline/"
local ITEMS, SUBITEMS = 9200517329, 9200771505
local quick = os.getenv("MONHOST_QUICK")

local function read(path)
  local f = assert(io.open(path)); local s = f:read("a"); f:close(); return s
end

-- column ids by type/title, from the board metadata the emulator loads
local function column(board_file, pred)
  for _, c in ipairs(cjson.decode(read(REF .. board_file)).columns) do
    if pred(c) then return c.monday_id end
  end
end
local TEXT = column("board_9200517329_metadata.json", function(c) return c.monday_type == "text" and not c.is_system_field end)
local SIZE = column("board_9200771505_metadata.json", function(c) return c.monday_title == "Size" end)
local QTY = column("board_9200771505_metadata.json", function(c) return c.monday_type == "numbers" and c.monday_title:lower():find("order") end)

local emu
local function start(config)
  local e, why = emulator.start { config = config }
  if not e then skip(why) end
  emu = e
  return e
end
after_each(function() if emu then emu:stop(); emu = nil end end)

local function mutation_requests(log)
  local out = {}
  for _, r in ipairs(log.requests) do if r.operation == "mutation" then out[#out + 1] = r end end
  return out
end

-- every document sent validates against monday's published schema
local function validate_all(requests)
  local dir = sys.tmpdir("mhval")
  local argv = { "tests/emulator/validate", "--json", "--quiet" }
  for k, r in ipairs(requests) do
    local p = dir .. "/" .. k .. ".json"
    local f = assert(io.open(p, "w"))
    f:write(cjson.encode({ query = r.document, variables = r.variables }))
    f:close()
    argv[#argv + 1] = p
  end
  local pid = sys.spawn(argv, { stdout = dir .. "/out", stderr = dir .. "/err" })
  local _, code = sys.wait(pid)
  local out = read(dir .. "/out") .. read(dir .. "/err")
  for k = 1, #requests do os.remove(dir .. "/" .. k .. ".json") end
  os.remove(dir .. "/out"); os.remove(dir .. "/err"); os.remove(dir)
  eq(code, 0, "documents valid at monday: " .. out:sub(1, 600))
end

local function items_by_name(state)
  local by = {}
  for _, b in ipairs(state.boards) do
    for _, it in ipairs(b.items) do
      by[it.name] = by[it.name] or {}
      table.insert(by[it.name], it)
    end
  end
  return by
end

describe("graphql against the emulator", function()
  it("sends 69 items and 264 subitems in at most 4 requests, all valid at monday", function()
    local e = start()
    local mon = g.client { url = e.gql, token = "test-token" }
    local orders = {}
    for i = 1, 69 do
      orders[i] = { field = "create_item", args = { board_id = ITEMS, item_name = "STYLE" .. i .. " NAVY PO" .. (5000 + i),
        column_values = { [TEXT] = "order " .. i } } }
    end
    local res = mon:batch(orders)
    local subs, sizes = {}, { "XS", "S", "M", "L" }
    for i = 1, 264 do
      local parent = res[(i - 1) % 69 + 1]
      ok(parent.ok, "item created")
      subs[i] = { field = "create_subitem", args = { parent_item_id = parent.data.id, item_name = "Size " .. sizes[i % 4 + 1],
        column_values = { [SIZE] = { labels = { sizes[i % 4 + 1] } }, [QTY] = tostring(i) }, create_labels_if_missing = true } }
    end
    local sres = mon:batch(subs)
    for i = 1, 264 do ok(sres[i].ok, "subitem " .. i .. ": " .. tostring(sres[i].error)) end
    local reqs = mutation_requests(e:log())
    ok(#reqs <= 4, "requests: " .. #reqs)
    validate_all(reqs)
    local st = e:state()
    local n = 0
    for _, b in ipairs(st.boards) do n = n + #b.items end
    eq(n, 333)
  end)

  it("brings awkward names and values byte for byte (no injection)", function()
    local e = start()
    local mon = g.client { url = e.gql, token = "test-token" }
    local names = {
      'quote " double', "single ' quote", "back\\slash \\\" mixed", "brace } { ) ( $var @dir",
      "new\nline and\ttab", "emoji \u{1F9F5}\u{1F455} ünïcödé", string.rep("L", 300),
      'x") { id } delete_item(item_id: 1) { id } #',
    }
    local ops = {}
    for k, s in ipairs(names) do
      ops[k] = { field = "create_item", args = { board_id = ITEMS, item_name = s, column_values = { [TEXT] = s } } }
    end
    local res = mon:batch(ops)
    local by = items_by_name(e:state())
    for k, s in ipairs(names) do
      if res[k].ok then
        ok(by[s] and #by[s] == 1, "item named exactly " .. s:sub(1, 40))
        eq(by[s][1].column_values[TEXT].value, s)
      else
        ok(res[k].code, "failed with monday's error")
      end
    end
    validate_all(mutation_requests(e:log()))
  end)

  it("creates every op exactly once or reports why, under injected faults", function()
    if quick then skip("MONHOST_QUICK") end
    local e = start { faults = { seed = 7, rate_5xx = 0.05, rate_429 = 0.05, rate_timeout = 0.03,
      rate_reset_before = 0.03, rate_reset_after = 0.04, rate_truncate = 0.03, rate_alias_error = 0.05,
      timeout_ms = 1500, retry_in_seconds = 1 } }
    local mon = g.client { url = e.gql, token = "test-token", timeout = 1, max_ops_per_request = 50,
      backoff_base = 0.05, backoff_cap = 0.5 }
    local ops = {}
    for i = 1, 2000 do ops[i] = { field = "create_item", args = { board_id = ITEMS, item_name = "F-" .. i } } end
    local res, sum = mon:batch(ops)
    local by = items_by_name(e:state())
    local okn = 0
    for i = 1, 2000 do
      local got = by["F-" .. i] or {}
      ok(#got <= 1, "F-" .. i .. " created " .. #got .. " times")
      if res[i].ok then
        okn = okn + 1
        eq(#got, 1, "F-" .. i .. " reported created")
        eq(got[1].id, res[i].data.id)
      else
        ok(res[i].code and res[i].error, "failed op has a reason")
      end
    end
    local stats = e:stats()
    ok(next(stats.faults) ~= nil, "faults were injected")
    print(string.format("# faults: %s; %d/2000 created, %d requests, %d replays",
      cjson.encode(stats.faults), okn, sum.requests, stats.idempotent_replays))
    ok(okn > 1900, "nearly all created: " .. okn)
  end)

  it("keeps within a small budget without hitting COMPLEXITY_BUDGET_EXHAUSTED", function()
    if quick then skip("MONHOST_QUICK") end
    local e = start { time_scale = 60, limits = { complexity_per_minute = 2500000 } }
    local mon = g.client { url = e.gql, token = "test-token" }
    local ops = {}
    for i = 1, 5000 do ops[i] = { field = "create_item", args = { board_id = ITEMS, item_name = "B-" .. i } } end
    local res = mon:batch(ops)
    for i = 1, 5000 do ok(res[i].ok, "op " .. i .. ": " .. tostring(res[i].code)) end
    local reqs = mutation_requests(e:log())
    for k = 2, #reqs do
      for _, c in ipairs(reqs[k].error_codes) do ok(c ~= "COMPLEXITY_BUDGET_EXHAUSTED", "request " .. k .. " over budget") end
    end
    local st = e:stats()
    eq(st.overlapping_mutations, {})
    eq(st.max_concurrent_mutations[tostring(ITEMS)], 1)
  end)

  it("waits out a 423 board lock and overlapping requests are never sent", function()
    local e = start { board_lock = { mode = "423_on_overlap" }, faults = { next = { "429", "500" }, retry_in_seconds = 1 } }
    local mon = g.client { url = e.gql, token = "test-token", max_ops_per_request = 10, concurrency = 8,
      backoff_base = 0.05 }
    local ops = {}
    for i = 1, 60 do ops[i] = { field = "create_item", args = { board_id = ITEMS, item_name = "L-" .. i } } end
    local res = mon:batch(ops)
    for i = 1, 60 do ok(res[i].ok) end
    local st = e:stats()
    eq(st.overlapping_mutations, {})
    eq(st.faults["429"], 1); eq(st.faults["500"], 1)
  end)

  it("answers queries with data, errors and meta", function()
    local e = start()
    local mon = g.client { url = e.gql, token = "test-token" }
    local data, errs, meta = mon:query("query ($ids: [ID!]) { boards(ids: $ids) { id name } }", { ids = { ITEMS } })
    eq(errs, nil)
    eq(data.boards[1].id, tostring(ITEMS))
    eq(meta.status, 200); ok(meta.complexity.query > 0); ok(meta.request_id)
    local d2, e2 = mon:query("query { no_such_field }")
    eq(d2, nil); eq(e2[1].extensions.code, "GRAPHQL_VALIDATION_FAILED")
    local _, e3, m3 = g.client { url = e.gql, token = "wrong-token" }:query("query { me { id } }")
    eq(m3.status, 401); ok(e3[1].message)
  end)
end)

describe("TLS", function()
  it("fails closed on a self-signed certificate unless its CA file is given", function()
    local dir = sys.tmpdir("mhtls")
    local pid = sys.spawn({ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir .. "/k.pem",
      "-out", dir .. "/c.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1" },
      { stdout = "/dev/null", stderr = "/dev/null" })
    local _, code = sys.wait(pid)
    if code ~= 0 then skip("openssl cannot make a certificate") end
    -- a tiny HTTPS server answering every POST with a GraphQL reply; prints its port
    local js = [[
      const fs = require('fs');
      const s = require('https').createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) },
        (q, r) => { q.resume(); q.on('end', () => { r.writeHead(200, { 'Content-Type': 'application/json' }); r.end('{"data":{"me":{"id":"1"}}}'); }); });
      s.listen(0, '127.0.0.1', () => console.log(s.address().port));
      setTimeout(() => process.exit(0), 60000);
    ]]
    local srv = sys.spawn({ "node", "-e", js, dir .. "/k.pem", dir .. "/c.pem" }, { stdout = dir .. "/port", stderr = "/dev/null" })
    local port
    for _ = 1, 600 do -- up to 30 s: node starts slowly on a loaded 2-core machine
      local f = io.open(dir .. "/port"); port = f and f:read("n"); if f then f:close() end
      if port then break end
      sys.sleep(0.05)
    end
    local function cleanup()
      sys.kill(srv, 15); sys.wait(srv)
      os.remove(dir .. "/k.pem"); os.remove(dir .. "/c.pem"); os.remove(dir .. "/port"); os.remove(dir)
    end
    local okr, err = pcall(function()
      local url = "https://127.0.0.1:" .. port .. "/v2"
      local with_ca = g.client { url = url, token = "test-token", ca_file = dir .. "/c.pem", max_attempts = 1, timeout = 30 }
      ok(port, "https server started")
      local data, errs, meta = with_ca:query("query { me { id } }")
      eq(errs, nil); eq(data.me.id, "1", "TLS handshake with the configured CA")
      eq(meta.status, 200)
      local plain = g.client { url = url, token = "test-token", max_attempts = 1, timeout = 30 }
      local data, errs, m = plain:query("query { me { id } }")
      eq(data, nil); ok(m.status == 0 or m.status == nil, "no HTTP exchange")
      matches(errs[1].message:lower(), "certificate")
    end)
    cleanup()
    if not okr then error(err, 0) end
  end)
end)
