-- changes.lua: helpers for the update and reconcile specs and the changes
-- benchmark. Builds on tests/support/pipeline.lua (database + emulator +
-- monhost.yaml): creates the orders with the real create flow, then runs
-- the update step in this process against the same database and emulator.
--   local CH = require "changes"
--   local env = CH.env{ dialect = "sqlite", orders = {{customer = "GREYSON CLOTHIERS", count = 50}} }
--   CH.sync(env)                    -- the create flow (scripts/sync.lua as a process)
--   local ctx, out = CH.update(env) -- the update step in-process; out() = what it printed
--   CH.set(env, "EX FACTORY DATE", "2027-01-02", key1)   -- edit ORDERS_UNIFIED
--   CH.mutations(env, since)        -- mutation root fields sent since a log seq
local sys = require "monhost.sys"
local cjson = require "cjson"
local P = require "pipeline"

local M = {}

M.ITEMS_BOARD, M.SUBITEMS_BOARD = P.ITEMS_BOARD, P.SUBITEMS_BOARD

-- The emulator's per-minute budgets are raised (unless opts.emulator says
-- otherwise): the specs set up 1,000 synced orders, which monday's real
-- 10M/minute complexity budget would spread over five minutes.
function M.env(opts)
  opts = opts or {}
  opts.emulator = opts.emulator or { config = { limits = { complexity_per_minute = 2000000000,
    mutations_per_minute = 100000, requests_per_minute = 100000 } } }
  return P.env(opts)
end

-- The create flow, as `monhost run scripts/sync.lua` (a real process).
function M.sync(env, ...)
  local code, out, err = env:sync(...)
  if code ~= 0 then error(("sync exited %s: %s %s"):format(tostring(code), out, err:sub(1, 2000)), 2) end
  return out
end

-- A pipeline context for the env's database, emulator and a mapping
-- (default "greyson"), built as runner.main builds it.
function M.context(env, opts)
  opts = opts or {}
  local config = require "monhost.config"
  local runner = require "monhost.pipeline.runner"
  local pipeline = require "monhost.pipeline"
  local cfg = assert(config.load(env.config_path))
  cfg.monday.token = "test-token"
  for k, v in pairs(opts.graphql or {}) do cfg.monday.graphql[k] = v end
  -- one client per env (its governor learns costs); its own for other knobs
  local mon
  if opts.graphql then mon = assert(runner.client(cfg)) else
    env.mon = env.mon or assert(runner.client(cfg))
    mon = env.mon
  end
  local plans = runner.plans({ cfg = cfg, items_meta = cfg.boards.items_metadata, subitems_meta = cfg.boards.subitems_metadata,
    columns = runner.source_columns(env.db, cfg.database.orders_table) }, opts.mapping or "greyson")
  local plan = plans[1]
  if opts.changes_in_plan then plan.changes = opts.changes_in_plan end
  local buf = {}
  local outf = { write = function(self, ...) for _, s in ipairs { ... } do buf[#buf + 1] = s end; return self end }
  local ctx = pipeline.context { db = env.db, mon = mon, cfg = cfg, plan = plan,
    customer = opts.customer or plan.canonical_name or "GREYSON", customers = opts.customers or plan.customers,
    dry_run = opts.dry_run, changes = opts.changes, quiet = true, out = outf, po = opts.po }
  ctx.log = opts.log or { info = function() end, warn = function() end, error = function() end, debug = function() end }
  return ctx, function() return table.concat(buf) end
end

-- Run the update step in-process; returns ctx, the printed text.
function M.update(env, opts)
  local ctx, out = M.context(env, opts)
  require("monhost.pipeline.update").run(ctx)
  return ctx, out()
end

-- UPDATE one source column of ORDERS_UNIFIED for the orders whose first
-- key part (AAG ORDER NUMBER) is in keys (a value or a list).
function M.set(env, column, value, keys)
  if type(keys) ~= "table" then keys = { keys } end
  local q = env.db:quote_ident(column)
  for _, k in ipairs(keys) do
    assert(env.db:exec(("UPDATE %s SET %s = ? WHERE %s = ?"):format(M.T(env), q, env.db:quote_ident("AAG ORDER NUMBER")),
      value, k))
  end
end

-- ORDERS_UNIFIED, quoted (PostgreSQL keeps its upper case only quoted)
function M.T(env) return env.db:quote_ident("ORDERS_UNIFIED") end

function M.orders(env, n)
  local out = {}
  for r in env.db:rows(('SELECT "AAG ORDER NUMBER" FROM %s ORDER BY "AAG ORDER NUMBER"'):format(M.T(env))) do
    out[#out + 1] = r[1]
    if n and #out >= n then break end
  end
  return out
end

-- The emulator's request log seq now (to count what is sent after it).
function M.seq(env)
  local log = env.emu:log(0)
  local last = 0
  for _, r in ipairs(log.requests or {}) do if r.seq > last then last = r.seq end end
  return last
end

-- Mutation root fields sent since seq: list of {field=, vars=} (one per
-- alias), parsed from the logged documents and variables.
function M.mutations(env, since)
  local log = env.emu:log(since or 0)
  local out = {}
  for _, r in ipairs(log.requests or {}) do
    if r.operation == "mutation" and r.seq > (since or 0) then
      local doc = r.document or ""
      if not doc:find("op%d+:") then -- a single mutation sent with mon:query
        local field
        for f in doc:gmatch("([%a_][%w_]*)%s*%(") do
          if f ~= "mutation" and f ~= "complexity" then field = f; break end
        end
        if field then out[#out + 1] = { field = field, vars = r.variables or {}, status = r.status, errors = r.error_codes } end
      end
      for k, field in doc:gmatch("op(%d+):([%w_]+)%(") do
        local vars = {}
        for name, v in pairs(r.variables or {}) do
          local a, i = name:match("^(.-)_(%d+)$")
          if i == k then vars[a] = v end
        end
        out[#out + 1] = { field = field, vars = vars, status = r.status, errors = r.error_codes }
      end
    end
  end
  return out
end

function M.count_fields(muts)
  local c = {}
  for _, m in ipairs(muts) do c[m.field] = (c[m.field] or 0) + 1 end
  return c
end

-- Board item by id (emulator state).
function M.item(env, id)
  local items, subs = env:board()
  for _, it in ipairs(items) do if it.id == tostring(id) then return it end end
  for _, it in ipairs(subs) do if it.id == tostring(id) then return it end end
end

function M.sync_state(env, key)
  local t = {}
  for r in env.db:rows("SELECT item_id, row_hash, group_name FROM MON_SyncState WHERE source_key LIKE ?", key .. "|%") do
    t = { item_id = r[1], row_hash = r[2], group_name = r[3] }
  end
  return t
end

M.decode = cjson.decode
M.sys = sys
return M
