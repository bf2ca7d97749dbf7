-- pipeline_scale_spec.lua: 10,000 orders (~38,000 subitems) against an
-- emulator with a real account's limits (complexity 10M/minute, 5M per
-- request, 2,000 mutations/minute, 19,000 item creates/hour), time-scaled so
-- an emulated hour passes in seconds. The run must finish, every order must
-- be on the board exactly once, monday must never have refused a request
-- for the complexity budget, and the process must stay under 64 MB peak RSS
-- (orders are streamed through staging, never loaded whole).
-- Heavy: skipped when MONHOST_QUICK is set.
local P = require "pipeline"
local cjson = require "cjson"

local LIMITS = { complexity_per_request = 5000000, complexity_per_minute = 10000000, mutations_per_minute = 2000,
  requests_per_minute = 5000, items_per_hour = 19000 }

local DIALECTS = { "sqlite", "postgres" }
if os.getenv("MONHOST_SCALE_DIALECT") then DIALECTS = { os.getenv("MONHOST_SCALE_DIALECT") } end
for _, dialect in ipairs(DIALECTS) do
  describe(dialect, function()
    local env
    after_each(function() if env then env:close(); env = nil end end)

    it("10,000 orders: finishes within the budget, exactly once, peak RSS < 64 MB", function()
      if os.getenv("MONHOST_QUICK") then skip("MONHOST_QUICK") end
      local e, err = P.env { dialect = dialect,
        orders = { { customers = { "GREYSON CLOTHIERS", "JOHNNIE O", "LORNA JANE (AU)", "BOGGI MILANO", "CAMILLA (AU)" },
          count = 10000, seed = 10 } },
        emulator = { config = { limits = LIMITS }, args = { "--time-scale", "1200" } } }
      if not e then skip(err) end
      env = e
      ok(env.expected_subitems > 30000, "about 3.8 sizes per order: " .. env.expected_subitems)
      local summary = env.dir .. "/summary.json"
      local rc, o, er = env:sync("--all", "--summary-json", summary)
      eq(rc, 0, o .. er:sub(-2000))
      local s = cjson.decode(P.read(summary))
      eq(s.orders, 10000)
      local stats = env.emu:stats()
      eq(stats.errors_by_code.COMPLEXITY_BUDGET_EXHAUSTED, nil, cjson.encode(stats.errors_by_code))
      eq(stats.errors_by_code.maxComplexityExceeded, nil)
      eq(env:exactly_once(), {})
      -- the sync process's own high-water mark (VmHWM: not inherited from
      -- this test process across fork and exec, as getrusage's would be)
      ok(s.peak_rss_kib < 64 * 1024, ("peak RSS %.1f MB"):format(s.peak_rss_kib / 1024))
    end)
  end)
end
