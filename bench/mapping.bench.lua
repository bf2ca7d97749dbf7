-- bench/mapping.bench.lua: the per-row hot path of a mapping, side by side
-- on the same generated ORDERS_UNIFIED rows in SQLite:
--   bare fetch (monhost.odbc)                 the limit
--   fetch + transform + column_values JSON    monhost (target >= 0.5x bare fetch)
--   the same in Python (sqlite3 + json)       the legacy approach (target: monhost >= 5x faster)
-- Prints ratios only (no absolute-time claims). MONHOST_BENCH_ROWS sets the size.
local odbc = require "monhost.odbc"
local sys = require "monhost.sys"
local cjson = require "cjson"
local mapping = require "monhost.mapping"
local orders = dofile("examples/orders.lua")

local REF = "../shared/reference/legacy-pipeline/"
local N = tonumber(os.getenv("MONHOST_BENCH_ROWS")) or 30000
local tmp = assert(sys.tmpdir("monhost-bench-map"))
local dbfile = tmp .. "/orders.db"
local connstr = "Driver=SQLite3;Database=" .. dbfile
local cols = orders.columns(REF .. "orders_unified_columns.tsv")

local db = assert(odbc.connect(connstr))
local per = N // #orders.CUSTOMERS
for i, c in ipairs(orders.CUSTOMERS) do
  orders.load(db, cols, { seed = i, count = per, customer = c.name })
end
local plan = assert(mapping.load("default", { board = REF .. "board_9200517329_metadata.json",
  subitem_board = REF .. "board_9200771505_metadata.json", columns = cols, mappings_dir = "mappings" }))
local q = function(n) return db:quote_ident(n) end
local sel = {}
for i, c in ipairs(plan.select_columns) do sel[i] = q(c) end
local SQL = "SELECT " .. table.concat(sel, ", ") .. " FROM ORDERS_UNIFIED"

local function bare()
  local cur = assert(db:query(SQL))
  local n = 0
  while true do
    local block = cur:fetch_many(500)
    if #block == 0 then break end
    n = n + #block
  end
  cur:close()
  return n
end

local function transform()
  local cur = assert(db:query(SQL))
  local n, subs, bytes = 0, 0, 0
  while true do
    local block = cur:fetch_many(500)
    if #block == 0 then break end
    for i = 1, #block do
      local rec = plan:transform(block[i])
      subs = subs + #rec.subitems
      bytes = bytes + #rec.column_values_json
    end
    n = n + #block
  end
  cur:close()
  return n, subs
end

local function best(f, reps)
  local b = math.huge
  local r1, r2
  for _ = 1, reps do
    collectgarbage()
    local t = sys.cpu_time() -- CPU time: other work on the machine does not count
    r1, r2 = f()
    b = math.min(b, sys.cpu_time() - t)
  end
  return b, r1, r2
end

-- the transform alone, on rows fetched beforehand (as Python's "transform" mode)
local all = {}
do
  local cur = assert(db:query(SQL))
  while true do
    local block = cur:fetch_many(500)
    if #block == 0 then break end
    for i = 1, #block do all[#all + 1] = block[i] end
  end
  cur:close()
end
local function transform_only(method)
  return function()
    local subs = 0
    for i = 1, #all do subs = subs + #plan[method](plan, all[i]).subitems end
    return #all, subs
  end
end

-- the Python baseline gets the same mapping as data
local entries = {}
for i, e in ipairs(plan.entries) do
  entries[i] = { id = e.id, type = e.type, source = e.source or "=customer", map = e.map }
end
local spec = { select = plan.select_columns, key = plan.key_columns, entries = entries, sizes = plan.sizes, customers = plan.canonical.lookup,
  clean = { ["US TARIFF RATE"] = { replace = { TRUE = "0" } }, ["CUSTOMER STYLE"] = { trim = true },
    ["STYLE DESCRIPTION"] = { trim = true }, ["CUSTOMER COLOUR DESCRIPTION"] = { trim = true } },
  size_column = plan.size_column_id, qty_column = plan.qty_column_id }
local f = assert(io.open(tmp .. "/spec.json", "wb"))
f:write(cjson.encode(spec))
f:close()

local tb = best(bare, 3)
local tt, nt, ns = best(transform, 3)
plan.eager_values = true
local tl = best(transform, 3)
plan.eager_values = nil
local tmt, n2, s2 = best(transform_only("transform"), 3)
local tlua = best(transform_only("transform_lua"), 1)
assert(n2 == nt and s2 == ns)
all = nil
collectgarbage()

local function python(mode, extra)
  local best_s = math.huge
  for _ = 1, 3 do
    local p = assert(io.popen("/usr/bin/python3 bench/mapping_legacy.py " .. dbfile .. " " .. tmp .. "/spec.json " ..
      mode .. (extra or "")))
    local line = p:read("a")
    p:close()
    local secs, rows, subs = line:match("([%d.]+) (%d+) (%d+)")
    assert(secs, "python baseline failed: " .. line)
    assert(tonumber(rows) == nt and (mode == "fetch" or tonumber(subs) == ns),
      ("python saw %s rows / %s subitems, monhost %d / %d"):format(rows, subs, nt, ns))
    best_s = math.min(best_s, tonumber(secs))
    extra = nil
  end
  return best_s
end
-- both sides must send the same thing: compare the first 200 records' JSON
local tp = python("full", " 200 " .. tmp .. "/py.jsonl")
do
  local f = assert(io.open(tmp .. "/py.jsonl"))
  local cur = assert(db:query(SQL))
  local block = cur:fetch_many(200)
  cur:close()
  local i, differ = 0, 0
  for line in f:lines() do
    i = i + 1
    if plan:transform(block[i]).column_values_json ~= line then differ = differ + 1 end
  end
  f:close()
  os.remove(tmp .. "/py.jsonl")
  assert(i == 200 and differ == 0, ("python and monhost column_values differ on %d of %d rows"):format(differ, i))
end
local tpf = python("fetch")
local tpt = python("transform")

-- The driver's own ceiling: the same SELECT in C through the SQLite ODBC
-- driver, no Lua and no transform (bench/sqlite_fetch_ceiling.c). Python's
-- whole job over that time is the most any ODBC client can be faster by.
local tceil
do
  local exe, sqlf = tmp .. "/ceil", tmp .. "/select.sql"
  local w = assert(io.open(sqlf, "wb"))
  w:write(SQL)
  w:close()
  if os.execute("cc -O2 -o '" .. exe .. "' bench/sqlite_fetch_ceiling.c -lodbc 2>/dev/null") then
    for _ = 1, 3 do
      local p = assert(io.popen("'" .. exe .. "' '" .. connstr .. "' '" .. sqlf .. "'"))
      local rows, secs = p:read("n", "n")
      p:close()
      if rows == nt and secs then tceil = math.min(tceil or math.huge, secs) end
    end
  end
  os.remove(exe)
  os.remove(sqlf)
end

print(("%d orders, %d subitems, %d columns selected (of %d), SQLite; best of 3, CPU time"):format(nt, ns,
  #plan.select_columns, #cols))
print(("%-60s %10s %s"):format("measure", "ratio", "target"))
local function row(what, r, target) print(("%-60s %9.2fx %s"):format(what, r, target or "")) end
row("fetch+transform+JSON vs bare fetch (throughput)", tb / tt, ">= 0.5x")
row("same, with column_values built eagerly as Lua tables", tb / tl, ">= 0.5x")
row("monhost vs Python sqlite3+json, fetch+transform", tp / tt, ">= 5x")
row("transform alone, pre-fetched rows: monhost vs Python", tpt / tmt)
row("bare fetch: monhost (ODBC) vs Python (sqlite3, in-process)", tpf / tb)
row("transform alone: native vs the Lua reference (transform_lua)", tlua / tmt)
row("transform alone vs bare fetch (cost share)", tmt / tb)
if tceil then
  row("ceiling: Python fetch+transform vs the driver's C fetch alone", tp / tceil, "(any ODBC client is at most this much faster)")
  row("monhost bare fetch vs the driver's C fetch alone", tceil / tb)
end
if os.getenv("MONHOST_BENCH_DEBUG") then
  print(("us/row: bare %.2f, fetch+transform %.2f, eager %.2f, transform %.2f, transform_lua %.2f; " ..
    "python: full %.2f, fetch %.2f, transform %.2f"):format(tb / nt * 1e6, tt / nt * 1e6, tl / nt * 1e6,
    tmt / nt * 1e6, tlua / nt * 1e6, tp / nt * 1e6, tpf / nt * 1e6, tpt / nt * 1e6))
end
db:close()
os.remove(dbfile)
os.remove(tmp .. "/spec.json")
