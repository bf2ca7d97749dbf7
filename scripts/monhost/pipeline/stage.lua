-- pipeline/stage.lua: steps 2-4. Reads the selected orders from the cursor
-- in blocks, transforms each with the customer's mapping, and writes the
-- block to STG_MON_CustMasterSchedule (one insert_many) and its size
-- subitems to STG_MON_CustMasterSchedule_Subitems (one more insert_many,
-- linked by the parent's stg_id), all under the run's batch id. Memory is
-- bounded by the block size, whatever the number of orders.
-- A record the mapping cannot transform is staged as FAILED with the
-- mapping's messages, so it shows in `monhost status` and is not selected
-- again until `monhost retry`.
local C = require "monhost.pipeline.common"
local hash = require "monhost.hash"

local M = {}

M.ITEM_COLUMNS = { "batch_id", "board_id", "customer", "mapping", "source_key", "key1", "key2", "key3", "key4",
  "item_name", "group_name", "column_values", "row_hash", "src_hash", "plan_fp", "state", "error", "attempts",
  "created_at", "updated_at" }
M.SUBITEM_COLUMNS = { "stg_id", "batch_id", "board_id", "subitem_board_id", "source_key", "subitem_key",
  "size_label", "item_name", "qty", "column_values", "state", "attempts", "created_at", "updated_at" }

-- Key parts of a source row (array in plan.select_columns order or keyed by name).
function M.key_parts(plan, row)
  local idx = plan._key_index
  if not idx then
    idx = {}
    for i, c in ipairs(plan.select_columns) do idx[c] = i end
    plan._key_index = idx
  end
  local parts = {}
  for i, k in ipairs(plan.key_columns) do
    local v = row[idx[k]]
    if v == nil then v = row[k] end
    parts[i] = C.tostr(v)
  end
  return parts
end

-- The source key as text: key parts joined by '|' (stable across runs).
function M.key_text(parts)
  local t = {}
  for i, p in ipairs(parts) do t[i] = p or "" end
  return table.concat(t, "|")
end

-- The plan fingerprint under which a staged row's source fingerprint is
-- recorded, or false. The update step's scan hashes the mapped columns
-- (plus any cancel-rule columns) as it fetches them; the select step reads
-- the same columns the same way, so a staged row carries the fingerprint
-- the scan will compute, unless the change rules add columns the select
-- step does not read. finalize records it with the created values, so the
-- next update run finds the order unchanged without a transform. (Were
-- they ever to differ, the order would only be transformed once more.)
function M.fingerprint_plan(ctx)
  if ctx.stage_fp ~= nil then return ctx.stage_fp end
  local fp = false
  local ok, u = pcall(require("monhost.pipeline.update").setup, ctx)
  if ok and #u.extra == 0 then fp = u.fp end -- u.cols is then plan.select_columns
  ctx.stage_fp = fp
  return fp
end

local function errtext(errs)
  local t = {}
  for _, e in ipairs(errs or {}) do
    if type(e) == "table" then t[#t + 1] = (e.column and (e.column .. ": ") or "") .. tostring(e.message)
    else t[#t + 1] = tostring(e) end
  end
  return table.concat(t, "; ")
end

-- Transform one row -> staging record (plain table) or nil when it is a
-- duplicate of a key already seen in this run.
function M.transform(ctx, row)
  local plan = ctx.plan
  local parts = M.key_parts(plan, row)
  local key = M.key_text(parts)
  if ctx.seen[key] then return nil end
  ctx.seen[key] = true
  local ok, rec, errs = pcall(plan.transform, plan, row)
  if not ok then rec, errs = nil, { { message = tostring(rec) } } end
  errs = (rec and rec.errors and #rec.errors > 0 and rec.errors) or errs
  local r = { key = key, parts = parts }
  if rec then
    r.item_name, r.group_name = rec.item_name, rec.group_name
    r.column_values = rec.column_values_json
    r.hash = rec.hash
    r.subitems = rec.subitems or {}
    local fp = M.fingerprint_plan(ctx)
    if fp then r.src_hash, r.plan_fp = hash.row(row, #ctx.plan.select_columns), fp end
  end
  if not rec or (errs and #errs > 0) then
    r.error = "mapping: " .. (errtext(errs) ~= "" and errtext(errs) or "transform failed")
  end
  r.item_name = r.item_name or key
  r.group_name = r.group_name or ""
  return r
end

local function insert_block(ctx, block)
  local db, now = ctx.db, C.now()
  local rows = {}
  for i, r in ipairs(block) do
    rows[i] = { ctx.batch_id, ctx.board_id, ctx.customer or C.NULL, ctx.plan.name or C.NULL, r.key,
      r.parts[1] or C.NULL, r.parts[2] or C.NULL, r.parts[3] or C.NULL, r.parts[4] or C.NULL,
      r.item_name, r.group_name, r.column_values or C.NULL, r.hash or C.NULL,
      (not r.error and r.src_hash) or C.NULL, (not r.error and r.plan_fp) or C.NULL,
      r.error and C.FAILED or C.PENDING, r.error or C.NULL, r.error and 1 or 0, now, now }
  end
  local res = db:insert_many(C.T(db, "STG_MON_CustMasterSchedule"), M.ITEM_COLUMNS, rows,
    { batch_size = ctx.cfg.batch.stage_size, returning = "stg_id", on_error = "isolate" })
  local failed = {}
  for _, f in ipairs(res.failed or {}) do
    failed[f.index] = true
    ctx.log.warn("staging row refused", { key = block[f.index].key, error = f.message })
    ctx.stats.stage_errors = ctx.stats.stage_errors + 1
  end
  -- stg ids in input order (failed rows have none)
  local ids, j = {}, 0
  for i = 1, #block do
    if not failed[i] then
      j = j + 1
      ids[i] = res.ids and (res.ids[i] or (#res.ids < #block and res.ids[j])) or nil
    end
  end
  local subs = {}
  for i, r in ipairs(block) do
    if not failed[i] then
      local id = ids[i] or C.scalar(db, "SELECT stg_id FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND source_key = ?", ctx.board_id, r.key)
      if r.error then
        ctx.stats.items_failed = ctx.stats.items_failed + 1
        ctx.failures[#ctx.failures + 1] = { kind = "item", id = id, name = r.item_name, error = r.error }
      end
      ctx.stats.staged = ctx.stats.staged + 1
      for _, s in ipairs(r.subitems or {}) do
        local size = tostring(s.size)
        subs[#subs + 1] = { id, ctx.batch_id, ctx.board_id, ctx.subitem_board_id or C.NULL, r.key, r.key .. "|" .. size,
          size, s.name or ("Size " .. size), math.tointeger(tonumber(s.qty)) or C.NULL, s.column_values_json or C.NULL,
          C.PENDING, 0, now, now }
      end
    end
  end
  if #subs > 0 then
    local sres = db:insert_many(C.T(db, "STG_MON_CustMasterSchedule_Subitems"), M.SUBITEM_COLUMNS, subs,
      { batch_size = ctx.cfg.batch.stage_size, on_error = "isolate" })
    for _, f in ipairs(sres.failed or {}) do
      ctx.log.warn("staging subitem refused", { key = subs[f.index][6], error = f.message })
      ctx.stats.stage_errors = ctx.stats.stage_errors + 1
    end
    ctx.stats.subitems_staged = ctx.stats.subitems_staged + (sres.inserted or #subs)
  end
end

-- step: stage everything the cursor yields. In a dry run, records are kept
-- in ctx.dry_records instead (nothing is written).
function M.run(ctx)
  local cur = ctx.cursor
  local n = ctx.cfg.batch.fetch_size
  ctx.seen = ctx.seen or {}
  local bar = ctx.progress and ctx.progress("staging", nil)
  while true do
    local rows = cur:fetch_many(n)
    if not rows or #rows == 0 then break end
    local block = {}
    for _, row in ipairs(rows) do
      ctx.stats.selected = ctx.stats.selected + 1
      local r = M.transform(ctx, row)
      if r then block[#block + 1] = r else ctx.stats.duplicates = ctx.stats.duplicates + 1 end
    end
    if ctx.dry_run then
      for _, r in ipairs(block) do
        ctx.dry_records[#ctx.dry_records + 1] = r
        ctx.stats.staged = ctx.stats.staged + 1
        ctx.stats.subitems_staged = ctx.stats.subitems_staged + #(r.subitems or {})
        if r.error then
          ctx.stats.items_failed = ctx.stats.items_failed + 1
          ctx.failures[#ctx.failures + 1] = { kind = "item", name = r.item_name, error = r.error }
        end
      end
    elseif #block > 0 then
      ctx.db:transaction(function() insert_block(ctx, block) end)
    end
    if bar then bar:add(#rows) end
    if #rows < n then break end
  end
  if cur.close then cur:close() end
  ctx.cursor = nil
  if bar then bar:done() end
end

return M
