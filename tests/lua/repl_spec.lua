-- The REPL through a pseudo-terminal, as a person uses it.
local sh = require "sh"
local sys = require "monhost.sys"

local tmp = assert(sys.tmpdir("monhost-repl"))

local function session(script, extra_env)
  local hist = tmp .. "/history"
  -- generous: under valgrind (make valgrind) everything is ~20x slower
  local argv = { "python3", "tests/support/ptyrun.py", "--timeout", "30",
    "--env", "MONHOST_HISTORY=" .. hist }
  for k, v in pairs(extra_env or {}) do
    argv[#argv + 1] = "--env"; argv[#argv + 1] = k .. "=" .. v
  end
  argv[#argv + 1] = "--"
  argv[#argv + 1] = sh.monhost
  argv[#argv + 1] = "repl"
  local out, err, code = sh.run(argv, { stdin = script })
  return out, code, hist, err
end

describe("monhost repl", function()
  it("evaluates expressions, prints nested tables and writes history", function()
    os.remove(tmp .. "/history")
    local out, code, hist = session(table.concat({
      "expect > ",
      "send 6*7",
      "expect 42",
      "send t = {name='x', sizes={'S','M'}, nested={deep={1}}}",
      "send t",
      "expect nested",
      "expect > $",
      "eof",
    }, "\n"))
    eq(code, 0, out)
    matches(out, "\r?\n42\r?\n")
    matches(out, '{ name = "x", nested = { deep = { 1 } }, sizes = { "S", "M" } }')
    local h = sh.slurp(hist)
    matches(h, "6%*7")
    matches(h, "sizes")
  end)

  it("continues an incomplete statement on the next line", function()
    local out, code = session(table.concat({
      "expect > ",
      "send function double(x)",
      "expect >> ",
      "send   return x * 2",
      "send end",
      "send double(21)",
      "expect 42",
      "expect > $",
      "eof",
    }, "\n"))
    eq(code, 0, out)
    matches(out, ">> ")
    matches(out, "\r?\n42\r?\n")
  end)

  it("shows errors with a traceback and keeps running", function()
    local out, code = session(table.concat({
      "expect > ",
      "send error('bad thing')",
      "expect bad thing",
      "send 1+1",
      "expect \\r\\n2\\r\\n",
      "expect > $",
      "eof",
    }, "\n"))
    eq(code, 0, out)
    matches(out, "stdin:1: bad thing")
  end)

  it("has :help, :load and :reload", function()
    local f = sh.write(tmp .. "/defs.lua", "greeting = 'hello v1'")
    local out, code = session(table.concat({
      "expect > ",
      "send :help",
      "expect :reload",
      "send :load " .. f,
      "send greeting",
      "expect hello v1",
      "expect > $",
      "eof",
    }, "\n"))
    eq(code, 0, out)
    matches(out, ":load FILE")
    -- edit the file, then :reload picks up the change
    local out2 = session(table.concat({
      "expect > ",
      "send :load " .. f,
      "send greeting",
      "expect hello v1",
      "send os.execute(\"sed -i s/v1/v2/ " .. f .. "\")",
      "send :reload",
      "expect reloaded",
      "send greeting",
      "expect hello v2",
      "expect > $",
      "eof",
    }, "\n"))
    matches(out2, "hello v2")
  end)

  it("cancels the line on Ctrl-C at the prompt instead of exiting", function()
    local out, code = session(table.concat({
      "expect > ",
      "raw partial input",
      "expect partial input",
      "raw \\x03",
      "send 2+3",
      "expect \\r\\n5\\r\\n",
      "expect > $",
      "eof",
    }, "\n"))
    eq(code, 0, out)
  end)

  it("interrupts a running loop with Ctrl-C and keeps the REPL alive", function()
    local out, code = session(table.concat({
      "expect > ",
      "send print('looping') while true do end",
      "expect looping\\r\\n",
      "raw \\x03",
      "expect interrupted",
      "send 'still here'",
      "expect still here",
      "expect > $",
      "eof",
    }, "\n"))
    eq(code, 0, out)
    matches(out, "interrupted!")
  end)
end)
