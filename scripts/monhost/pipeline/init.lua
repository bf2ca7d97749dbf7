-- pipeline: the sync workflow as steps a script can call, reorder, skip or
-- wrap. scripts/sync.lua is the standard script; a custom one looks like
--
--   local pipeline = require "monhost.pipeline"
--   local ctx = pipeline.context{ db = db, mon = mon, cfg = cfg, plan = plan, customer = "GREYSON" }
--   pipeline.run_batch(ctx)            -- or call ctx's steps one by one:
--   -- pipeline.recover(ctx); pipeline.select(ctx); pipeline.stage(ctx); pipeline.groups(ctx)
--   -- pipeline.items(ctx); pipeline.subitems(ctx); pipeline.finalize(ctx)
--
-- Every step works on the database state, not on memory handed from the
-- previous step (except select -> stage, a cursor), so a step can be re-run
-- and a run that died resumes where it stopped. See docs/pipeline.md.
local C = require "monhost.pipeline.common"
local log = require "monhost.log"

local M = {}

M.schema = require "monhost.pipeline.schema"
M.lock = require "monhost.pipeline.lock"
M.select = require("monhost.pipeline.select").run
M.stage = require("monhost.pipeline.stage").run
M.groups = require("monhost.pipeline.groups").run
M.items = require("monhost.pipeline.create").items
M.subitems = require("monhost.pipeline.create").subitems
M.recover = require("monhost.pipeline.recover").run
M.finalize = require("monhost.pipeline.finalize").run
M.update = require("monhost.pipeline.update").run
M.batch_start = require("monhost.pipeline.batchlog").start
M.batch_finish = require("monhost.pipeline.batchlog").finish

-- The default order of the steps of one batch.
-- "update" sends what changed on orders already on the board (docs/changes.md).
M.STEPS = { "batch_start", "recover", "select", "stage", "groups", "items", "subitems", "finalize", "update" }

function M.new_stats()
  return { selected = 0, staged = 0, duplicates = 0, stage_errors = 0, subitems_staged = 0,
    items_created = 0, items_failed = 0, items_adopted = 0,
    subitems_created = 0, subitems_failed = 0, subitems_adopted = 0,
    groups_created = 0, synced_items = 0, synced_subitems = 0,
    api_calls = 0, complexity = 0, duration = 0 }
end

-- ctx fields: db (a monhost.odbc connection), read_db (optional second
-- connection for the source cursor), mon (graphql client), cfg (config),
-- plan (mapping plan), customer (label), customers (raw CUSTOMER NAME values
-- or nil = all), po, keys, limit, dry_run, hooks, progress.
function M.context(t)
  local ctx = t
  ctx.db = C.strict(assert(t.db, "context: db required"))
  if t.read_db then ctx.read_db = C.strict(t.read_db) end
  ctx.cfg = t.cfg or require("monhost.config").DEFAULTS
  ctx.board_id = tostring(t.board_id or (t.plan and t.plan.board_id) or ctx.cfg.boards.items)
  local sb = t.subitem_board_id or (t.plan and t.plan.subitem_board_id) or ctx.cfg.boards.subitems
  ctx.subitem_board_id = sb and tostring(sb) or nil
  ctx.batch_id = t.batch_id or C.batch_id()
  ctx.stats = t.stats or M.new_stats()
  ctx.failures = t.failures or {}
  ctx.log = t.log or log
  ctx.dry_records, ctx.dry_ops = {}, {}
  ctx.orders_table = t.orders_table or ctx.cfg.database.orders_table
  if ctx.progress == nil and not ctx.quiet then ctx.progress = function(label, total) return log.progress(label, total) end end
  return ctx
end

-- Run the steps of one batch (default M.STEPS) and log it in
-- MON_BatchProcessing. Returns ctx.stats; raises when the batch cannot
-- proceed (after logging it FAILED).
function M.run_batch(ctx, steps)
  steps = steps or M.STEPS
  ctx.started = require("monhost.sys").clock()
  local ok, err = pcall(function()
    for _, name in ipairs(steps) do
      local f = type(name) == "function" and name or M[name]
      if not f then error("unknown step " .. tostring(name)) end
      if ctx.hooks and ctx.hooks.before_step then ctx.hooks.before_step(name, ctx) end
      f(ctx)
      -- where memory goes, for whoever reads a debug log
      ctx.log.debug("step done", { step = type(name) == "string" and name or "custom", batch = ctx.batch_id,
        peak_rss_kib = require("monhost.sys").peak_rss() })
    end
  end)
  ctx.stats.duration = require("monhost.sys").clock() - ctx.started
  local failed = ctx.stats.items_failed + ctx.stats.subitems_failed
  local st = ctx.stats
  local idle = st.selected + st.items_created + st.subitems_created + st.items_adopted + st.subitems_adopted
    + failed + st.synced_items + st.synced_subitems == 0
  if ok and idle and not ctx.dry_run then
    -- nothing to do for this customer: no row in the batch log
    ctx.db:exec("DELETE FROM MON_BatchProcessing WHERE batch_id = ?", ctx.batch_id)
  elseif ok then
    M.batch_finish(ctx, failed > 0 and "PARTIAL" or "SUCCESS")
  else
    pcall(M.batch_finish, ctx, "FAILED", tostring(err))
    error(err, 0)
  end
  return ctx.stats
end

-- GraphQL text of an operation list (what --dry-run prints): one document
-- per op with its arguments inline, the way monday would receive them.
local function literal(v)
  if type(v) == "string" then return require("cjson").encode(v) end
  if type(v) == "boolean" or type(v) == "number" then return tostring(v) end
  return require("cjson").encode(v)
end
function M.render(op)
  if op.doc then return op.doc .. "  # variables: " .. require("cjson").encode(op.vars or {}) end
  local keys = {}
  for k in pairs(op.args) do keys[#keys + 1] = k end
  table.sort(keys)
  local args = {}
  for i, k in ipairs(keys) do
    local v = op.args[k]
    if (k == "board_id" or k == "parent_item_id") and tostring(v):match("^%d+$") then args[i] = k .. ": " .. tostring(v)
    else args[i] = k .. ": " .. literal(v) end
  end
  return ("mutation { %s(%s) { %s } }"):format(op.field, table.concat(args, ", "), op.select or "id")
end

return M
