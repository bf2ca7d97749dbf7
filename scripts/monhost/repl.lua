-- monhost.repl: the interactive Lua prompt (`monhost repl`). Line editing
-- and history come from libedit (monhost.readline); everything else is
-- here, in Lua, so other modules can extend it:
--
--   local repl = require "monhost.repl"
--   repl.command("row", { usage = ":row KEY", help = "fetch a source row",
--                         run = function(ctx, argstr) ctx.print(...) end })
--   repl.on_reload(function(ctx) ... end)   -- runs on :reload
--
-- Modules named in repl.extensions are loaded at start when they exist.
local pretty = require "monhost.pretty"

local M = {
  commands = {},
  reload_hooks = {},
  extensions = { "monhost.mapping.repl" },
  loaded_files = {},
}

function M.command(name, spec)
  assert(type(name) == "string" and type(spec) == "table" and type(spec.run) == "function",
    "repl.command(name, {run = function(ctx, argstr) end, help = ...})")
  M.commands[name] = spec
end

function M.on_reload(fn) M.reload_hooks[#M.reload_hooks + 1] = fn end

local function trace(e)
  if type(e) ~= "string" then e = pretty.format(e) end
  -- the REPL's own frames below the user's code are noise
  return (debug.traceback(e, 2):gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
end

local ctx = {
  env = _G,
  print = function(...) pretty.print(...) end,
  say = function(...) print(...) end,
}
M.ctx = ctx

-- Lua module names that came from files (not preloaded C modules): these
-- are dropped from package.loaded on :reload so edits are picked up.
local function reloadable_modules()
  local names = {}
  for name in pairs(package.loaded) do
    if name:match("^monhost%.") and name ~= "monhost.repl" and not package.preload[name] then
      names[#names + 1] = name
    end
  end
  return names
end

local function run_file(path)
  local chunk, err = loadfile(path, "t", ctx.env)
  if not chunk then return false, err end
  return xpcall(chunk, trace)
end

M.command("help", {
  usage = ":help",
  help = "this list",
  run = function()
    local names = {}
    for name in pairs(M.commands) do names[#names + 1] = name end
    table.sort(names)
    print("Type Lua statements or expressions (expressions print their values).")
    print("An incomplete statement continues on the next line (>> prompt).")
    for _, name in ipairs(names) do
      local c = M.commands[name]
      print(string.format("  %-24s %s", c.usage or (":" .. name), c.help or ""))
    end
  end,
})

M.command("load", {
  usage = ":load FILE",
  help = "run a Lua file in the REPL's environment (remembered for :reload)",
  run = function(_, arg)
    local path = arg:match("^%s*(.-)%s*$")
    if path == "" then print("usage: :load FILE") return end
    local ok, err = run_file(path)
    if not ok then print(err) return end
    for _, p in ipairs(M.loaded_files) do if p == path then return end end
    M.loaded_files[#M.loaded_files + 1] = path
  end,
})

M.command("reload", {
  usage = ":reload",
  help = "forget loaded monhost Lua modules, re-run :load'ed files and reload extensions",
  run = function()
    for _, name in ipairs(reloadable_modules()) do package.loaded[name] = nil end
    for _, path in ipairs(M.loaded_files) do
      local ok, err = run_file(path)
      if not ok then print(err) end
    end
    for _, hook in ipairs(M.reload_hooks) do
      local ok, err = xpcall(hook, trace, ctx)
      if not ok then print(err) end
    end
    print("reloaded")
  end,
})

M.command("quit", { usage = ":quit", help = "leave (Ctrl-D works too)", run = function() return "quit" end })

local function dispatch(line)
  local name, rest = line:match("^:(%S+)%s*(.*)$")
  local c = name and M.commands[name]
  if not c then
    print(string.format("unknown command :%s (try :help)", tostring(name)))
    return
  end
  local ok, res = xpcall(c.run, trace, ctx, rest or "")
  if not ok then print(res) end
  return res
end

-- Compile what was typed: an expression first (so `1+1` prints 2), then a
-- statement. Returns the chunk, or nil and "incomplete" when more lines are
-- needed, or nil and the syntax error.
local function compile(src, first_line)
  if first_line then
    local chunk = load("return " .. src, "=stdin", "t", ctx.env)
    if chunk then return chunk end
  end
  local chunk, err = load(src, "=stdin", "t", ctx.env)
  if chunk then return chunk end
  if err:match("<eof>$") then return nil, "incomplete" end
  return nil, err
end

local function eval(chunk)
  local res = table.pack(xpcall(chunk, trace))
  if not res[1] then
    print(res[2])
  elseif res.n > 1 then
    ctx.print(table.unpack(res, 2, res.n))
  end
end

local function history_path()
  local p = os.getenv("MONHOST_HISTORY")
  if p and p ~= "" then return p end
  local home = os.getenv("HOME")
  return home and (home .. "/.monhost_history") or ".monhost_history"
end

function M.main(...)
  local rl = require "monhost.readline"
  for _, mod in ipairs(M.extensions) do
    if package.searchpath(mod, package.path) then
      local ok, err = xpcall(require, trace, mod)
      if not ok then print("extension " .. mod .. " failed to load:\n" .. err) end
    end
  end
  for _, path in ipairs({ ... }) do M.commands.load.run(ctx, path) end
  local hist = history_path()
  rl.read_history(hist)
  print(string.format("monhost %s (%s) - :help for commands, Ctrl-D to leave",
    package.monhost and package.monhost.version or "?", _VERSION))
  local buffer = nil
  while true do
    local line, why = rl.readline(buffer and ">> " or "> ")
    if line == nil then break end
    if why == "interrupted" then
      buffer = nil
      print()
    elseif not buffer and line:match("^:") then
      rl.add_history(line)
      if dispatch(line) == "quit" then break end
    elseif buffer or line:match("%S") then
      local src = buffer and (buffer .. "\n" .. line) or line
      local chunk, err = compile(src, buffer == nil)
      if chunk then
        rl.add_history(src)
        buffer = nil
        eval(chunk)
      elseif err == "incomplete" then
        buffer = src
      else
        rl.add_history(src)
        buffer = nil
        print(err)
      end
    end
  end
  local ok, err = rl.write_history(hist)
  if not ok then io.stderr:write("monhost: history not saved: ", err, "\n") end
  return 0
end

return M
