-- emulator.lua: start and stop the monday emulator (tests/emulator/start)
-- for specs, and talk to its /_emulator/ control endpoints.
--   local emu = require("emulator").start{config = {...}}   -- or nil, why
--   emu.url, emu:config(t), emu:state(), emu:log(), emu:stats(), emu:reset(), emu:stop()
local sys = require "monhost.sys"
local cjson = require "cjson"
local native = require "monhost.graphql_native"

local M = {}
local E = {}
E.__index = E

local function http(method, url, body)
  local eng = native.engine {}
  eng:submit { url = url, method = method, body = body, timeout = 30 }
  local deadline = sys.clock() + 35
  while sys.clock() < deadline do
    local r = eng:wait(1)[1]
    if r then
      eng:close()
      if r.status ~= 200 then error(method .. " " .. url .. ": " .. (r.error or r.status) .. " " .. r.body) end
      return cjson.decode(r.body)
    end
  end
  eng:close()
  error(method .. " " .. url .. ": no reply")
end

-- start{config=table, args={...}} -> emulator, or nil and why
function M.start(opts)
  opts = opts or {}
  if not sys.stat("tests/emulator/start") then return nil, "no emulator in tests/emulator" end
  local dir = sys.tmpdir("mhemu")
  local argv = { "tests/emulator/start", "--port", "0" }
  if opts.config then argv[#argv + 1] = "--config"; argv[#argv + 1] = cjson.encode(opts.config) end
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  local pid = sys.spawn(argv, { stdout = dir .. "/url", stderr = dir .. "/log" })
  local deadline = sys.clock() + 30
  local url
  while sys.clock() < deadline do
    local f = io.open(dir .. "/url")
    local line = f and f:read("l")
    if f then f:close() end
    if line and line:match("^http://") then url = line; break end
    if sys.wait(pid, true) then break end
    sys.sleep(0.05)
  end
  if not url then
    pcall(sys.kill, pid, 9)
    pcall(sys.wait, pid)
    local f = io.open(dir .. "/log")
    local err = f and f:read("a") or ""
    if f then f:close() end
    os.remove(dir .. "/url"); os.remove(dir .. "/log"); os.remove(dir)
    return nil, "emulator did not start: " .. err:sub(1, 500)
  end
  return setmetatable({ url = url, gql = url .. "/v2", pid = pid, dir = dir }, E)
end

function E:config(t) return http("POST", self.url .. "/_emulator/config", cjson.encode(t)) end
function E:reset() return http("POST", self.url .. "/_emulator/reset", "{}") end
function E:state() return http("GET", self.url .. "/_emulator/state") end
function E:log(since) return http("GET", self.url .. "/_emulator/log?since=" .. (since or 0)) end
function E:stats() return http("GET", self.url .. "/_emulator/stats") end

function E:stop()
  if not self.pid then return end
  sys.kill(self.pid, 15)
  local deadline = sys.clock() + 10
  while sys.clock() < deadline and not sys.wait(self.pid, true) do sys.sleep(0.05) end
  if sys.clock() >= deadline then pcall(sys.kill, self.pid, 9); pcall(sys.wait, self.pid) end
  self.pid = nil
  os.remove(self.dir .. "/url"); os.remove(self.dir .. "/log"); os.remove(self.dir)
end
E.__close = E.stop
E.__gc = E.stop

return M
