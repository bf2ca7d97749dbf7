-- pipeline_crash_spec.lua: a run killed with SIGKILL anywhere loses and
-- duplicates nothing. Ten kill points driven by the MONHOST_CRASH_AT test
-- hook (before steps; rows committed SENDING but request not sent; monday
-- answered but nothing written back; ids written back), plus kills at
-- random moments; after each, a normal run must leave every order on the
-- board exactly once, with its subitems exactly once.
local P = require "pipeline"
local sys = require "monhost.sys"

local POINTS = {
  "step:stage", "step:groups", "sending:item:1", "results:item:1", "written:item:1",
  "results:item:2", "sending:subitem:1", "results:subitem:1", "results:subitem:3", "step:finalize",
}

local CONFIG = "batch:\n  stage_size: 20\n  fetch_size: 20\n"
-- many runs in a row use more than a minute's complexity budget: one
-- emulated minute per real second keeps the test from waiting on it
local EMULATOR = { args = { "--time-scale", "60" } }

for _, dialect in ipairs { "sqlite", "postgres" } do
  describe(dialect, function()
    local env
    after_each(function() if env then env:close(); env = nil end end)

    it("SIGKILL at 10 points of a run, rerun each time: every order exactly once", function()
      local e, err = P.env { dialect = dialect, config = CONFIG, emulator = EMULATOR }
      if not e then skip(err) end
      env = e
      for i, point in ipairs(POINTS) do
        env:add_orders { customer = "GREYSON CLOTHIERS", count = 45 }
        local pid, out, errf = env:spawn({ "--customer", "GREYSON" }, { MONHOST_CRASH_AT = point })
        local how, code = P.wait(pid, 120)
        eq({ how, code }, { "signal", 9 }, point .. ": " .. P.read(out) .. P.read(errf))
        local rc, o, er = env:sync("--customer", "GREYSON")
        eq(rc, 0, ("after kill at %s (%d): %s%s"):format(point, i, o, er))
        eq(env:exactly_once(), {}, "after kill at " .. point)
        -- killed after monday answered: the rerun found those rows on the
        -- board (lookup) instead of creating them again
        local kind = point:match("^results:(%a+)")
        if kind then matches(o, kind .. "s created %d+ %(adopted [1-9]%d*%)") end
      end
      -- the killed runs are in the batch log as ABORTED, the lock is free
      ok(env:count("MON_BatchProcessing", "status = 'ABORTED'") >= 8, "aborted batches logged")
      eq(env:count("MON_BoardLock"), 0)
    end)

    it("SIGKILL at random moments, rerun each time: every order exactly once", function()
      local e, err = P.env { dialect = dialect, config = CONFIG, emulator = EMULATOR }
      if not e then skip(err) end
      env = e
      local seed = tonumber(os.getenv("MONHOST_TEST_SEED") or "") or 4242
      math.randomseed(seed)
      for i = 1, 4 do
        env:add_orders { customer = "GREYSON CLOTHIERS", count = 60 }
        local pid = env:spawn({ "--customer", "GREYSON" })
        sys.sleep(0.05 + math.random() * 0.6)
        pcall(sys.kill, pid, 9)
        P.wait(pid, 60)
        local rc, o, er = env:sync("--customer", "GREYSON")
        eq(rc, 0, ("random kill %d (seed %d): %s%s"):format(i, seed, o, er))
        eq(env:exactly_once(), {}, ("random kill %d (seed %d)"):format(i, seed))
      end
    end)
  end)
end
