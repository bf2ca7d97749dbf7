-- pipeline.bench.lua: the sync end to end, side by side in one run.
--  1. into staging: select + transform + bulk insert (monhost's stage step)
--     vs the same records inserted row by row (one INSERT per order and per
--     subitem, autocommit: what the legacy pipeline did), on the same SQLite
--     database and driver; the legacy pipeline's own reported figures (2.8
--     orders/s, 4 subitems/s) for reference.
--  2. monday requests per 100 orders (items + subitems) vs legacy (one
--     request per item and per subitem: 100 + 380 = 480).
--  3. on a time-scaled emulator with a real account's limits: the fraction
--     of the complexity-budget bound reached (complexity used per emulated
--     minute / the per-minute budget).
package.path = "tests/support/?.lua;" .. package.path
local P = require "pipeline"
local sys = require "monhost.sys"
local cjson = require "cjson"
local mapping = require "monhost.mapping"
local pipeline = require "monhost.pipeline"
local C = require "monhost.pipeline.common"

local N = tonumber(os.getenv("BENCH_ORDERS") or "") or 2000
local NE = tonumber(os.getenv("BENCH_E2E_ORDERS") or "") or 2000
local SCALE = tonumber(os.getenv("BENCH_TIME_SCALE") or "") or 60

local function plan_for(env)
  return assert(mapping.load("greyson", { board = P.REF .. "board_9200517329_metadata.json",
    subitem_board = P.REF .. "board_9200771505_metadata.json", columns = mapping.source_columns(P.TSV),
    mappings_dir = "mappings" }))
end

-- 1. staging ----------------------------------------------------------------
local env = assert(P.env { dialect = "sqlite", orders = { { customer = "GREYSON CLOTHIERS", count = N, seed = 5 } } })
local plan = plan_for(env)
local cfg = require("monhost.config").DEFAULTS
local ctx = pipeline.context { db = env.db, cfg = cfg, plan = plan, customer = "GREYSON", customers = plan.customers, quiet = true }
local t0 = sys.clock()
pipeline.select(ctx)
pipeline.stage(ctx)
local t_bulk = sys.clock() - t0
local nsub = ctx.stats.subitems_staged
assert(ctx.stats.staged == N, "staged " .. ctx.stats.staged)

-- the same records, row by row, into empty staging tables
local recs = {}
for row in env.db:rows("SELECT stg_id, batch_id, board_id, customer, mapping, source_key, key1, key2, key3, key4, item_name, group_name, column_values, row_hash FROM STG_MON_CustMasterSchedule ORDER BY stg_id") do
  recs[#recs + 1] = { item = row, subs = {} }
end
local byid = {}
for _, r in ipairs(recs) do byid[r.item[1]] = r end
for row in env.db:rows("SELECT stg_id, batch_id, board_id, subitem_board_id, source_key, subitem_key, size_label, item_name, qty, column_values FROM STG_MON_CustMasterSchedule_Subitems ORDER BY stg_sub_id") do
  table.insert(byid[row[1]].subs, row)
end
env.db:exec("DELETE FROM STG_MON_CustMasterSchedule_Subitems")
env.db:exec("DELETE FROM STG_MON_CustMasterSchedule")
local now = C.now()
t0 = sys.clock()
for _, r in ipairs(recs) do
  local it = r.item
  assert(env.db:exec("INSERT INTO STG_MON_CustMasterSchedule (batch_id, board_id, customer, mapping, source_key, key1, key2, key3, key4, "
    .. "item_name, group_name, column_values, row_hash, state, attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'PENDING',0,?,?)",
    it[2], it[3], it[4], it[5], it[6], it[7], it[8], it[9], it[10], it[11], it[12], it[13], it[14], now, now))
  local id = env.db:first("SELECT stg_id FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND source_key = ?", it[3], it[6])[1]
  for _, s in ipairs(r.subs) do
    assert(env.db:exec("INSERT INTO STG_MON_CustMasterSchedule_Subitems (stg_id, batch_id, board_id, subitem_board_id, source_key, "
      .. "subitem_key, size_label, item_name, qty, column_values, state, attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,'PENDING',0,?,?)",
      id, s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], now, now))
  end
end
local t_rows = sys.clock() - t0
env:close()

-- 2 + 3. end to end on the emulator ---------------------------------------
local LIMITS = { complexity_per_request = 5000000, complexity_per_minute = 10000000, mutations_per_minute = 2000,
  requests_per_minute = 5000 }
local e2 = assert(P.env { dialect = "sqlite", orders = { { customer = "GREYSON CLOTHIERS", count = NE, seed = 6 } },
  emulator = { config = { limits = LIMITS }, args = { "--time-scale", tostring(SCALE) } } })
local t1 = sys.clock()
local rc, out, err = e2:sync("--customer", "GREYSON", "--summary-json", e2.dir .. "/s.json")
local wall = sys.clock() - t1
assert(rc == 0, out .. err)
local s = cjson.decode(P.read(e2.dir .. "/s.json"))
local creates = 0
for _, e in ipairs(e2.emu:log().requests) do
  local d = e.document or ""
  if d:find("create_item", 1, true) or d:find("create_subitem", 1, true) then creates = creates + 1 end
end
local subs_e2 = s.subitems_created
e2:close()
local per100 = creates * 100 / NE
local legacy_per100 = 100 + 100 * subs_e2 / NE -- one request per item and per subitem
-- emulated minutes the sync took; the bound is budget * minutes
local minutes = s.duration * SCALE / 60
local fraction = s.complexity / (LIMITS.complexity_per_minute * math.max(minutes, 1 / 60))

local function row(name, a, b, ratio) print(("| %-44s | %14s | %14s | %8s |"):format(name, a, b, ratio)) end
print(("pipeline: %d orders / %d subitems into staging (SQLite); %d orders / %d subitems end to end, emulator x%d"):format(
  N, nsub, NE, subs_e2, SCALE))
row("measure", "monhost", "baseline", "ratio")
row("--------------------------------------------", "--------------", "--------------", "--------")
row("orders/s into staging vs row-by-row (same run)", ("%.0f"):format(N / t_bulk), ("%.0f"):format(N / t_rows), ("%.1fx"):format(t_rows / t_bulk))
row("subitems/s into staging vs row-by-row", ("%.0f"):format(nsub / t_bulk), ("%.0f"):format(nsub / t_rows), ("%.1fx"):format(t_rows / t_bulk))
row("orders/s into staging vs legacy (2.8/s)", ("%.0f"):format(N / t_bulk), "2.8", ("%.0fx"):format(N / t_bulk / 2.8))
row("subitems/s into staging vs legacy (4/s)", ("%.0f"):format(nsub / t_bulk), "4", ("%.0fx"):format(nsub / t_bulk / 4))
row("API requests per 100 orders vs legacy", ("%.1f"):format(per100), ("%.0f"):format(legacy_per100), ("%.0fx fewer"):format(legacy_per100 / per100))
row("complexity-budget bound reached (fraction)", ("%.2f"):format(fraction), "1.00", "")
print(("(end to end: %d requests for %d items + %d subitems, complexity %d, %.1f s wall = %.1f emulated min)"):format(
  creates, NE, subs_e2, s.complexity, wall, minutes))
