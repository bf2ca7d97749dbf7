-- spec.lua: the Lua test runner, run by monhost itself:
--   monhost tests/support/spec.lua tests/lua/foo_spec.lua
-- A spec file uses describe/it and the assertions below (globals). Prints
-- "ok - ..." / "not ok - ..." per test and "<file>: N passed, N failed".
local file = assert(arg[1], "usage: spec.lua FILE_spec.lua")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path

local passed, failed, skipped = 0, 0, 0
local stack, befores, afters = {}, {}, {}

local function fullname(name)
  local parts = {}
  for _, s in ipairs(stack) do parts[#parts + 1] = s end
  parts[#parts + 1] = name
  return table.concat(parts, " > ")
end

function describe(name, fn)
  stack[#stack + 1] = name
  local nb, na = #befores, #afters
  fn()
  for i = #befores, nb + 1, -1 do befores[i] = nil end
  for i = #afters, na + 1, -1 do afters[i] = nil end
  stack[#stack] = nil
end

function before_each(fn) befores[#befores + 1] = fn end
function after_each(fn) afters[#afters + 1] = fn end

local function handler(e)
  if type(e) == "table" and e.skip then return e end
  return debug.traceback(tostring(e), 2)
end

function it(name, fn)
  local full = fullname(name)
  local ok, err = xpcall(function()
    for _, b in ipairs(befores) do b() end
    fn()
  end, handler)
  for i = #afters, 1, -1 do
    local aok, aerr = xpcall(afters[i], handler)
    if ok and not aok then ok, err = false, aerr end
  end
  if ok then
    passed = passed + 1
    print("ok - " .. full)
  elseif type(err) == "table" and err.skip then
    skipped = skipped + 1
    print("ok - " .. full .. " # SKIP " .. err.skip)
  else
    failed = failed + 1
    print("not ok - " .. full)
    print("  # " .. tostring(err):gsub("\n", "\n  # "))
  end
  io.stdout:flush()
end

-- skip("why") inside a test marks it skipped (e.g. a server is not there)
function skip(why) error({ skip = why }, 0) end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local ok, pretty = pcall(require, "monhost.pretty")
  if ok then return pretty.format(v, { depth = 4 }) end
  return tostring(v)
end

local function deepeq(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then
    if type(a) == "number" and type(b) == "number" then return a == b end
    return false
  end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do if not deepeq(v, b[k], seen) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- eq(actual, expected [, message]): deep equality
function eq(actual, expected, msg)
  if not deepeq(actual, expected) then
    error((msg and msg .. ": " or "") .. "expected " .. show(expected) .. ", got " .. show(actual), 2)
  end
end

function ok(v, msg)
  if not v then error(msg or "expected a true value", 2) end
  return v
end

-- raises(fn, pattern): fn must raise an error whose text matches pattern
function raises(fn, pattern)
  local good, err = pcall(fn)
  if good then error("expected an error" .. (pattern and (" matching " .. pattern) or ""), 2) end
  if pattern and not tostring(err):find(pattern) then
    error("error " .. show(tostring(err)) .. " does not match " .. show(pattern), 2)
  end
  return err
end

-- matches(s, pattern)
function matches(s, pattern, msg)
  if type(s) ~= "string" or not s:find(pattern) then
    error((msg and msg .. ": " or "") .. show(s) .. " does not match " .. show(pattern), 2)
  end
end

local chunk, err = loadfile(file)
if not chunk then
  print("not ok - " .. file .. " does not load")
  print("  # " .. err)
  failed = failed + 1
else
  local good, e = xpcall(chunk, handler)
  if not good then
    failed = failed + 1
    print("not ok - " .. file .. " raised outside a test")
    print("  # " .. tostring(e):gsub("\n", "\n  # "))
  end
end
print(string.format("%s: %d passed, %d failed%s", file, passed, failed,
  skipped > 0 and string.format(", %d skipped", skipped) or ""))
os.exit(failed == 0 and 0 or 1, true)
