-- The executable: run/-e/FILE.lua, arg and ..., exit codes, tracebacks,
-- Ctrl-C, version, help, the Lua search path and installation.
local sh = require "sh"
local sys = require "monhost.sys"
local M = sh.monhost

local tmp = assert(sys.tmpdir("monhost-host"))

describe("monhost run", function()
  it("passes arg and ... like lua", function()
    local f = sh.write(tmp .. "/args.lua", "print(arg[0], arg[1], arg[2], select('#', ...), ...)")
    local out, _, code = sh.run({ M, "run", f, "a b", "c" })
    eq(code, 0)
    eq(out, f .. "\ta b\tc\t2\ta b\tc\n")
  end)

  it("accepts FILE.lua as a shorthand for run, with negative arg indices", function()
    local f = sh.write(tmp .. "/neg.lua", "print(arg[-1], arg[0], #arg)")
    local out, _, code = sh.run({ M, f, "x" })
    eq(code, 0)
    local interp, script, n = out:match("^(.-)\t(.-)\t(%d+)\n$")
    matches(interp, "monhost", "arg[-1] is the interpreter")
    eq({ script, n }, { f, "1" })
  end)

  it("exits 1 with a traceback naming file:line on an error", function()
    local f = sh.write(tmp .. "/err.lua", "local function inner()\n  error('boom')\nend\ninner()\n")
    local out, err, code = sh.run({ M, "run", f })
    eq(code, 1)
    eq(out, "")
    matches(err, "err%.lua:2: boom")
    matches(err, "stack traceback:")
    matches(err, "err%.lua:4: in main chunk")
  end)

  it("reports a syntax error with file:line and exits 1", function()
    local f = sh.write(tmp .. "/syntax.lua", "x = = 1\n")
    local _, err, code = sh.run({ M, f })
    eq(code, 1)
    matches(err, "syntax%.lua:1:")
  end)

  it("honours os.exit codes", function()
    local _, _, code = sh.run({ M, "-e", "os.exit(7)" })
    eq(code, 7)
    _, _, code = sh.run({ M, "-e", "os.exit(true)" })
    eq(code, 0)
    _, _, code = sh.run({ M, "-e", "os.exit(false)" })
    eq(code, 1)
  end)

  it("runs -e code, then a script", function()
    local f = sh.write(tmp .. "/after.lua", "print(X + 1)")
    local out, _, code = sh.run({ M, "-e", "X = 41", f })
    eq(code, 0)
    eq(out, "42\n")
  end)

  it("finds modules next to the script", function()
    sys.mkdir(tmp .. "/proj")
    sh.write(tmp .. "/proj/helper.lua", "return { answer = 42 }")
    local f = sh.write(tmp .. "/proj/main.lua", "print(require('helper').answer)")
    local out, _, code = sh.run("cd / && " .. sh.join({ sys.realpath(M), f }))
    eq(code, 0)
    eq(out, "42\n")
  end)

  it("stops cleanly on Ctrl-C (SIGINT) with an error, not a crash", function()
    local f = sh.write(tmp .. "/loop.lua", "io.write('ready\\n') io.stdout:flush() while true do end")
    local outp = tmp .. "/loop.out"
    local errp = tmp .. "/loop.err"
    local pid = sys.spawn({ M, f }, { stdout = outp, stderr = errp })
    local deadline = sys.clock() + 10
    while sh.slurp(outp) ~= "ready\n" and sys.clock() < deadline do sys.sleep(0.02) end
    sys.kill(pid, 2)
    local how, code = sys.wait(pid)
    eq(how, "exit")
    eq(code, 1)
    matches(sh.slurp(errp), "interrupted!")
  end)

  it("stops a sleeping script on Ctrl-C too", function()
    local f = sh.write(tmp .. "/sleep.lua",
      "io.write('ready\\n') io.stdout:flush() require('monhost.sys').sleep(30)")
    local outp = tmp .. "/sleep.out"
    local errp = tmp .. "/sleep.err"
    local t0 = sys.clock()
    local pid = sys.spawn({ M, f }, { stdout = outp, stderr = errp })
    while sh.slurp(outp) ~= "ready\n" and sys.clock() < t0 + 10 do sys.sleep(0.02) end
    sys.kill(pid, 2)
    local how, code = sys.wait(pid)
    eq({ how, code }, { "exit", 1 })
    ok(sys.clock() - t0 < 20, "the sleep was interrupted")
    matches(sh.slurp(errp), "interrupted!")
  end)
end)

describe("monhost commands", function()
  it("prints versions of monhost and its libraries", function()
    local out, _, code = sh.run({ M, "version" })
    eq(code, 0)
    matches(out, "^monhost %d+%.%d+%.%d+\n")
    matches(out, "\nLua 5%.4")
    matches(out, "\nunixODBC ")
    matches(out, "\nlibcurl %d")
    matches(out, "\nlibyaml 0%.")
  end)

  it("lists every command in --help", function()
    local out, _, code = sh.run({ M, "--help" })
    eq(code, 0)
    for _, word in ipairs({ "run", "repl", "version", "%-e", "MONHOST_PATH", "MONDAY_API_TOKEN" }) do
      matches(out, word)
    end
  end)

  it("rejects an unknown command or option with exit 1 and no traceback", function()
    local _, err, code = sh.run({ M, "frobnicate" })
    eq(code, 1)
    matches(err, "unknown command 'frobnicate'")
    ok(not err:find("traceback"))
    _, err, code = sh.run({ M, "--frob" })
    eq(code, 1)
    matches(err, "unknown option")
  end)

  it("takes the Lua library from MONHOST_PATH when set", function()
    sys.mkdir(tmp .. "/lib/monhost")
    sh.write(tmp .. "/lib/monhost/pretty.lua", "return { format = function() return 'overridden' end }")
    local out, _, code = sh.run("MONHOST_PATH=" .. sh.q(tmp .. "/lib") .. " " ..
      sh.join({ M, "-e", "print(require('monhost.pretty').format({}))" }))
    eq(code, 0)
    eq(out, "overridden\n")
  end)
end)

describe("monhost.sys.peak_rss", function()
  it("is the child's own peak, not its parent's (fork and exec keep ru_maxrss)", function()
    local big = string.rep("x", 128 * 1024 * 1024) -- this process now peaks above 128 MB
    ok(sys.peak_rss() > 128 * 1024)
    -- sys.spawn forks this big process (popen would vfork and hide the bug)
    local outp = tmp .. "/rss.out"
    local pid = sys.spawn({ M, "-e", "print(require('monhost.sys').peak_rss())" }, { stdout = outp })
    eq({ sys.wait(pid) }, { "exit", 0 })
    local out = sh.slurp(outp)
    -- well under the parent's peak (a child under valgrind, make valgrind,
    -- peaks at ~63 MB of its own)
    ok(tonumber(out) < 96 * 1024, "child peak " .. out .. " KiB")
    big = nil
  end)
end)

describe("make install", function()
  it("installs a binary that finds its Lua library without the source tree", function()
    if os.getenv("MONHOST_QUICK") then skip("MONHOST_QUICK") end
    local dest = tmp .. "/dest"
    local _, err, code = sh.run({ "make", "--no-print-directory", "-s", "install", "PREFIX=/opt/mh", "DESTDIR=" .. dest })
    eq(code, 0, err)
    ok(sys.stat(dest .. "/opt/mh/share/man/man1/monhost.1"), "man page installed")
    -- run from / so nothing of the source tree is reachable; point the
    -- installed layout at the copy under DESTDIR through its own location
    local out, e2, c2 = sh.run("cd / && env -u MONHOST_PATH " ..
      sh.join({ dest .. "/opt/mh/bin/monhost", "-e",
        "print(require('monhost.pretty').format({b=1,a=2}), package.monhost.libdir)" }))
    eq(c2, 0, e2)
    matches(out, "^{ a = 2, b = 1 }\t" .. dest:gsub("%p", "%%%0") .. "/opt/mh/share/monhost/scripts\n$")
  end)
end)
