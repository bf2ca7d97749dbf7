-- pipeline/batchlog.lua: step 9, one MON_BatchProcessing row per batch
-- (customer). It is written RUNNING when the batch starts, so a run that
-- dies leaves a trace; the next run on the board (holding the board lock,
-- so no other run is active) marks such rows ABORTED.
local C = require "monhost.pipeline.common"

local M = {}

function M.start(ctx)
  if ctx.dry_run then return end
  local db = ctx.db
  db:exec("UPDATE MON_BatchProcessing SET status = 'ABORTED', finished_at = ? WHERE board_id = ? AND status = 'RUNNING'",
    C.now(), ctx.board_id)
  db:exec([[INSERT INTO MON_BatchProcessing (batch_id, board_id, customer, mapping, kind, status, started_at, host)
    VALUES (?, ?, ?, ?, ?, 'RUNNING', ?, ?)]], ctx.batch_id, ctx.board_id, ctx.customer or C.NULL,
    ctx.plan and ctx.plan.name or C.NULL, ctx.kind or "sync", C.now(), C.hostname())
  ctx.started = ctx.started or require("monhost.sys").clock()
end

-- status: SUCCESS (nothing failed), PARTIAL (some records failed), FAILED
-- (the batch could not proceed; message says why).
function M.finish(ctx, status, message)
  if ctx.dry_run then return end
  local s = ctx.stats
  local dur = require("monhost.sys").clock() - (ctx.started or 0)
  s.duration = dur
  ctx.db:exec([[UPDATE MON_BatchProcessing SET status = ?, orders_selected = ?, items_created = ?, items_failed = ?,
      items_skipped = ?, subitems_total = ?, subitems_created = ?, subitems_failed = ?, api_calls = ?, complexity_used = ?,
      duration_s = ?, finished_at = ?, message = ? WHERE batch_id = ?]],
    status, s.selected, s.items_created, s.items_failed, s.duplicates + s.stage_errors, s.subitems_staged,
    s.subitems_created, s.subitems_failed, s.api_calls, math.floor(s.complexity), dur, C.now(),
    message or C.NULL, ctx.batch_id)
end

return M
