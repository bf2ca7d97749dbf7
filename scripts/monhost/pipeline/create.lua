-- pipeline/create.lua: steps 6 and 7, creating items and subitems from
-- staging, crash-safe. For each block of PENDING staging rows:
--   1. build one create_item / create_subitem operation per row and hand the
--      block to the GraphQL client, which packs them into few HTTP requests;
--   2. before each request leaves (before_send), the rows it carries are
--      committed as SENDING with the request's Idempotency-Key: after a
--      crash the database says exactly which rows may be on the board;
--   3. when the results come back, one transaction writes the new ids back
--      (items: also as the parent id of their subitem rows) and moves the
--      rows to CREATED; rejected rows become FAILED with monday's message;
--      rows whose request surely never left go back to PENDING.
-- Rows still SENDING afterwards (the answer was lost) are resolved by
-- pipeline/recover.lua before anything new is sent.
local C = require "monhost.pipeline.common"

local M = {}

M.ITEMS = {
  kind = "item", table = "STG_MON_CustMasterSchedule", id = "stg_id", result = "item_id",
  stat = "items",
  pending = function(ctx, after, n)
    return C.select_limit(ctx.db, "stg_id, item_name, group_id, column_values FROM STG_MON_CustMasterSchedule "
      .. "WHERE board_id = ? AND state = ? AND stg_id > ? ORDER BY stg_id", n), { ctx.board_id, C.PENDING, after }
  end,
  op = function(ctx, row)
    local args = { board_id = ctx.board_id, item_name = C.tostr(row[2]),
      column_values = C.tostr(row[4]) or "{}", create_labels_if_missing = ctx.cfg.monday.create_labels_if_missing }
    if C.tostr(row[3]) then args.group_id = C.tostr(row[3]) end
    return { field = "create_item", args = args, select = "id" }
  end,
  written = function(ctx, done)
    -- the subitems of these items now know their parent
    ctx.db:update_many("UPDATE STG_MON_CustMasterSchedule_Subitems SET parent_item_id = ? WHERE stg_id = ?", done)
  end,
}

M.SUBITEMS = {
  kind = "subitem", table = "STG_MON_CustMasterSchedule_Subitems", id = "stg_sub_id", result = "subitem_id",
  stat = "subitems",
  pending = function(ctx, after, n)
    return C.select_limit(ctx.db, "stg_sub_id, item_name, parent_item_id, column_values FROM STG_MON_CustMasterSchedule_Subitems "
      .. "WHERE board_id = ? AND state = ? AND parent_item_id IS NOT NULL AND stg_sub_id > ? ORDER BY stg_sub_id", n),
      { ctx.board_id, C.PENDING, after }
  end,
  op = function(ctx, row)
    return { field = "create_subitem", args = { parent_item_id = C.tostr(row[3]), item_name = C.tostr(row[2]),
      column_values = C.tostr(row[4]) or "{}", create_labels_if_missing = ctx.cfg.monday.create_labels_if_missing },
      select = "id" }
  end,
}

-- Per-operation errors that mean "not now" rather than "never": the row
-- stays PENDING and the step waits and tries again.
M.DEFER = { ITEMS_LIMIT_EXCEEDED = true }

local function add(ctx, k, n) ctx.stats[k] = (ctx.stats[k] or 0) + n end

-- Per HTTP request (final outcome, retries included): count it and the
-- complexity monday reported for it.
local function on_request(ctx)
  return function(req)
    add(ctx, "api_calls", 1)
    local cx = req.complexity
    if type(cx) == "table" then add(ctx, "complexity", tonumber(cx.query) or 0) end
  end
end
M.on_request = on_request

-- Create one block of rows (arrays from spec.pending). Returns counts.
function M.send_block(ctx, spec, rows)
  local db, T, ID = ctx.db, spec.table, spec.id
  local ops = {}
  for i, row in ipairs(rows) do ops[i] = spec.op(ctx, row) end
  local max_attempts = ctx.cfg.batch.max_attempts
  local function before_send(req)
    local now, upd = C.now(), {}
    for _, i in ipairs(req.ops) do upd[#upd + 1] = { C.SENDING, req.key, now, now, rows[i][1] } end
    db:transaction(function()
      db:update_many(("UPDATE %s SET state = ?, idempotency_key = ?, sent_at = ?, updated_at = ?, attempts = attempts + 1 WHERE %s = ?"):format(T, ID), upd)
    end)
    if ctx.hooks and ctx.hooks.after_mark_sending then ctx.hooks.after_mark_sending(spec.kind, req) end
  end
  local results = ctx.mon:batch(ops, { before_send = before_send, on_request = on_request(ctx) })
  if ctx.hooks and ctx.hooks.after_results then ctx.hooks.after_results(spec.kind, results) end
  local now = C.now()
  local created, failed, pending, written, deferred = {}, {}, {}, {}, {}
  local nlost = 0
  for i, r in ipairs(results) do
    local id = rows[i][1]
    if M.DEFER[r.code] then
      -- the account's item budget is used up: not created, try again later
      deferred[#deferred + 1] = { C.PENDING, C.result_error(r), now, id }
    elseif r.ok then
      local new = C.result_id(r)
      created[#created + 1] = { C.CREATED, new, now, id }
      written[#written + 1] = { new, id }
    elseif r.sent == false or r.not_sent then
      pending[#pending + 1] = { C.PENDING, C.result_error(r), now, id }
    elseif r.sent == "unknown" or r.retryable then
      nlost = nlost + 1 -- stays SENDING: may or may not be on the board; recover decides
    else
      failed[#failed + 1] = { C.FAILED, C.result_error(r), now, id }
      ctx.failures[#ctx.failures + 1] = { kind = spec.kind, id = id, name = C.tostr(rows[i][2]), error = C.result_error(r) }
    end
  end
  db:transaction(function()
    if #created > 0 then
      db:update_many(("UPDATE %s SET state = ?, %s = ?, error = NULL, updated_at = ? WHERE %s = ?"):format(T, spec.result, ID), created)
      if spec.written then spec.written(ctx, written) end
    end
    if #failed > 0 then
      db:update_many(("UPDATE %s SET state = ?, error = ?, updated_at = ? WHERE %s = ?"):format(T, ID), failed)
    end
    if #deferred > 0 then
      db:update_many(("UPDATE %s SET state = ?, error = ?, updated_at = ?, attempts = attempts - 1 WHERE %s = ?"):format(T, ID), deferred)
    end
    if #pending > 0 then
      -- never sent; after max_attempts the row is given up as FAILED
      db:update_many(("UPDATE %s SET state = CASE WHEN attempts >= %d THEN 'FAILED' ELSE ? END, error = ?, updated_at = ? WHERE %s = ?")
        :format(T, max_attempts, ID), pending)
    end
  end)
  if ctx.hooks and ctx.hooks.after_write_back then ctx.hooks.after_write_back(spec.kind) end
  add(ctx, spec.stat .. "_created", #created)
  add(ctx, spec.stat .. "_failed", #failed)
  return #created, #failed, nlost, #deferred
end

-- Dry run: the operations that would be sent, from the records in memory.
function M.dry(ctx, spec)
  for _, r in ipairs(ctx.dry_records) do
    if not r.error then
      if spec.kind == "item" then
        local row = { 0, r.item_name, ctx.groups and ctx.groups[r.group_name], r.column_values }
        ctx.dry_ops[#ctx.dry_ops + 1] = spec.op(ctx, row)
      else
        for _, s in ipairs(r.subitems or {}) do
          local row = { 0, s.name or ("Size " .. tostring(s.size)), "(id of new item " .. r.key .. ")", s.column_values_json }
          ctx.dry_ops[#ctx.dry_ops + 1] = spec.op(ctx, row)
        end
      end
    end
  end
end

-- step: create everything PENDING for the board, block by block.
function M.run(ctx, spec, round)
  if ctx.dry_run then return M.dry(ctx, spec) end
  round = round or 1
  local block = ctx.cfg.batch.stage_size
  local after, lost, deferred = 0, 0, 0
  local total = tonumber(C.scalar(ctx.db, ("SELECT COUNT(*) FROM %s WHERE board_id = ? AND state = ?"):format(spec.table),
    ctx.board_id, C.PENDING)) or 0
  local bar = total > 0 and ctx.progress and ctx.progress(spec.kind .. "s", total)
  while true do
    local sql, params = spec.pending(ctx, after, block)
    local rows = C.rows_all(ctx.db, sql, table.unpack(params))
    if #rows == 0 then break end
    after = rows[#rows][1]
    local _, _, l, d = M.send_block(ctx, spec, rows)
    lost, deferred = lost + l, deferred + d
    if bar then bar:add(#rows) end
    if ctx.lock then require("monhost.pipeline.lock").heartbeat(ctx.db, ctx.lock) end
  end
  if bar then bar:done() end
  if deferred > 0 then
    -- monday's hourly item budget: wait (bounded by monday.limit_wait) and
    -- go over the deferred rows again
    ctx.waited = ctx.waited or 0
    local limit = ctx.cfg.monday.limit_wait or 3900
    if ctx.waited < limit then
      local pause = math.min(30, 2 ^ math.min(5, round - 1), limit - ctx.waited)
      ctx.log.info("item budget used up, waiting", { kind = spec.kind, deferred = deferred, seconds = pause })
      require("monhost.sys").sleep(pause)
      ctx.waited = ctx.waited + pause
      return M.run(ctx, spec, round + 1)
    end
    ctx.log.warn("item budget still used up; rows left PENDING for the next run", { kind = spec.kind, rows = deferred })
  end
  if lost > 0 then
    -- answers lost in transit: resolve them now rather than at the next
    -- run; rows found missing from the board are PENDING again: send them
    require("monhost.pipeline.recover").run(ctx)
    ctx.lost_rounds = (ctx.lost_rounds or 0) + 1
    if ctx.lost_rounds < 5 then return M.run(ctx, spec, round + 1) end
  end
end

function M.items(ctx) return M.run(ctx, M.ITEMS) end
function M.subitems(ctx) return M.run(ctx, M.SUBITEMS) end

return M
