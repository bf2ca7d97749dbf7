-- graphql.bench.lua: monhost.graphql against the emulator, side by side with
-- the baselines in the same run. Prints ratios only:
--   1. requests per 1,000 creates vs the legacy one-op-per-request client
--   2. budget-bound throughput as a fraction of the bound (target >= 95%)
--   3. client CPU per op vs a Python `requests` client sending the same
--      aliased batches, limits off (target >= 10x less)
package.path = "tests/support/?.lua;" .. package.path
local g = require "monhost.graphql"
local emulator = require "emulator"
local sys = require "monhost.sys"
local cjson = require "cjson"

local ITEMS = 9200517329
local function read(p) local f = assert(io.open(p)); local s = f:read("a"); f:close(); return s end
local TEXTS = {}
for _, c in ipairs(cjson.decode(read("../shared/reference/legacy-pipeline/board_9200517329_metadata.json")).columns) do
  if c.monday_type == "text" and not c.is_system_field and #TEXTS < 10 then TEXTS[#TEXTS + 1] = c.monday_id end
end

local function ops(n, prefix, ncols)
  local t = {}
  for i = 1, n do
    local cv
    if ncols and ncols > 0 then
      cv = {}
      for k = 1, ncols do cv[TEXTS[k]] = "value " .. i .. " " .. TEXTS[k] end
    end
    t[i] = { field = "create_item", args = { board_id = ITEMS, item_name = prefix .. i, column_values = cv } }
  end
  return t
end

local rows = {}
local function row(what, value, target) rows[#rows + 1] = { what, value, target or "" } end

-- 1. requests per 1,000 creates (default limits)
do
  local emu = assert(emulator.start {})
  local mon = g.client { url = emu.gql, token = "test-token" }
  local _, sum = mon:batch(ops(1000, "R-", 2))
  emu:stop()
  row("requests per 1,000 creates: legacy / monhost", string.format("1000 / %d = %.0fx fewer", sum.requests, 1000 / sum.requests))
  row("ops per request (monhost)", string.format("%.0f", 1000 / sum.requests), "legacy: 1")
end

-- 2. budget-bound throughput (complexity 2.5M/min, time scale 60)
do
  local scale, budget, n = 60, 2500000, 5000
  local emu = assert(emulator.start { config = { time_scale = scale, limits = { complexity_per_minute = budget } } })
  local mon = g.client { url = emu.gql, token = "test-token" }
  local starts = {} -- {time, ops before it} of requests that opened a budget window
  local sent_at, done_ops, cost, nops = {}, 0, 0, 0
  local t0 = sys.clock()
  local _, sum = mon:batch(ops(n, "T-"), {
    before_send = function(r) sent_at[r.key] = sys.clock() end,
    on_request = function(r)
      if r.complexity then
        if r.complexity.before >= budget then starts[#starts + 1] = { sent_at[r.key], done_ops } end
        cost, nops = cost + r.complexity.query, nops + #r.ops
      end
      done_ops = done_ops + #r.ops
    end })
  local elapsed = sys.clock() - t0
  emu:stop()
  local per_op = cost / nops
  local bound = math.min(budget / per_op, 2000) -- ops per emulated minute (mutations/min 2000)
  -- from the first window's start to the last window's start: whole windows only
  local first, last = starts[1], starts[#starts]
  local rate = (last[2] - first[2]) / ((last[1] - first[1]) * scale / 60)
  row("budget-bound throughput / bound", string.format("%.1f%% (%.0f of %.0f ops/min, %d windows)", 100 * rate / bound, rate, bound, #starts - 1), ">= 95%")
  row("budget-bound job: ops, requests, real seconds", string.format("%d, %d, %.1f", sum.ok, sum.requests, elapsed))
end

-- 3. CPU per op, limits off
do
  local n = 20000
  local emu = assert(emulator.start { config = { limits = { complexity_per_minute = 1e12, complexity_per_request = 1e12,
    mutations_per_minute = 1e9, requests_per_minute = 1e9 } } })
  local mon = g.client { url = emu.gql, token = "test-token", complexity_per_request = 1e12, complexity_per_minute = 1e12,
    mutations_per_minute = 1e9, max_ops_per_request = 500 }
  local list = ops(n, "C-", 10)
  collectgarbage() -- the op list's own garbage is not the client's work
  local c0 = sys.cpu_time()
  local _, sum = mon:batch(list)
  local mh_cpu = sys.cpu_time() - c0
  local dir = sys.tmpdir("mhbench")
  local pid = sys.spawn({ "/usr/bin/python3", "bench/graphql_baseline.py", emu.gql, tostring(n), "500",
    cjson.encode(TEXTS), tostring(ITEMS) }, { stdout = dir .. "/py", stderr = dir .. "/pyerr" })
  sys.wait(pid)
  local out = read(dir .. "/py")
  emu:stop()
  os.remove(dir .. "/py"); os.remove(dir .. "/pyerr"); os.remove(dir)
  local py = cjson.decode(out)
  row("client CPU per op: python requests / monhost", string.format("%.1f us / %.1f us = %.1fx", 1e6 * py.cpu / py.ok, 1e6 * mh_cpu / sum.ok,
    (py.cpu / py.ok) / (mh_cpu / sum.ok)), ">= 10x")
end

print(string.format("%-48s | %-44s | %s", "graphql (monhost vs baseline, same run)", "measured", "target"))
print(string.rep("-", 48) .. "-+-" .. string.rep("-", 44) .. "-+-------")
for _, r in ipairs(rows) do print(string.format("%-48s | %-44s | %s", r[1], r[2], r[3])) end
