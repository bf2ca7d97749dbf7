-- pg.lua: a throwaway PostgreSQL 15 cluster for tests and benchmarks.
--   local pg = require "pg"
--   local cs, err = pg.start()   -- ODBC connection string, or nil, why
--   pg.createdb() -> connstr of a fresh database; pg.psql(args...) runs psql
-- One cluster per process (initdb + start take about 1.1 s here), created
-- under /tmp/monhost-pg-<owner pid>-XXXXXX, served on a free loopback port,
-- stopped and removed when the process exits (a __gc sentinel: spec.lua
-- closes the Lua state on exit). A run killed mid-way leaves a directory
-- whose owner pid is dead; the next start() stops that server and removes it.
-- MONHOST_PG_CS (a connection string) uses an existing server instead.
local sys = require "monhost.sys"

local M = {}
local BIN = os.getenv("MONHOST_PG_BIN") or "/usr/lib/postgresql/15/bin"
local state -- {dir=, port=, cs=}

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs argv (no shell), output to a log file; returns ok, output.
local function run(argv, env)
  local log = os.tmpname()
  local pid = assert(sys.spawn(argv, { stdout = log, stderr = log, env = env }))
  local how, code = sys.wait(pid)
  local f = io.open(log)
  local out = f and f:read("a") or ""
  if f then f:close() end
  os.remove(log)
  return how == "exit" and code == 0, out
end

local function as_postgres(argv)
  -- the server refuses to run as root
  local uid = io.popen("id -u"):read("l")
  if uid == "0" then
    local a = { "runuser", "-u", "postgres", "--" }
    for _, v in ipairs(argv) do a[#a + 1] = v end
    return a
  end
  return argv
end

local function pid_alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("l") or ""
  f:close()
  return not stat:match("^%d+ %b() Z") -- zombies count as dead
end

local function stop_dir(dir)
  if sys.stat(dir .. "/data/postmaster.pid") then
    run(as_postgres({ BIN .. "/pg_ctl", "-D", dir .. "/data", "-m", "immediate", "-w", "-t", "10", "stop" }))
  end
  run({ "rm", "-rf", dir })
end

-- Stops and removes clusters whose owning process is gone.
function M.clean_stale()
  local names = sys.listdir("/tmp") or {}
  for _, name in ipairs(names) do
    local owner = name:match("^monhost%-pg%-(%d+)%-")
    if owner and not pid_alive(owner) then stop_dir("/tmp/" .. name) end
  end
end

local function free_port()
  -- a port nothing listens on now; the server binds it a moment later
  for _ = 1, 50 do
    local port = math.random(20000, 60000)
    local busy = false
    for _, f in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
      local h = io.open(f)
      if h then
        local hex = string.format(":%04X ", port)
        if h:read("a"):find(hex, 1, true) then busy = true end
        h:close()
      end
    end
    if not busy then return port end
  end
  return 54329
end

local function connstr(port, db)
  return string.format(
    "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=%d;Database=%s;Uid=postgres;UseDeclareFetch=1;Fetch=10000",
    port, db)
end

-- pg.start() -> connection string of database "monhost" | nil, why
function M.start()
  if state then return state.cs end
  local ext = os.getenv("MONHOST_PG_CS")
  if ext and ext ~= "" then
    state = { cs = ext, external = true }
    return ext
  end
  if not sys.stat(BIN .. "/initdb") then
    return nil, "PostgreSQL server binaries not found in " .. BIN .. " (install postgresql-15: make deps)"
  end
  M.clean_stale()
  math.randomseed(sys.getpid() * 7919 + math.floor(sys.time() * 1000) % 100000)
  local dir = sys.tmpdir("monhost-pg-" .. sys.getpid())
  run({ "chown", "postgres", dir })
  local okk, out = run(as_postgres({ BIN .. "/initdb", "-D", dir .. "/data", "-A", "trust", "-U", "postgres",
    "-E", "UTF8", "--locale=C", "--no-sync" }))
  if not okk then
    stop_dir(dir)
    return nil, "initdb failed: " .. out
  end
  local port
  for _ = 1, 3 do
    port = free_port()
    okk, out = run(as_postgres({ BIN .. "/pg_ctl", "-D", dir .. "/data", "-l", dir .. "/server.log", "-w", "-t", "30",
      "-o", string.format("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        port, dir), "start" }))
    if okk then break end
  end
  if not okk then
    local f = io.open(dir .. "/server.log")
    local log = f and f:read("a") or ""
    if f then f:close() end
    stop_dir(dir)
    return nil, "PostgreSQL did not start: " .. out .. log
  end
  state = { dir = dir, port = port }
  -- stop the server when this process's Lua state closes
  state.sentinel = setmetatable({}, { __gc = function() M.stop() end })
  okk, out = run(as_postgres({ BIN .. "/psql", "-h", dir, "-p", tostring(port), "-U", "postgres", "-d", "postgres",
    "-qAtc", "CREATE DATABASE monhost" }))
  if not okk then
    M.stop()
    return nil, "CREATE DATABASE failed: " .. out
  end
  state.cs = connstr(port, "monhost")
  return state.cs
end

function M.stop()
  if state and not state.external and state.dir then
    stop_dir(state.dir)
  end
  state = nil
end

-- pg.info() -> {port=, dir=, cs=} of the running cluster
function M.info() return state end

local seq = 0
-- pg.createdb() -> connection string of a new, empty database | nil, why
function M.createdb()
  local cs, why = M.start()
  if not cs then return nil, why end
  seq = seq + 1
  local name = string.format("t_%d_%d_%d", sys.getpid(), seq, math.random(1, 1e6))
  local okk, out = M.psql({ "-d", "monhost", "-qAtc", "CREATE DATABASE " .. name })
  if not okk then return nil, "CREATE DATABASE failed: " .. out end
  return (cs:gsub("Database=[^;]*", "Database=" .. name)), name
end

-- pg.psql(args) -> ok, output: runs psql against the cluster (args after
-- the connection options), e.g. {"-d", "monhost", "-c", "\\copy ..."}
function M.psql(args)
  assert(state, "pg.start() first")
  local argv
  if state.external then
    local function g(k) return state.cs:match(k .. "=([^;]*)") end
    argv = { "psql", "-h", g("Server") or "127.0.0.1", "-p", g("Port") or "5432", "-U", g("Uid") or "postgres" }
  else
    argv = as_postgres({ BIN .. "/psql", "-h", state.dir, "-p", tostring(state.port), "-U", "postgres" })
  end
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return run(argv)
end

M.sh_quote = sh_quote
return M
