-- monhost.log: JSON lines when no person watches, human lines on a TTY,
-- levels, redaction of secrets, a progress bar that is silent off a TTY.
local sh = require "sh"
local cjson = require "cjson"
local M = sh.monhost

local function run(code, opts)
  local argv = { M }
  for _, o in ipairs(opts or {}) do argv[#argv + 1] = o end
  argv[#argv + 1] = "-e"
  argv[#argv + 1] = code
  return sh.run(argv)
end

describe("log lines", function()
  it("are JSON objects with ts, level, msg and fields when stderr is not a TTY", function()
    local _, err, code = run([[require("monhost.log").info("batch done", {orders = 69, customer = "GREYSON", ok = true})]])
    eq(code, 0)
    local rec = cjson.decode(err)
    eq(rec.level, "info")
    eq(rec.msg, "batch done")
    eq(rec.orders, 69)
    eq(rec.customer, "GREYSON")
    eq(rec.ok, true)
    matches(rec.ts, "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$")
  end)

  it("escape control characters and quotes so each record stays one line", function()
    local _, err = run([[require("monhost.log").warn("line1\nline2 \"q\"\t\1")]])
    local lines = 0
    for _ in err:gmatch("[^\n]+") do lines = lines + 1 end
    eq(lines, 1)
    eq(cjson.decode(err).msg, "line1\nline2 \"q\"\t\1")
  end)

  it("are human text with sorted fields when asked for tty mode", function()
    local _, err = run([[local log = require("monhost.log"); log.configure{json=false, tty=true}
      log.error("failed", {zeta = 1, alpha = "two words"})]])
    matches(err, "^%d%d:%d%d:%d%d ERROR failed alpha=\"two words\" zeta=1\n$")
  end)

  it("drop messages below the level; --log-level sets it", function()
    local _, err = run([[local log = require("monhost.log"); log.debug("hidden"); log.info("shown")]])
    ok(not err:find("hidden")); matches(err, "shown")
    _, err = run([[local log = require("monhost.log"); log.debug("now visible")]], { "--log-level", "debug" })
    matches(err, "now visible")
    _, err = run([[require("monhost.log").info("x")]], { "--log-level", "error" })
    eq(err, "")
  end)

  it("reject an unknown level with a clear error", function()
    local _, err, code = run([[require("monhost.log").configure{level = "loud"}]])
    eq(code, 1)
    matches(err, "unknown log level 'loud'")
  end)

  it("never show a registered secret, in log lines or in a fatal error", function()
    local secret = "eyJhbGciOiJIUzI1NiJ9.secret-token-value"
    local _, err = run(([[local log = require("monhost.log"); log.add_secret(%q)
      log.info("calling with " .. %q, {header = "Authorization: " .. %q})
      error("request failed for token " .. %q)]]):format(secret, secret, secret, secret))
    ok(not err:find(secret, 1, true), "secret leaked: " .. err)
    matches(err, "%[REDACTED%]")
    matches(err, "request failed for token %[REDACTED%]")
  end)
end)

describe("progress", function()
  it("is silent when stderr is not a terminal, and counts", function()
    local out, err = run([[local log = require("monhost.log")
      local p = log.progress("items", 10); for i = 1, 10 do p:add() end
      local n = p:stats(); p:done(); print(n)]])
    eq(err, "")
    eq(out, "10\n")
  end)

  it("draws a bar with count, rate and ETA on a terminal", function()
    local out = sh.run({ "python3", "tests/support/ptyrun.py", "--", M, "-e",
      [[local log = require("monhost.log"); local p = log.progress("items", 4)
        p:add(2); require("monhost.sys").sleep(0.15); p:add(1); p:done()]] }, { stdin = "" })
    matches(out, "items %[#+%.*%] +75%% 3/4 %d+/s ETA %d+s")
  end)
end)
