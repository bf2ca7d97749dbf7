-- pipeline_faults_spec.lua: 1,000 orders while the emulator injects faults
-- (HTTP 5xx, 429, connections reset after monday executed the request,
-- per-alias errors, truncated replies): everything ends on the board
-- exactly once. Failed rows (faults past the client's retries) are what
-- `monhost retry` is for, so the test allows a few retry rounds.
local P = require "pipeline"

local FAULTS = { seed = 11, rate_5xx = 0.08, rate_429 = 0.08, rate_reset_after = 0.08, rate_reset_before = 0.04,
  rate_alias_error = 0.03, rate_truncate = 0.03, retry_in_seconds = 1 }

for _, dialect in ipairs { "sqlite", "postgres" } do
  describe(dialect, function()
    local env
    after_each(function() if env then env:close(); env = nil end end)

    it("1,000 orders under injected faults: every order exactly once", function()
      if os.getenv("MONHOST_QUICK") then skip("MONHOST_QUICK") end
      local e, err = P.env { dialect = dialect,
        orders = { { customers = { "GREYSON CLOTHIERS", "JOHNNIE O", "LORNA JANE (AU)" }, count = 1000, seed = 3 } },
        emulator = { config = { faults = FAULTS }, args = { "--time-scale", "60" } },
        monday = "  graphql:\n    backoff_base: 0.05\n    backoff_cap: 0.5" }
      if not e then skip(err) end
      env = e
      local rc, o, er = env:sync("--all")
      local rounds = 0
      while rc == 2 and rounds < 4 do
        rounds = rounds + 1
        rc, o, er = env:run_cmd({ "retry" })
      end
      eq(rc, 0, o .. er)
      local stats = env.emu:stats()
      local injected = 0
      for _, n in pairs(stats.faults or {}) do injected = injected + n end
      ok(injected >= 5, "faults were injected: " .. require("cjson").encode(stats.faults))
      eq(env:exactly_once(), {})
    end)
  end)
end
