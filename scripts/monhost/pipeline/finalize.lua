-- pipeline/finalize.lua: step 8. What monday confirmed becomes sync state,
-- in one transaction of set-based statements (no row-by-row work):
--   created subitems -> MON_SyncState_Subitems, removed from staging;
--   created items whose subitems are all on the board -> MON_SyncState
--   (key -> item id, group, row hash) and MON_SyncState_Values (the name
--   and column values sent, the source fingerprint), removed from staging.
-- The row hash enters the sync state only here, i.e. only after monday
-- confirmed the write. An item with a failed subitem stays in staging
-- (CREATED) with that subitem until `monhost retry` gets it through, so
-- the sync state never claims an order is complete when it is not.
-- FAILED rows older than retention_days are dropped: their orders become
-- new again and are retried by the next run.
local C = require "monhost.pipeline.common"

local M = {}

function M.run(ctx)
  if ctx.dry_run then return end
  local db, b, now = ctx.db, ctx.board_id, C.now()
  local moved_items, moved_subs = 0, 0
  db:transaction(function()
    moved_subs = db:exec([[INSERT INTO MON_SyncState_Subitems
        (board_id, subitem_key, source_key, item_id, subitem_id, size_label, qty, batch_id, synced_at)
      SELECT u.board_id, u.subitem_key, u.source_key, u.parent_item_id, u.subitem_id, u.size_label, u.qty, u.batch_id, ?
      FROM STG_MON_CustMasterSchedule_Subitems u
      WHERE u.board_id = ? AND u.state = ?
        AND NOT EXISTS (SELECT 1 FROM MON_SyncState_Subitems x WHERE x.board_id = u.board_id AND x.subitem_key = u.subitem_key)]],
      now, b, C.CREATED)
    db:exec("DELETE FROM STG_MON_CustMasterSchedule_Subitems WHERE board_id = ? AND state = ?", b, C.CREATED)
    -- the values monday confirmed for the items about to enter the sync
    -- state, with their source fingerprints: what the update step diffs
    -- against, and why its next run need not transform these orders
    db:exec([[INSERT INTO MON_SyncState_Values
        (board_id, source_key, item_name, column_values, src_hash, plan_fp, customer, mapping, status, attempts, updated_at)
      SELECT s.board_id, s.source_key, s.item_name, s.column_values, s.src_hash, s.plan_fp, s.customer, s.mapping, 'ACTIVE', 0, ?
      FROM STG_MON_CustMasterSchedule s
      WHERE s.board_id = ? AND s.state = ?
        AND NOT EXISTS (SELECT 1 FROM STG_MON_CustMasterSchedule_Subitems u WHERE u.stg_id = s.stg_id)
        AND NOT EXISTS (SELECT 1 FROM MON_SyncState x WHERE x.board_id = s.board_id AND x.source_key = s.source_key)
        AND NOT EXISTS (SELECT 1 FROM MON_SyncState_Values v WHERE v.board_id = s.board_id AND v.source_key = s.source_key)]],
      now, b, C.CREATED)
    moved_items = db:exec([[INSERT INTO MON_SyncState
        (board_id, source_key, key1, key2, key3, key4, item_id, group_id, group_name, row_hash, batch_id, synced_at)
      SELECT s.board_id, s.source_key, s.key1, s.key2, s.key3, s.key4, s.item_id, s.group_id, s.group_name, s.row_hash, s.batch_id, ?
      FROM STG_MON_CustMasterSchedule s
      WHERE s.board_id = ? AND s.state = ?
        AND NOT EXISTS (SELECT 1 FROM STG_MON_CustMasterSchedule_Subitems u WHERE u.stg_id = s.stg_id)
        AND NOT EXISTS (SELECT 1 FROM MON_SyncState x WHERE x.board_id = s.board_id AND x.source_key = s.source_key)]],
      now, b, C.CREATED)
    db:exec([[DELETE FROM STG_MON_CustMasterSchedule
      WHERE board_id = ? AND state = ?
        AND NOT EXISTS (SELECT 1 FROM STG_MON_CustMasterSchedule_Subitems u WHERE u.stg_id = STG_MON_CustMasterSchedule.stg_id)]],
      b, C.CREATED)
  end)
  ctx.stats.synced_items = (ctx.stats.synced_items or 0) + (tonumber(moved_items) or 0)
  ctx.stats.synced_subitems = (ctx.stats.synced_subitems or 0) + (tonumber(moved_subs) or 0)
  M.prune(ctx)
end

-- Drop FAILED staging rows (and their subitems) older than the retention.
function M.prune(ctx)
  local days = ctx.cfg.retention_days
  if not days or days <= 0 then return end
  local db, cut = ctx.db, C.ago(days * 86400)
  db:transaction(function()
    db:exec([[DELETE FROM STG_MON_CustMasterSchedule_Subitems WHERE stg_id IN
      (SELECT stg_id FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND state = ? AND updated_at < ?)]],
      ctx.board_id, C.FAILED, cut)
    db:exec("DELETE FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND state = ? AND updated_at < ?",
      ctx.board_id, C.FAILED, cut)
    db:exec("DELETE FROM STG_MON_CustMasterSchedule_Subitems WHERE board_id = ? AND state = ? AND updated_at < ?",
      ctx.board_id, C.FAILED, cut)
  end)
end

return M
