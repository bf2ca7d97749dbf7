-- make bench: monhost.odbc bulk insert and streaming fetch vs the baselines,
-- side by side on the same generated staging-shaped rows (12 mixed columns):
-- pyodbc fast_executemany (Debian's python3-pyodbc), row-by-row inserts (the
-- legacy way), and the databases' own bulk loaders (psql \copy, sqlite3
-- .import). Prints rows/s and ratios; no absolute claims.
package.path = "tests/support/?.lua;" .. package.path
local odbc = require "monhost.odbc"
local sys = require "monhost.sys"
local pg = require "pg"
local dbs = require "db"

local N = tonumber(os.getenv("MONHOST_BENCH_ROWS") or "") or 200000
local N_SLOW = math.min(N, 5000)     -- row-by-row and pyodbc on PostgreSQL
local N_FETCH = tonumber(os.getenv("MONHOST_BENCH_FETCH") or "") or 1000000
local COLS = { "order_no", "customer", "style", "color", "order_date", "qty", "price", "season", "facility",
  "note", "item_id", "weight" }
local DDL = [[CREATE TABLE stg (stg_id %s, order_no VARCHAR(40), customer TEXT, style TEXT, color TEXT,
  order_date DATE, qty INTEGER, price NUMERIC(12,2), season TEXT, facility TEXT, note TEXT, item_id BIGINT,
  weight DOUBLE PRECISION)]]

local function gen(i)
  return { "AAG-" .. i, "Customer " .. (i % 97), "ST" .. (i % 5000), (i % 3 == 0) and "Größe rot" or "navy",
    string.format("2024-%02d-%02d", 1 + i % 12, 1 + i % 28), i % 1000, string.format("%d.%02d", i % 500, i % 100),
    "SS25", (i % 7 == 0) and odbc.null or "F" .. (i % 7), "note " .. i, 1000000000 + i, (i % 100) / 4 }
end
local rows = {}
for i = 1, N do rows[i] = gen(i) end

local tmp = assert(sys.tmpdir("monhost-bench"))
os.execute("chmod 755 " .. tmp)
local csv = tmp .. "/rows.csv"
do
  local f = assert(io.open(csv, "w"))
  for _, r in ipairs(rows) do
    local t = {}
    for j, v in ipairs(r) do t[j] = v == odbc.null and "" or tostring(v) end
    f:write(table.concat(t, ","), "\n")
  end
  f:close()
  os.execute("chmod 644 " .. csv)
end

local function timed(fn)
  local t = sys.clock()
  local n = fn()
  return n / (sys.clock() - t)
end

-- The machine is shared and 2-core: each headline pair (monhost vs its
-- baseline) runs REPS times alternating, and the medians are compared.
local REPS = tonumber(os.getenv("MONHOST_BENCH_REPS") or "") or 3
local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function sh(cmd)
  local okk = os.execute(cmd)
  return okk
end

local results = {}
local function report(db, what, rate, base)
  results[#results + 1] = { db, what, rate, base }
end

-- PostgreSQL ---------------------------------------------------------------
local pcs = assert(pg.start())
local pdb = assert(odbc.connect(pcs))
local function reset(db, serial)
  db:exec("DROP TABLE IF EXISTS stg")
  assert(db:exec(string.format(DDL, serial)))
end

local function copy_in()
  local okk, o = pg.psql({ "-d", "monhost", "-qc", "\\copy stg (" .. table.concat(COLS, ",") .. ") from '" .. csv .. "' csv" })
  assert(okk, o)
  return N
end
local mh_pg_runs, copy_pg_runs = {}, {}
for i = 1, REPS do
  reset(pdb, "SERIAL PRIMARY KEY")
  mh_pg_runs[i] = timed(function() assert(pdb:insert_many("stg", COLS, rows)); return N end) -- unnest
  reset(pdb, "SERIAL PRIMARY KEY")
  copy_pg_runs[i] = timed(copy_in)
end
local mh_pg, copy_pg = median(mh_pg_runs), median(copy_pg_runs)
reset(pdb, "SERIAL PRIMARY KEY")
local mh_pg_values = timed(function() assert(pdb:insert_many("stg", COLS, rows, { strategy = "values" })); return N end)

reset(pdb, "SERIAL PRIMARY KEY")
local rbr_pg = timed(function()
  pdb:transaction(function()
    local sql = "INSERT INTO stg (" .. table.concat(COLS, ",") .. ") VALUES (" .. string.rep("?", #COLS, ",") .. ")"
    for i = 1, N_SLOW do assert(pdb:exec(sql, table.unpack(rows[i], 1, #COLS))) end
  end)
  return N_SLOW
end)

-- pyodbc fast_executemany on the same rows, regenerated in Python
local py = tmp .. "/pyodbc_bench.py"
do
  local f = assert(io.open(py, "w"))
  f:write([[
import sys, time, pyodbc
cs, n = sys.argv[1], int(sys.argv[2])
def gen(i):
    return ("AAG-%d" % i, "Customer %d" % (i % 97), "ST%d" % (i % 5000), "Größe rot" if i % 3 == 0 else "navy",
            "2024-%02d-%02d" % (1 + i % 12, 1 + i % 28), i % 1000, "%d.%02d" % (i % 500, i % 100), "SS25",
            None if i % 7 == 0 else "F%d" % (i % 7), "note %d" % i, 1000000000 + i, (i % 100) / 4)
rows = [gen(i) for i in range(1, n + 1)]
con = pyodbc.connect(cs, autocommit=False)
cur = con.cursor()
cur.fast_executemany = True
t = time.monotonic()
cur.executemany("INSERT INTO stg (order_no, customer, style, color, order_date, qty, price, season, facility, note, item_id, weight) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
con.commit()
print(n / (time.monotonic() - t))
]])
  f:close()
end
reset(pdb, "SERIAL PRIMARY KEY")
local p = io.popen(string.format("/usr/bin/python3 %s %s %d 2>&1", py, pg.sh_quote(pcs), N_SLOW))
local out = p:read("a")
p:close()
local py_pg = tonumber(out:match("([%d%.]+)%s*$"))
if not py_pg then io.stderr:write("pyodbc baseline failed: ", out, "\n") end



-- SQLite --------------------------------------------------------------------
local scs, spath = dbs.sqlite()
local sdb = assert(odbc.connect(scs))
-- .import into a staging copy: same columns, no stg_id
local imp_sql = tmp .. "/import.sql"
do
  local f = assert(io.open(imp_sql, "w"))
  f:write("DROP TABLE IF EXISTS stg_import;\nCREATE TABLE stg_import (order_no VARCHAR(40), customer TEXT, style TEXT, "
    .. "color TEXT, order_date DATE, qty INTEGER, price NUMERIC(12,2), season TEXT, facility TEXT, note TEXT, "
    .. "item_id BIGINT, weight DOUBLE PRECISION);\n.mode csv\n.import " .. csv .. " stg_import\n")
  f:close()
end
local mh_sl_runs, sl_import_runs = {}, {}
for i = 1, REPS do
  reset(sdb, "INTEGER PRIMARY KEY")
  mh_sl_runs[i] = timed(function() assert(sdb:insert_many("stg", COLS, rows)); return N end)
  sl_import_runs[i] = timed(function() assert(sh("sqlite3 " .. spath .. " < " .. imp_sql)); return N end)
end
local mh_sl, sl_import = median(mh_sl_runs), median(sl_import_runs)
reset(sdb, "INTEGER PRIMARY KEY")
local rbr_sl = timed(function()
  local sql = "INSERT INTO stg (" .. table.concat(COLS, ",") .. ") VALUES (" .. string.rep("?", #COLS, ",") .. ")"
  for i = 1, N_SLOW do assert(sdb:exec(sql, table.unpack(rows[i], 1, #COLS))) end -- autocommit: the legacy way
  return N_SLOW
end)
reset(sdb, "INTEGER PRIMARY KEY")
sdb:close()

os.execute("rm -rf '" .. tmp .. "'")

-- fetch last, with the generated rows freed: psql starts with an empty heap,
-- and 200,000 live rows (2.4M Lua values) make every GC cycle of the fetch
-- loop traverse them (measured: half the fetch rate)
rows = nil
collectgarbage()
collectgarbage()
-- fetch: stream N_FETCH rows vs psql \copy (query) to /dev/null
pdb:exec("DROP TABLE IF EXISTS big")
assert(pdb:exec("CREATE TABLE big AS SELECT g AS id, 'order ' || g AS name, (g % 1000) * 0.25 AS price, "
  .. "DATE '2024-01-01' + (g % 365) AS day, g % 7 AS grp FROM generate_series(1, " .. N_FETCH .. ") g"))
local function mh_fetch_run()
  local cur = assert(pdb:query("SELECT * FROM big"))
  local n = 0
  while true do
    local b = cur:fetch_many(5000)
    if #b == 0 then break end
    n = n + #b
  end
  assert(n == N_FETCH)
  return n
end
local function copy_fetch_run()
  assert(pg.psql({ "-d", "monhost", "-qc", "\\copy (SELECT * FROM big) to '/dev/null'" }))
  return N_FETCH
end
local mh_fetch_runs, copy_fetch_runs = {}, {}
for i = 1, REPS do
  collectgarbage()
  mh_fetch_runs[i] = timed(mh_fetch_run)
  copy_fetch_runs[i] = timed(copy_fetch_run)
end
local mh_fetch, copy_fetch = median(mh_fetch_runs), median(copy_fetch_runs)
pdb:close()


-- report ----------------------------------------------------------------------
local function r(x) return x and string.format("%10.0f", x) or "       n/a" end
local function ratio(a, b) return (a and b) and string.format("%7.2fx", a / b) or "    n/a" end
print(string.format("monhost.odbc bench: %d rows x %d columns (row-by-row and pyodbc on %d rows), fetch %d rows; "
  .. "monhost vs \\copy/.import: medians of %d alternating runs", N, #COLS, N_SLOW, N_FETCH, REPS))
print(string.format("%-10s %-44s %10s %8s %s", "db", "baseline", "rows/s", "ratio", "target"))
print(string.format("%-10s %-44s %s", "postgres", "monhost insert_many (unnest)", r(mh_pg)))
print(string.format("%-10s %-44s %s %s", "postgres", "monhost insert_many strategy=values", r(mh_pg_values), ratio(mh_pg, mh_pg_values)))
print(string.format("%-10s %-44s %s %s %s", "postgres", "pyodbc fast_executemany", r(py_pg), ratio(mh_pg, py_pg), ">= 40x"))
print(string.format("%-10s %-44s %s %s", "postgres", "row-by-row (legacy)", r(rbr_pg), ratio(mh_pg, rbr_pg)))
print(string.format("%-10s %-44s %s %s %s", "postgres", "psql \\copy from", r(copy_pg), ratio(mh_pg, copy_pg), ">= 0.45x"))
print(string.format("%-10s %-44s %s", "postgres", "monhost streaming fetch", r(mh_fetch)))
print(string.format("%-10s %-44s %s %s %s", "postgres", "psql \\copy (select) to", r(copy_fetch), ratio(mh_fetch, copy_fetch), ">= 0.5x"))
print(string.format("%-10s %-44s %s", "sqlite", "monhost insert_many", r(mh_sl)))
print(string.format("%-10s %-44s %s %s", "sqlite", "row-by-row (legacy, autocommit)", r(rbr_sl), ratio(mh_sl, rbr_sl)))
print(string.format("%-10s %-44s %s %s %s", "sqlite", "sqlite3 .import", r(sl_import), ratio(mh_sl, sl_import), ">= 0.8x"))
