-- pipeline.lua: a complete sync environment for the pipeline's integration
-- tests and benchmark: a database (SQLite file or a throwaway PostgreSQL
-- database) with monhost's schema and ORDERS_UNIFIED filled by the example
-- generator, the monday emulator, a monhost.yaml pointing at both, and ways
-- to run scripts/sync.lua as a real process (so it can be killed) and to
-- read back the board and the database.
--   local P = require "pipeline"
--   local env = assert(P.env{ dialect = "sqlite", orders = {{customer = "GREYSON CLOTHIERS", count = 69, sizes_total = 264}} })
--   local code, out, err = env:sync("--customer", "GREYSON")
--   env:items(), env:subitems(), env:count("MON_SyncState"), env:close()
local sys = require "monhost.sys"
local cjson = require "cjson"
local odbc = require "monhost.odbc"
local emulator = require "emulator"

local M = {}
local E = {}
E.__index = E

M.REF = "../shared/reference/legacy-pipeline/"
M.TSV = M.REF .. "orders_unified_columns.tsv"
M.ITEMS_BOARD, M.SUBITEMS_BOARD = "9200517329", "9200771505"
M.BIN = os.getenv("MONHOST_BIN") or "./monhost"

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end
M.read = read

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local orders_mod
function M.orders()
  orders_mod = orders_mod or dofile("examples/orders.lua")
  return orders_mod
end

-- Orders and size quantities > 0 the generator makes for opts (no database).
function M.expected_counts(cols, opts)
  local n, sizes = 0, 0
  for row in M.orders().rows(cols, opts) do
    n = n + 1
    for _, c in ipairs(cols) do
      if c.ordinal > 50 and c.ordinal < 212 and type(row[c.name]) == "number" and row[c.name] > 0 then sizes = sizes + 1 end
    end
  end
  return n, sizes
end

-- A database: {cs=, db=} for "sqlite" or "postgres" (nil, why when absent).
function M.database(dialect, dir)
  if dialect == "sqlite" then
    local path = dir .. "/orders.db"
    os.remove(path)
    local cs = "Driver=SQLite3;Database=" .. path
    return { cs = cs, path = path }
  elseif dialect == "postgres" then
    local pg = require "pg"
    local ok, cs = pcall(pg.start)
    if not ok or not cs then return nil, "PostgreSQL unavailable: " .. tostring(cs) end
    local dbcs, err = pg.createdb()
    if not dbcs then return nil, err end
    return { cs = dbcs }
  end
  return nil, "unknown dialect " .. tostring(dialect)
end

-- opts: dialect, orders = { {customer=, count=, sizes_total=, seed=, start=} },
-- emulator = {config=, args=}, config = extra top-level monhost.yaml text,
-- monday = extra lines of its monday: section (indented).
function M.env(opts)
  opts = opts or {}
  local dir = sys.tmpdir("mhpipe")
  local d, err = M.database(opts.dialect or "sqlite", dir)
  if not d then return nil, err end
  local db, msg = odbc.connect(d.cs)
  if not db then return nil, msg end
  local schema = require "monhost.pipeline.schema"
  assert(schema.init(db))
  local gen = M.orders()
  local cols = gen.columns(M.TSV)
  local start = 1
  local norders, nsizes = 0, 0
  for i, o in ipairs(opts.orders or {}) do
    o.start = o.start or start
    o.seed = o.seed or (100 + i)
    gen.load(db, cols, o)
    start = o.start + o.count
    local a, b = M.expected_counts(cols, o)
    norders, nsizes = norders + a, nsizes + b
  end
  if #(opts.orders or {}) == 0 then
    db:exec(schema.orders_unified_ddl(db.dialect, cols))
  end
  local eopts = opts.emulator or {}
  if opts.state_file then
    eopts.args = eopts.args or {}
    table.insert(eopts.args, "--state")
    table.insert(eopts.args, dir .. "/state.json")
  end
  local emu, eerr = emulator.start(eopts)
  if not emu then db:close(); return nil, eerr end
  local env = setmetatable({ dir = dir, cs = d.cs, db = db, emu = emu, dialect = db.dialect, cols = cols,
    next_order = start, expected_orders = norders, expected_subitems = nsizes }, E)
  env.config_path = dir .. "/monhost.yaml"
  write(env.config_path, ([[
database:
  connection: "%s"
monday:
  url: "%s"
%s
boards:
  items: %s
  subitems: %s
  items_metadata: "%s"
  subitems_metadata: "%s"
mappings_dir: "%s"
%s
]]):format(d.cs, emu.gql, opts.monday or "", M.ITEMS_BOARD, M.SUBITEMS_BOARD, sys.realpath(M.REF) .. "/board_9200517329_metadata.json",
    sys.realpath(M.REF) .. "/board_9200771505_metadata.json", sys.realpath("mappings"), opts.config or ""))
  return env
end

-- Add more generated orders to ORDERS_UNIFIED.
function E:add_orders(o)
  o.start = o.start or self.next_order
  o.seed = o.seed or o.start
  local n = M.orders().load(self.db, self.cols, o)
  self.next_order = o.start + o.count
  local a, b = M.expected_counts(self.cols, o)
  self.expected_orders = self.expected_orders + a
  self.expected_subitems = self.expected_subitems + b
  return n
end

function E:argv(...)
  local argv = { M.BIN, "run", "scripts/sync.lua", "--config", self.config_path, "--quiet" }
  for _, a in ipairs { ... } do argv[#argv + 1] = a end
  return argv
end

-- Start sync as a process; returns pid, stdout path, stderr path.
function E:spawn(args, envvars)
  self.nrun = (self.nrun or 0) + 1
  local out, err = self.dir .. "/out." .. self.nrun, self.dir .. "/err." .. self.nrun
  local env = { MONDAY_API_TOKEN = "test-token" }
  for k, v in pairs(envvars or {}) do env[k] = v end
  local pid = assert(sys.spawn(self:argv(table.unpack(args or {})), { stdout = out, stderr = err, env = env }))
  return pid, out, err
end

-- Wait for a process with a deadline (kills it when over).
function M.wait(pid, seconds)
  local deadline = sys.clock() + (seconds or 300)
  while true do
    local how, code = sys.wait(pid, true)
    if how then return how, code end
    if sys.clock() > deadline then
      pcall(sys.kill, pid, 9)
      sys.wait(pid)
      return "timeout", -1
    end
    sys.sleep(0.02)
  end
end

-- Run sync to completion: exit code, stdout, stderr.
function E:sync(...)
  local pid, out, err = self:spawn({ ... })
  local how, code = M.wait(pid, 600)
  return how == "exit" and code or -1, read(out), read(err)
end

function E:run_cmd(argv, envvars)
  self.nrun = (self.nrun or 0) + 1
  local out, err = self.dir .. "/out." .. self.nrun, self.dir .. "/err." .. self.nrun
  local env = { MONDAY_API_TOKEN = "test-token", MONHOST_CONFIG = self.config_path }
  for k, v in pairs(envvars or {}) do env[k] = v end
  local full = { M.BIN }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  local pid = assert(sys.spawn(full, { stdout = out, stderr = err, env = env }))
  local how, code = M.wait(pid, 600)
  return how == "exit" and code or -1, read(out), read(err)
end

function E:scalar(sql, ...)
  for row in self.db:rows(sql, ...) do return row[1] end
end

function E:count(tbl, where, ...)
  return math.tointeger(tonumber(self:scalar("SELECT COUNT(*) FROM " .. tbl .. (where and (" WHERE " .. where) or ""), ...)))
end

-- Board contents from the emulator: items (active, of the items board)
-- and subitems, as lists.
-- GET /_emulator/state with a generous timeout (large boards take a while).
function E:emulator_state()
  local native = require "monhost.graphql_native"
  local eng = native.engine {}
  eng:submit { url = self.emu.url .. "/_emulator/state", method = "GET", timeout = 600 }
  local deadline = sys.clock() + 610
  while sys.clock() < deadline do
    local r = eng:wait(1)[1]
    if r then
      eng:close()
      if r.status ~= 200 then error("GET /_emulator/state: " .. tostring(r.error or r.status)) end
      return cjson.decode(r.body)
    end
  end
  eng:close()
  error("GET /_emulator/state: no reply")
end

function E:board()
  local st
  if self.state_snapshot then st = self.state_snapshot
  else st = self:emulator_state() end
  local items, subitems, groups = {}, {}, {}
  for _, b in ipairs(st.boards) do
    if b.id == M.ITEMS_BOARD then
      for _, g in ipairs(b.groups or {}) do groups[g.id] = g.title end
      for _, it in ipairs(b.items) do if it.state == "active" then items[#items + 1] = it end end
    elseif b.id == M.SUBITEMS_BOARD then
      for _, it in ipairs(b.items) do if it.state == "active" then subitems[#subitems + 1] = it end end
    end
  end
  return items, subitems, groups
end

-- Stop the emulator (it saves its state file) and read the board from the
-- file from now on: for boards too large for GET /_emulator/state.
function E:freeze()
  local path = self.dir .. "/state.json"
  self.emu:stop()
  self.emu = nil
  self.state_snapshot = cjson.decode(read(path))
end

-- Every generated order on the board exactly once, with its subitems
-- exactly once, and the database agreeing. Returns a list of problems.
function E:exactly_once()
  local items, subitems = self:board()
  local problems = {}
  local function p(fmt, ...) problems[#problems + 1] = fmt:format(...) end
  local names, ids = {}, {}
  for _, it in ipairs(items) do
    if names[it.name] then p("item %q twice (%s, %s)", it.name, names[it.name], it.id) end
    names[it.name] = it.id
    ids[it.id] = true
  end
  local under = {}
  for _, s in ipairs(subitems) do
    local k = tostring(s.parent_item_id) .. "/" .. s.name
    if under[k] then p("subitem %s twice under %s", s.name, tostring(s.parent_item_id)) end
    under[k] = true
    if not ids[s.parent_item_id] then p("subitem %s under unknown item %s", s.id, tostring(s.parent_item_id)) end
  end
  if #items ~= self.expected_orders then p("%d items on the board, expected %d", #items, self.expected_orders) end
  if #subitems ~= self.expected_subitems then p("%d subitems on the board, expected %d", #subitems, self.expected_subitems) end
  local synced = self:count("MON_SyncState")
  if synced ~= self.expected_orders then p("%d rows in MON_SyncState, expected %d", synced, self.expected_orders) end
  local ssub = self:count("MON_SyncState_Subitems")
  if ssub ~= self.expected_subitems then p("%d rows in MON_SyncState_Subitems, expected %d", ssub, self.expected_subitems) end
  for row in self.db:rows("SELECT item_id FROM MON_SyncState") do
    if not ids[row[1]] then p("MON_SyncState names item %s, not on the board", tostring(row[1])) end
  end
  local stg = self:count("STG_MON_CustMasterSchedule") + self:count("STG_MON_CustMasterSchedule_Subitems")
  if stg ~= 0 then p("%d staging rows left", stg) end
  return problems
end

function E:close()
  if self.db then self.db:close(); self.db = nil end
  if self.emu then self.emu:stop(); self.emu = nil end
  os.execute("rm -rf '" .. self.dir .. "'")
end
E.__gc = E.close

return M
