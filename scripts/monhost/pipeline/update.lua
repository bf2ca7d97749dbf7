-- pipeline/update.lua: the update step, after the create steps. For the
-- orders already on the board (MON_SyncState) it finds what changed and
-- sends only that:
--   1. scan: one streaming query joins ORDERS_UNIFIED to the sync state and
--      fetches the mapped source columns of each order; their native hash
--      (monhost.hash.row, one C call per row) is compared with the
--      fingerprint stored when monday last confirmed the order (under the
--      same mapping, see update_diff.plan_fp). Equal: nothing mapped
--      changed, no Lua transform runs. This is the whole cost of a
--      no-change run: about a bare fetch of the same rows.
--   2. the other orders ("suspects") are fetched whole, transformed by the
--      mapping, and their canonical hash (monhost.hash over what would be
--      sent) compared with the synced one; a difference is diffed column
--      by column against the values monday confirmed (MON_SyncState_Values)
--      and sent as change_multiple_column_values (changed columns only),
--      move_item_to_group, create_subitem, subitem updates, zero or delete.
--   3. orders gone from ORDERS_UNIFIED, or cancelled, get what the change
--      rules say (default: reported only).
-- Hashes and values are written only for operations monday confirmed; a
-- failed one leaves the old hash, so the next run finds the order changed
-- again and retries exactly what is still missing. See docs/changes.md.
--
--   local update = require "monhost.pipeline.update"
--   update.run(ctx)                -- a step: ctx from pipeline.context{...}
--   update.install(pipeline)       -- adds "update" after "finalize" in pipeline.STEPS
local cjson = require "cjson"
local hash = require "monhost.hash"
local C = require "monhost.pipeline.common"
local D = require "monhost.pipeline.update_diff"
local groups = require "monhost.pipeline.groups"

local NULL = cjson.null
local M = {}

M.SUSPECTS_FULL_PASS = 1000 -- above this many suspects, one full pass beats keyed lookups
M.IN_BLOCK = 500            -- keys per IN list (SQL Server allows 2,100 parameters)
M.LOOKUP_BLOCK = 2000       -- first key parts per suspect lookup (one scan of the source each)

local VALUE_COLUMNS = { "board_id", "source_key", "item_name", "column_values", "src_hash", "plan_fp",
  "customer", "mapping", "status", "status_at", "error", "attempts", "updated_at" }
local SUBVALUE_COLUMNS = { "board_id", "subitem_key", "source_key", "parent_item_id", "size_label", "item_name",
  "column_values", "qty", "state", "idempotency_key", "error", "updated_at" }
local SYNC_SUB_COLUMNS = { "board_id", "subitem_key", "source_key", "item_id", "subitem_id", "size_label", "qty",
  "batch_id", "synced_at" }

local function add(ctx, k, n) ctx.stats[k] = (ctx.stats[k] or 0) + (n or 1) end
local function nn(v) if v == NULL then return nil end return v end

-- ---- setup ----------------------------------------------------------------

-- ctx.upd: everything the step derives once from the plan.
function M.setup(ctx)
  if ctx.upd then return ctx.upd end
  local plan = assert(ctx.plan, "update: ctx.plan required")
  local rules = D.rules(plan, ctx.changes)
  local sel = plan.select_columns
  local pos = {}
  for i, c in ipairs(sel) do pos[c] = i end
  local extra = {}
  for _, c in ipairs(rules.cancel_columns) do
    if not pos[c] and (not plan.source_columns or (function()
      for _, sc in ipairs(plan.source_columns) do if sc.name == c then return true end end
    end)()) then
      extra[#extra + 1] = c
      pos[c] = #sel + #extra
    end
  end
  if rules.is_cancelled and type(rules.cancel_when) == "table" and not pos[rules.cancel_when.column] then
    rules.is_cancelled = nil -- the source has no such column: nothing can be cancelled by it
  end
  local types, titles = {}, {}
  for _, e in ipairs(plan.entries or {}) do types[e.id] = e.type; titles[e.id] = e.title end
  local sub_types = {}
  for _, c in ipairs(plan.subitem_columns or {}) do sub_types[c.id] = c.type end
  local size_index = {}
  for i, s in ipairs(plan.sizes or {}) do size_index[tostring(s)] = i end
  local cols = {}
  for _, c in ipairs(sel) do cols[#cols + 1] = c end
  for _, c in ipairs(extra) do cols[#cols + 1] = c end
  ctx.upd = { rules = rules, extra = extra, cols = cols, pos = pos, types = types, titles = titles,
    sub_types = sub_types, size_index = size_index, fp = D.plan_fp(plan, rules, extra) }
  return ctx.upd
end

-- ---- SQL --------------------------------------------------------------------

-- The SQLite ODBC driver steps through a result only when the statement
-- has no parameters; with any, it reads the whole result into memory first
-- (100,000 wide rows: ~400 MB). The two long scans therefore carry their
-- only machine values as literals, checked to be digits and hex (nothing
-- a user typed), and filter the customers in Lua. Everything else, and
-- every other dialect, binds parameters.
local function literal_mode(ctx)
  if ctx.db.dialect ~= "sqlite" or ctx.po or (ctx.keys and #ctx.keys > 0) then return false end
  local u = M.setup(ctx)
  if not tostring(ctx.board_id):match("^%d+$") or not u.fp:match("^%x+$") then return false end
  local cc = ctx.plan.customer_column or "CUSTOMER NAME"
  if ctx.customers and #ctx.customers > 0 and not u.pos[cc] then return false end
  return true
end
M.literal_mode = literal_mode

-- Customer filter done in Lua (literal mode): column index and set, or nil.
local function lua_customers(ctx)
  if not (ctx.customers and #ctx.customers > 0) then return nil end
  local u = M.setup(ctx)
  local set = {}
  for _, c in ipairs(ctx.customers) do set[c] = true end
  return u.pos[ctx.plan.customer_column or "CUSTOMER NAME"], set
end

local function key_join(db, plan)
  local conds = {}
  for i, k in ipairs(plan.key_columns) do
    conds[i] = ("s.key%d = %s"):format(i, C.text_cast(db, "o." .. db:quote_ident(k)))
  end
  return table.concat(conds, " AND ")
end

-- WHERE conditions on o (customers, one PO, retry keys, the mapping's filter).
local function filters(ctx, params)
  local db, plan = ctx.db, ctx.plan
  local q = function(n) return db:quote_ident(n) end
  local sel = require "monhost.pipeline.select"
  local where = {}
  if ctx.customers and #ctx.customers > 0 and not literal_mode(ctx) then
    where[#where + 1] = "o." .. q(plan.customer_column or sel.CUSTOMER_COLUMN) .. " IN (" .. C.marks(#ctx.customers) .. ")"
    for _, c in ipairs(ctx.customers) do params[#params + 1] = c end
  end
  if ctx.po then
    local ors = {}
    for _, c in ipairs(sel.PO_COLUMNS) do ors[#ors + 1] = "o." .. q(c) .. " = ?"; params[#params + 1] = ctx.po end
    where[#where + 1] = "(" .. table.concat(ors, " OR ") .. ")"
  end
  if ctx.keys and #ctx.keys > 0 then
    where[#where + 1] = C.text_cast(db, "o." .. q(plan.key_columns[1])) .. " IN (" .. C.marks(#ctx.keys) .. ")"
    for _, k in ipairs(ctx.keys) do params[#params + 1] = k end
  end
  if plan.filter and plan.filter ~= "" then where[#where + 1] = "(" .. plan.filter .. ")" end
  return where
end

-- FROM ORDERS_UNIFIED joined to the sync state (and its values). The
-- source table has no index on the key: the scan must run over it once and
-- probe the sync state's key index, never the other way round. SQLite's
-- planner picks the other way on its own; CROSS JOIN fixes its loop order.
-- Returns the FROM text and the join conditions, which go first in WHERE
-- (their only parameter is the board id).
local function from_clause(ctx)
  local db = ctx.db
  local o = db:quote_ident(ctx.orders_table or "ORDERS_UNIFIED")
  local v = "LEFT JOIN MON_SyncState_Values v ON v.board_id = s.board_id AND v.source_key = s.source_key"
  local on = (literal_mode(ctx) and ("s.board_id = '" .. tostring(ctx.board_id) .. "'") or "s.board_id = ?") .. " AND "
    .. key_join(db, ctx.plan)
  if db.dialect == "sqlite" then
    return ("FROM %s o CROSS JOIN MON_SyncState s\n%s"):format(o, v), on
  end
  return ("FROM %s o JOIN MON_SyncState s ON %s\n%s"):format(o, on, v), nil
end

-- Phase 1: the fingerprint scan.
function M.scan_sql(ctx)
  local u = M.setup(ctx)
  local lit = literal_mode(ctx)
  local params = lit and {} or { u.fp, ctx.board_id }
  local from, on = from_clause(ctx)
  -- (the plan fingerprint parameter is in the SELECT list, before FROM)
  local where = filters(ctx, params)
  if on then table.insert(where, 1, on) end
  local cols = {}
  for i, c in ipairs(u.cols) do cols[i] = "o." .. ctx.db:quote_ident(c) end
  -- the two sync-state columns last: the fingerprint hashes r[1 .. #u.cols]
  local sql = ("SELECT %s, s.source_key, CASE WHEN v.plan_fp = %s THEN v.src_hash END\n%s"):format(
    table.concat(cols, ", "), lit and ("'" .. u.fp .. "'") or "?", from)
  if #where > 0 then sql = sql .. "\nWHERE " .. table.concat(where, "\n  AND ") end
  return sql, params
end

-- Phase 2: whole rows: the mapped source columns first (r[1..#u.cols], so
-- the row is the transform's input and the fingerprint's as it is, with no
-- copy), then the sync state's columns at r[#u.cols + F.key ...].
local F = { key = 1, item_id = 2, row_hash = 3, group_id = 4, group_name = 5, item_name = 6, column_values = 7,
  status = 8, attempts = 9, src_hash = 10, plan_fp = 11 }
M.FIXED = F
local function full_sql(ctx, extra_where, extra_params, scoped)
  local db, u = ctx.db, M.setup(ctx)
  local cols = {}
  for i, c in ipairs(u.cols) do cols[i] = "o." .. db:quote_ident(c) end
  local params = (scoped and literal_mode(ctx)) and {} or { ctx.board_id }
  local from, on = from_clause(ctx)
  if not scoped and on then on = on:gsub("^s%.board_id = '%d+'", "s.board_id = ?") end
  local where = scoped and filters(ctx, params) or {}
  if on then table.insert(where, 1, on) end
  if extra_where then
    where[#where + 1] = extra_where
    for _, p in ipairs(extra_params) do params[#params + 1] = p end
  end
  local sql = ("SELECT %s, s.source_key, s.item_id, s.row_hash, s.group_id, s.group_name, v.item_name, "
    .. "v.column_values, v.status, v.attempts, v.src_hash, v.plan_fp\n%s"):format(table.concat(cols, ", "), from)
  if #where > 0 then sql = sql .. "\nWHERE " .. table.concat(where, "\n  AND ") end
  -- the same order as the select step: of two rows with one key, the
  -- newest is the order
  sql = sql .. ("\nORDER BY o.%s DESC, o.%s"):format(db:quote_ident(require("monhost.pipeline.select").ORDER_COLUMN),
    db:quote_ident(ctx.plan.key_columns[1]))
  return sql, params
end

-- ---- the step -----------------------------------------------------------------

function M.run(ctx)
  local u = M.setup(ctx)
  local db = ctx.db
  local t0 = require("monhost.sys").clock()
  if not ctx.dry_run then M.resolve_sending(ctx) end
  -- Orders this batch has just created were transformed from these very
  -- rows moments ago: nothing to update (the next run records their values
  -- and fingerprints).
  local fresh = {}
  for r in db:rows("SELECT source_key FROM MON_SyncState WHERE board_id = ? AND batch_id = ?",
    tostring(ctx.board_id), tostring(ctx.batch_id)) do
    fresh[C.tostr(r[1])] = true
  end
  -- 1. scan
  local sql, params = M.scan_sql(ctx)
  local cur = (ctx.read_db or db):query(sql, table.unpack(params))
  local suspects, sset = {}, {}
  local checked, unchanged = 0, 0
  local fast = u.rules.fast ~= false
  local n = ctx.cfg.batch.fetch_size or 500
  local hv = hash.row
  local nc = #u.cols
  local ci, cset = nil, nil
  if literal_mode(ctx) then ci, cset = lua_customers(ctx) end
  while true do
    local rows = cur:fetch_many(n)
    if not rows or #rows == 0 then break end
    for i = 1, #rows do
      local r = rows[i]
      checked = checked + 1
      local k, stored = r[nc + 1], r[nc + 2]
      if (ci and not cset[r[ci]]) or fresh[k] then
        checked = checked - 1 -- another batch's customer, or created just now
      elseif fast and stored ~= NULL and stored == hv(r, nc) then
        unchanged = unchanged + 1
      else
        if not sset[k] then sset[k] = true; suspects[#suspects + 1] = k end
      end
    end
    if #rows < n then break end
  end
  if cur.close then cur:close() end
  add(ctx, "update_checked", checked)
  add(ctx, "update_suspects", #suspects)
  ctx.update_scan_seconds = require("monhost.sys").clock() - t0
  -- 2. the suspects, whole
  if #suspects > 0 then M.process_suspects(ctx, suspects, sset) end
  add(ctx, "update_unchanged", unchanged)
  -- 3. orders gone from the source
  if not (ctx.po or (ctx.keys and #ctx.keys > 0) or ctx.limit) then M.missing(ctx) end
  M.summary(ctx)
  return ctx.stats
end

-- Fetch the suspects' rows and hand them to process_block in blocks.
function M.process_suspects(ctx, suspects, sset)
  local db = ctx.db
  local block, seen = {}, {}
  local bsize = ctx.cfg.batch.stage_size or 500
  local ci, cset = nil, nil
  if literal_mode(ctx) then ci, cset = lua_customers(ctx) end
  local nf = #M.setup(ctx).cols
  local function take(r)
    local k = r[nf + F.key]
    if ci and not cset[r[ci]] then return end
    if sset[k] and not seen[k] then
      seen[k] = true
      block[#block + 1] = r
      if #block >= bsize then M.process_block(ctx, block); block = {} end
    end
  end
  local function stream(sql, params)
    local rows = C.rows_all(ctx.read_db or db, sql, table.unpack(params))
    for _, r in ipairs(rows) do take(r) end
  end
  -- a full pass keeps a cursor open while blocks are written: only with a
  -- second connection for reading (ctx.read_db), as starting a transaction
  -- closes the open cursors of a connection
  if ctx.read_db and #suspects > M.SUSPECTS_FULL_PASS then
    local sql, params = full_sql(ctx, nil, {}, true)
    local cur = (ctx.read_db or db):query(sql, table.unpack(params))
    local n = ctx.cfg.batch.fetch_size or 500
    while true do
      local rows = cur:fetch_many(n)
      if not rows or #rows == 0 then break end
      for _, r in ipairs(rows) do take(r) end
      if #rows < n then break end
    end
    if cur.close then cur:close() end
  else
    -- keyed lookups: the first key part of each suspect, exact keys filtered here
    local k1s, s1 = {}, {}
    for _, k in ipairs(suspects) do
      local p = k:match("^([^|]*)") or k
      if not s1[p] then s1[p] = true; k1s[#k1s + 1] = p end
    end
    C.chunks(k1s, M.LOOKUP_BLOCK, function(chunk)
      -- on o's side: the source table has no index on the key, so this is
      -- one scan per block probing the sync state's key index
      local expr = C.text_cast(db, "o." .. db:quote_ident(ctx.plan.key_columns[1]))
      local sql, params = full_sql(ctx, expr .. " IN (" .. C.marks(#chunk) .. ")", chunk, false)
      stream(sql, params)
    end)
  end
  if #block > 0 then M.process_block(ctx, block) end
end

-- Synced subitems of a block of orders: source_key -> size label -> row.
local function synced_subitems(ctx, keys)
  local out = {}
  C.chunks(keys, M.IN_BLOCK, function(chunk)
    local params = { ctx.board_id }
    for _, k in ipairs(chunk) do params[#params + 1] = k end
    for r in ctx.db:rows("SELECT ss.source_key, ss.subitem_key, ss.subitem_id, ss.size_label, ss.qty, ss.item_id, "
      .. "sv.item_name, sv.column_values FROM MON_SyncState_Subitems ss LEFT JOIN MON_SyncState_SubitemValues sv "
      .. "ON sv.board_id = ss.board_id AND sv.subitem_key = ss.subitem_key WHERE ss.board_id = ? AND ss.source_key IN ("
      .. C.marks(#chunk) .. ")", table.unpack(params)) do
      local k = C.tostr(r[1])
      out[k] = out[k] or {}
      local size = C.tostr(r[4]) or (C.tostr(r[2]):sub(#k + 2))
      out[k][size] = { subitem_key = C.tostr(r[2]), subitem_id = C.tostr(r[3]), size = size,
        qty = math.tointeger(tonumber(nn(r[5]))), item_id = C.tostr(r[6]), name = C.tostr(r[7]),
        column_values = C.tostr(r[8]) }
    end
  end)
  return out
end

-- The values a subitem was created with, rebuilt from its synced quantity
-- (for subitems created by the create flow, whose values were not kept).
local function rebuilt_subitem_values(plan, u, size, qty)
  local i = u.size_index[size]
  if not i or not plan.size_pre or qty == nil then return nil end
  return D.decode(plan.size_pre[i] .. string.format("%d", qty) .. plan.size_post[i])
end

local function status_op(ctx, item_id, action)
  if action == "archive" then
    return { field = "archive_item", args = { item_id = item_id }, board = ctx.board_id, select = "id" }
  end
  local plan = ctx.plan
  local ty = "status"
  if plan.board then
    local ok, col = pcall(require("monhost.mapping.board").find, plan.board, action.column)
    if ok and type(col) == "table" and col.type then ty = col.type == "color" and "status" or col.type end
  end
  local v, err = require("monhost.colvals").value(ty, action.value)
  if v == nil then error(("changes: value %s for column %s: %s"):format(tostring(action.value), action.column, tostring(err)), 0) end
  return { field = "change_multiple_column_values", args = { board_id = ctx.board_id, item_id = item_id,
    column_values = require("monhost.colvals").encode({ [action.column] = v }),
    create_labels_if_missing = ctx.cfg.monday.create_labels_if_missing }, board = ctx.board_id, select = "id" }
end

-- Work out the change of one order. Returns a change table, or nil when the
-- row's transform failed (ctx.failures has it).
function M.change_of(ctx, r, subs)
  local plan, u = ctx.plan, M.setup(ctx)
  local nf = #u.cols
  local key = C.tostr(r[nf + F.key])
  -- the row's first columns are the mapping's (trailing ones are not read)
  local ok, rec, errs = pcall(plan.transform, plan, r)
  if not ok then rec, errs = nil, { { message = tostring(rec) } } end
  errs = (rec and rec.errors and #rec.errors > 0 and rec.errors) or errs
  local ch = { key = key, item_id = C.tostr(r[nf + F.item_id]), row_hash = C.tostr(r[nf + F.row_hash]),
    group_id = C.tostr(r[nf + F.group_id]), group_name = C.tostr(r[nf + F.group_name]),
    old_name = C.tostr(r[nf + F.item_name]), old_json = C.tostr(r[nf + F.column_values]),
    status = C.tostr(r[nf + F.status]), attempts = math.tointeger(tonumber(nn(r[nf + F.attempts]))) or 0,
    old_fp = C.tostr(r[nf + F.src_hash]), old_plan_fp = C.tostr(r[nf + F.plan_fp]), ops = {}, subs = {} }
  if not rec or (errs and #errs > 0) then
    local t = {}
    for _, e in ipairs(errs or {}) do t[#t + 1] = type(e) == "table" and ((e.column and (e.column .. ": ") or "") .. tostring(e.message)) or tostring(e) end
    ch.error = "mapping: " .. (#t > 0 and table.concat(t, "; ") or "transform failed")
    return ch
  end
  ch.rec, ch.name = rec, rec.item_name
  -- cancelled?
  if u.rules.is_cancelled then
    local get = function(name)
      local i = u.pos[name]
      local v = i and r[i]
      if v == NULL then return nil end
      return v
    end
    local okc, c = pcall(u.rules.is_cancelled, get)
    ch.cancelled = okc and c and true or false
  end
  if rec.hash == ch.row_hash then ch.same = true; return ch end
  -- item values and name
  local new = D.decode(rec.column_values_json) or {}
  local old = D.decode(ch.old_json)
  ch.unknown_old = old == nil
  ch.old = old
  local values, ids = D.diff_values(old, new, u.types)
  if ch.old_name ~= rec.item_name then
    values = values or {}
    ids = ids or {}
    values.name = rec.item_name
    table.insert(ids, 1, "name")
    if ch.old_name then ch.name_change = { ch.old_name, rec.item_name } end
  end
  ch.values, ch.ids = values, ids
  if rec.group_name and ch.group_name ~= rec.group_name then ch.move = { ch.group_name, rec.group_name } end
  -- subitems
  local have = subs or {}
  local now_sizes = {}
  for _, s in ipairs(rec.subitems or {}) do
    local size = tostring(s.size)
    now_sizes[size] = true
    local syn = have[size]
    if not syn then
      ch.subs[#ch.subs + 1] = { op = "create", size = size, name = s.name, qty = s.qty,
        json = s.column_values_json, subitem_key = key .. "|" .. size }
    else
      local sold = D.decode(syn.column_values) or rebuilt_subitem_values(plan, u, size, syn.qty)
      local snew = D.decode(s.column_values_json) or {}
      local sv, sids = D.diff_values(sold, snew, u.sub_types)
      local oldname = syn.name or s.name
      if oldname ~= s.name then
        sv = sv or {}; sids = sids or {}
        sv.name = s.name; sids[#sids + 1] = "name"
      end
      if sv then
        ch.subs[#ch.subs + 1] = { op = "update", size = size, name = s.name, qty = s.qty, json = s.column_values_json,
          values = sv, ids = sids, old = sold, qty_id = plan.qty_column_id, subitem_id = syn.subitem_id,
          subitem_key = syn.subitem_key }
      end
    end
  end
  for size, syn in pairs(have) do
    if not now_sizes[size] then
      local e = { size = size, name = syn.name or size, old_qty = syn.qty, subitem_id = syn.subitem_id,
        subitem_key = syn.subitem_key }
      if u.rules.zero == "delete" then e.op = "delete"
      elseif (syn.qty or 0) ~= 0 then e.op = "zero" end
      if e.op then ch.subs[#ch.subs + 1] = e end
    end
  end
  table.sort(ch.subs, function(a, b) return (u.size_index[a.size] or 0) < (u.size_index[b.size] or 0) end)
  return ch
end

-- Operations of a change: appended to ops, with back references in refs.
local function ops_of(ctx, ch, ops, refs)
  local plan = ctx.plan
  local labels = ctx.cfg.monday.create_labels_if_missing
  local function push(op, ref) ops[#ops + 1] = op; refs[#refs + 1] = ref; ch.nops = (ch.nops or 0) + 1 end
  if ch.values then
    push({ field = "change_multiple_column_values", args = { board_id = ctx.board_id, item_id = ch.item_id,
      column_values = require("monhost.colvals").encode(ch.values), create_labels_if_missing = labels },
      board = ctx.board_id, select = "id" }, { ch = ch, kind = "values" })
  end
  if ch.move then
    local gid = ctx.groups and ctx.groups[ch.move[2]]
    push({ field = "move_item_to_group", args = { item_id = ch.item_id, group_id = gid or "(new)" },
      board = ctx.board_id, select = "id" }, { ch = ch, kind = "move", group_id = gid })
  end
  for _, s in ipairs(ch.subs) do
    if s.op == "create" then
      push({ field = "create_subitem", args = { parent_item_id = ch.item_id, item_name = s.name, column_values = s.json,
        create_labels_if_missing = labels }, board = ctx.board_id, select = "id" }, { ch = ch, kind = "sub", s = s })
    elseif s.op == "update" then
      push({ field = "change_multiple_column_values", args = { board_id = tostring(ctx.subitem_board_id or plan.subitem_board_id),
        item_id = s.subitem_id, column_values = require("monhost.colvals").encode(s.values), create_labels_if_missing = labels },
        board = ctx.board_id, select = "id" }, { ch = ch, kind = "sub", s = s })
    elseif s.op == "zero" then
      s.values = { [plan.qty_column_id] = "0" }
      push({ field = "change_multiple_column_values", args = { board_id = tostring(ctx.subitem_board_id or plan.subitem_board_id),
        item_id = s.subitem_id, column_values = require("monhost.colvals").encode(s.values) },
        board = ctx.board_id, select = "id" }, { ch = ch, kind = "sub", s = s })
    elseif s.op == "delete" then
      push({ field = "delete_item", args = { item_id = s.subitem_id }, board = ctx.board_id, select = "id" },
        { ch = ch, kind = "sub", s = s })
    end
  end
  if ch.cancel_action then
    push(status_op(ctx, ch.item_id, ch.cancel_action), { ch = ch, kind = "cancel" })
  end
end

local function out(ctx, line)
  local f = ctx.out or io.stdout
  f:write(line, "\n")
end

-- Upsert rows into a table keyed by (board_id, key column): delete + insert.
local function upsert(db, tbl, columns, keycol, rows)
  if #rows == 0 then return end
  local kidx
  for i, c in ipairs(columns) do if c == keycol then kidx = i end end
  local dels = {}
  for i, r in ipairs(rows) do dels[i] = { r[1], r[kidx] } end
  db:update_many(("DELETE FROM %s WHERE board_id = ? AND %s = ?"):format(tbl, keycol), dels)
  db:insert_many(C.T(db, tbl), columns, rows, {})
end
M.upsert = upsert

local function value_row(ctx, ch, t)
  local now = C.now()
  return { ctx.board_id, ch.key, t.item_name or NULL, t.column_values or NULL, t.src_hash or NULL, t.plan_fp or NULL,
    ctx.customer or NULL, ctx.plan.name or NULL, t.status or "ACTIVE", t.status_at or NULL, t.error or NULL,
    t.attempts or 0, now }
end

local function ok_result(r, kind)
  if r.ok then return true end
  -- deleting what is already gone is what was wanted
  if kind == "delete" and tostring(r.code or ""):find("NotFound") then return true end
  return false
end

-- Transform, diff, send and record one block of suspect rows.
function M.process_block(ctx, rows)
  local u = M.setup(ctx)
  local db, plan = ctx.db, ctx.plan
  local nf = #u.cols
  local keys = {}
  for i, r in ipairs(rows) do keys[i] = C.tostr(r[nf + F.key]) end
  local subs = synced_subitems(ctx, keys)
  local changes, stale = {}, {}
  for _, r in ipairs(rows) do
    local k = C.tostr(r[nf + F.key])
    local ch = M.change_of(ctx, r, subs[k])
    ch.fp = hash.row(r, nf)
    if ch.error then
      add(ctx, "updates_failed")
      ctx.failures[#ctx.failures + 1] = { kind = "update", name = k, error = ch.error }
    else
      -- cancellation: act once per (status, rule)
      local want = ch.cancelled and D.status_tag("cancelled", u.rules.cancelled) or "ACTIVE"
      local have = ch.status or "ACTIVE"
      if have:match("^MISSING") then have = "ACTIVE" end -- it is back
      if want ~= have then
        ch.new_status = want
        if ch.cancelled then
          add(ctx, "orders_cancelled")
          ctx.cancelled = ctx.cancelled or {}
          ctx.cancelled[#ctx.cancelled + 1] = { key = k, item_id = ch.item_id, name = ch.name }
          if u.rules.cancelled ~= "report" then ch.cancel_action = u.rules.cancelled end
        end
      end
      if ch.same and not ch.cancel_action then stale[#stale + 1] = ch else changes[#changes + 1] = ch end
    end
  end
  -- groups the moves need
  local titles, tset = {}, {}
  for _, ch in ipairs(changes) do
    if ch.move and not tset[ch.move[2]] then tset[ch.move[2]] = true; titles[#titles + 1] = ch.move[2] end
  end
  table.sort(titles)
  if #titles > 0 then groups.ensure(ctx, titles) end
  local ops, refs = {}, {}
  for _, ch in ipairs(changes) do ops_of(ctx, ch, ops, refs) end
  if ctx.dry_run then
    for _, ch in ipairs(changes) do
      if (ch.nops or 0) > 0 then
        for _, l in ipairs(D.render(ch, u.titles)) do out(ctx, l) end
        if ch.cancel_action then out(ctx, "    cancelled: " .. (ch.cancel_action == "archive" and "archive" or "set status")) end
      end
    end
    for _, op in ipairs(ops) do ctx.dry_ops[#ctx.dry_ops + 1] = op end
    add(ctx, "update_ops", #ops)
    for _, ch in ipairs(changes) do if (ch.nops or 0) > 0 then add(ctx, "updates") end end
    return
  end
  -- subitem creates are recorded SENDING first: after a crash the next run
  -- looks them up on the board instead of creating them twice
  local sending = {}
  for _, ref in ipairs(refs) do
    if ref.kind == "sub" and ref.s.op == "create" then
      local s = ref.s
      sending[#sending + 1] = { ctx.board_id, s.subitem_key, ref.ch.key, ref.ch.item_id, s.size, s.name, s.json,
        math.tointeger(s.qty) or NULL, "SENDING", NULL, NULL, C.now() }
    end
  end
  if #sending > 0 then
    db:transaction(function() upsert(db, "MON_SyncState_SubitemValues", SUBVALUE_COLUMNS, "subitem_key", sending) end)
  end
  local results = {}
  if #ops > 0 then
    results = ctx.mon:batch(ops, { on_request = require("monhost.pipeline.create").on_request(ctx) })
  end
  add(ctx, "update_ops", #ops)
  -- outcomes per change
  for i, ref in ipairs(refs) do
    local r = results[i] or { ok = false, error = "no result" }
    local ch, kind = ref.ch, ref.kind
    local okr = ok_result(r, ref.s and ref.s.op or kind)
    if kind == "sub" then
      ref.s.ok = okr
      ref.s.new_id = okr and C.result_id(r) or nil
      ref.s.unknown = not okr and (r.sent == "unknown")
    elseif kind == "values" then ch.values_ok = okr
    elseif kind == "move" then ch.move_ok = okr
    elseif kind == "cancel" then ch.cancel_ok = okr end
    if not okr then
      ch.errors = ch.errors or {}
      ch.errors[#ch.errors + 1] = (ref.s and (ref.s.op .. " " .. ref.s.name) or kind) .. ": " .. C.result_error(r)
    end
  end
  local now = C.now()
  local vrows, hash_upd, group_upd = {}, {}, {}
  local sync_subs, subvals, sub_qty, sub_del, sending_drop = {}, {}, {}, {}, {}
  for _, ch in ipairs(stale) do
    -- the board already has it (e.g. the create flow, or a run that died
    -- after monday confirmed): keep the values and fingerprint (unless
    -- they are kept already: fast = false sees every row here)
    if ch.old_fp == ch.fp and ch.old_plan_fp == u.fp and not ch.new_status then goto continue end
    vrows[#vrows + 1] = value_row(ctx, ch, { item_name = ch.rec.item_name, column_values = ch.rec.column_values_json,
      src_hash = ch.fp, plan_fp = u.fp, status = ch.new_status or ch.status, status_at = ch.new_status and now or nil })
    ::continue::
    add(ctx, "update_unchanged")
  end
  for _, ch in ipairs(changes) do
    local all = ch.errors == nil
    local values_ok = ch.values == nil or ch.values_ok
    if ch.move and ch.move_ok then
      group_upd[#group_upd + 1] = { ctx.groups[ch.move[2]], ch.move[2], ctx.batch_id, now, ctx.board_id, ch.key }
    end
    for _, s in ipairs(ch.subs) do
      if s.ok then
        if s.op == "create" then
          sync_subs[#sync_subs + 1] = { ctx.board_id, s.subitem_key, ch.key, ch.item_id, s.new_id, s.size,
            math.tointeger(s.qty) or NULL, ctx.batch_id, now }
          subvals[#subvals + 1] = { ctx.board_id, s.subitem_key, ch.key, ch.item_id, s.size, s.name, s.json,
            math.tointeger(s.qty) or NULL, "SYNCED", NULL, NULL, now }
          add(ctx, "subitems_added")
        elseif s.op == "update" or s.op == "zero" then
          local q = s.op == "zero" and 0 or math.tointeger(s.qty)
          sub_qty[#sub_qty + 1] = { q or NULL, ctx.batch_id, now, ctx.board_id, s.subitem_key }
          local json = s.json
          if s.op == "zero" then
            local base = rebuilt_subitem_values(ctx.plan, u, s.size, 0)
            json = base and require("monhost.colvals").encode(base) or require("monhost.colvals").encode(s.values)
          end
          subvals[#subvals + 1] = { ctx.board_id, s.subitem_key, ch.key, ch.item_id, s.size, s.name,
            json, q or NULL, s.op == "zero" and "ZEROED" or "SYNCED", NULL, NULL, now }
          add(ctx, s.op == "zero" and "subitems_zeroed" or "subitems_updated")
        elseif s.op == "delete" then
          sub_del[#sub_del + 1] = { ctx.board_id, s.subitem_key }
          add(ctx, "subitems_deleted")
        end
      elseif s.op == "create" and not s.unknown then
        sending_drop[#sending_drop + 1] = { ctx.board_id, s.subitem_key } -- surely not created
      end
    end
    local cancel_done = ch.cancel_action == nil or ch.cancel_ok
    local status = ch.status
    if ch.new_status and cancel_done then status = ch.new_status end
    if all then
      hash_upd[#hash_upd + 1] = { ch.rec.hash, ctx.batch_id, now, ctx.board_id, ch.key }
      vrows[#vrows + 1] = value_row(ctx, ch, { item_name = ch.rec.item_name, column_values = ch.rec.column_values_json,
        src_hash = ch.fp, plan_fp = u.fp, status = status, status_at = ch.new_status and now or nil })
      if (ch.nops or 0) > 0 then add(ctx, "updates") else add(ctx, "update_unchanged") end
      if ch.values then add(ctx, "columns_changed", #ch.ids) end
      if ch.move then add(ctx, "items_moved") end
      if ch.cancel_action == "archive" then add(ctx, "items_archived") end
    else
      local err = table.concat(ch.errors, "; ")
      vrows[#vrows + 1] = value_row(ctx, ch, {
        item_name = values_ok and ch.rec.item_name or ch.old_name,
        column_values = values_ok and ch.rec.column_values_json or ch.old_json,
        status = status, error = err, attempts = ch.attempts + 1 })
      add(ctx, "updates_failed")
      ctx.failures[#ctx.failures + 1] = { kind = "update", id = ch.item_id, name = ch.name, error = err }
      ctx.log.warn("update failed; it stays pending and is retried by the next run",
        { key = ch.key, item = ch.item_id, error = err })
    end
  end
  db:transaction(function()
    if #hash_upd > 0 then
      db:update_many("UPDATE MON_SyncState SET row_hash = ?, batch_id = ?, synced_at = ? WHERE board_id = ? AND source_key = ?", hash_upd)
    end
    if #group_upd > 0 then
      db:update_many("UPDATE MON_SyncState SET group_id = ?, group_name = ?, batch_id = ?, synced_at = ? WHERE board_id = ? AND source_key = ?", group_upd)
    end
    if #sync_subs > 0 then upsert(db, "MON_SyncState_Subitems", SYNC_SUB_COLUMNS, "subitem_key", sync_subs) end
    if #sub_qty > 0 then
      db:update_many("UPDATE MON_SyncState_Subitems SET qty = ?, batch_id = ?, synced_at = ? WHERE board_id = ? AND subitem_key = ?", sub_qty)
    end
    if #subvals > 0 then upsert(db, "MON_SyncState_SubitemValues", SUBVALUE_COLUMNS, "subitem_key", subvals) end
    if #sub_del > 0 then
      db:update_many("DELETE FROM MON_SyncState_Subitems WHERE board_id = ? AND subitem_key = ?", sub_del)
      db:update_many("DELETE FROM MON_SyncState_SubitemValues WHERE board_id = ? AND subitem_key = ?", sub_del)
    end
    if #sending_drop > 0 then
      db:update_many("DELETE FROM MON_SyncState_SubitemValues WHERE board_id = ? AND subitem_key = ? AND state = 'SENDING'", sending_drop)
    end
    upsert(db, "MON_SyncState_Values", VALUE_COLUMNS, "source_key", vrows)
  end)
  if ctx.lock then require("monhost.pipeline.lock").heartbeat(db, ctx.lock) end
end

-- ---- subitem creates whose answer was lost -------------------------------------

M.SUBITEMS_OF = "query ($ids: [ID!]) { items(ids: $ids) { id subitems { id name } } }"

function M.resolve_sending(ctx)
  local db = ctx.db
  local rows = C.rows_all(db, "SELECT sv.subitem_key, sv.source_key, sv.parent_item_id, sv.item_name, sv.size_label, sv.qty "
    .. "FROM MON_SyncState_SubitemValues sv WHERE sv.board_id = ? AND sv.state = 'SENDING'", ctx.board_id)
  if #rows == 0 then return 0, 0 end
  local parents, seen = {}, {}
  for _, r in ipairs(rows) do
    local p = C.tostr(r[3])
    if p and not seen[p] then seen[p] = true; parents[#parents + 1] = p end
  end
  local have = {}
  C.chunks(parents, 100, function(ids)
    local data = groups.gql(ctx, M.SUBITEMS_OF, { ids = ids })
    for _, it in ipairs(data.items or {}) do
      for _, s in ipairs(it.subitems or {}) do
        local k = tostring(it.id) .. "\0" .. s.name
        if not have[k] or tonumber(s.id) < tonumber(have[k]) then have[k] = tostring(s.id) end
      end
    end
  end)
  local now, adopt, state, drop = C.now(), {}, {}, {}
  for _, r in ipairs(rows) do
    local id = have[C.tostr(r[3]) .. "\0" .. C.tostr(r[4])]
    if id then
      adopt[#adopt + 1] = { ctx.board_id, C.tostr(r[1]), C.tostr(r[2]), C.tostr(r[3]), id, C.tostr(r[5]) or NULL,
        r[6], ctx.batch_id, now }
      state[#state + 1] = { now, ctx.board_id, C.tostr(r[1]) }
    else
      drop[#drop + 1] = { ctx.board_id, C.tostr(r[1]) }
    end
  end
  db:transaction(function()
    if #adopt > 0 then upsert(db, "MON_SyncState_Subitems", SYNC_SUB_COLUMNS, "subitem_key", adopt) end
    if #state > 0 then
      db:update_many("UPDATE MON_SyncState_SubitemValues SET state = 'SYNCED', updated_at = ? WHERE board_id = ? AND subitem_key = ?", state)
    end
    if #drop > 0 then
      db:update_many("DELETE FROM MON_SyncState_SubitemValues WHERE board_id = ? AND subitem_key = ?", drop)
    end
  end)
  if #adopt + #drop > 0 then
    ctx.log.info("resolved subitem creates left in flight", { board = ctx.board_id, adopted = #adopt, resent = #drop })
  end
  add(ctx, "subitems_adopted", #adopt)
  return #adopt, #drop
end

-- ---- orders gone from ORDERS_UNIFIED -----------------------------------------------

function M.missing_sql(ctx)
  local db = ctx.db
  local q = function(n) return db:quote_ident(n) end
  local conds = {}
  for i, k in ipairs(ctx.plan.key_columns) do
    conds[i] = ("s.key%d = %s"):format(i, C.text_cast(db, "o." .. q(k)))
  end
  local params = { ctx.board_id }
  local scope = ""
  if ctx.customers and #ctx.customers > 0 then
    -- an order's batch is known from the values the update step recorded
    scope = " AND v.mapping = ? AND v.customer = ?"
    params[#params + 1] = ctx.plan.name or ""
    params[#params + 1] = ctx.customer or ""
  end
  local absent
  if db.dialect == "sqlite" then
    -- SQLite runs a correlated NOT EXISTS as one scan of the source per
    -- row; NOT IN a subquery is materialised (indexed) once
    local sk, ok = {}, {}
    for i, k in ipairs(ctx.plan.key_columns) do
      sk[i] = ("s.key%d"):format(i)
      ok[i] = C.text_cast(db, "o." .. q(k))
    end
    absent = ("(%s) NOT IN (SELECT %s FROM %s o WHERE %s IS NOT NULL)"):format(table.concat(sk, " || char(31) || "),
      table.concat(ok, " || char(31) || "), q(ctx.orders_table or "ORDERS_UNIFIED"), table.concat(ok, " || char(31) || "))
  else
    absent = ("NOT EXISTS (SELECT 1 FROM %s o WHERE %s)"):format(q(ctx.orders_table or "ORDERS_UNIFIED"), table.concat(conds, " AND "))
  end
  local sql = ("SELECT s.source_key, s.item_id, v.status, v.item_name, v.source_key FROM MON_SyncState s "
    .. "LEFT JOIN MON_SyncState_Values v ON v.board_id = s.board_id AND v.source_key = s.source_key "
    .. "WHERE s.board_id = ?%s AND %s ORDER BY s.source_key"):format(scope, absent)
  return sql, params
end

function M.missing(ctx)
  local u = M.setup(ctx)
  local db = ctx.db
  local action = u.rules.missing
  local want = D.status_tag("missing", action)
  local sql, params = M.missing_sql(ctx)
  local rows = C.rows_all(db, sql, table.unpack(params))
  local total, new = #rows, {}
  ctx.missing = ctx.missing or {}
  for _, r in ipairs(rows) do
    local m = { key = C.tostr(r[1]), item_id = C.tostr(r[2]), status = C.tostr(r[3]), name = C.tostr(r[4]),
      has_values = nn(r[5]) ~= nil }
    ctx.missing[#ctx.missing + 1] = m
    if m.status ~= want then new[#new + 1] = m end
  end
  add(ctx, "orders_missing", total)
  add(ctx, "orders_missing_new", #new)
  if total == 0 then return end
  for i, m in ipairs(new) do
    if i > 20 then ctx.log.warn("more orders gone from the source", { count = #new - 20 }); break end
    ctx.log.warn("order is on the board but gone from " .. (ctx.orders_table or "ORDERS_UNIFIED"),
      { key = m.key, item = m.item_id, action = type(action) == "table" and ("set " .. action.column) or action })
  end
  if ctx.dry_run then
    for _, m in ipairs(new) do
      out(ctx, ("- %s (item %s): gone from %s -> %s"):format(m.name or m.key, tostring(m.item_id),
        ctx.orders_table or "ORDERS_UNIFIED", type(action) == "table" and ("set " .. action.column .. " to " .. tostring(action.value)) or action))
      if action ~= "report" then ctx.dry_ops[#ctx.dry_ops + 1] = status_op(ctx, m.item_id, action) end
    end
    return
  end
  local ops = {}
  if action ~= "report" then
    for i, m in ipairs(new) do ops[i] = status_op(ctx, m.item_id, action) end
  end
  local results = #ops > 0 and ctx.mon:batch(ops, { on_request = require("monhost.pipeline.create").on_request(ctx) }) or {}
  add(ctx, "update_ops", #ops)
  local now = C.now()
  local upd, ins = {}, {}
  for i, m in ipairs(new) do
    local r = results[i]
    if action == "report" or (r and r.ok) then
      if m.has_values then upd[#upd + 1] = { want, now, now, ctx.board_id, m.key }
      else
        ins[#ins + 1] = { ctx.board_id, m.key, NULL, NULL, NULL, NULL, ctx.customer or NULL, ctx.plan.name or NULL,
          want, now, NULL, 0, now }
      end
      if action == "archive" then add(ctx, "items_archived") end
    else
      local err = r and C.result_error(r) or "not sent"
      add(ctx, "updates_failed")
      ctx.failures[#ctx.failures + 1] = { kind = "missing", id = m.item_id, name = m.name or m.key, error = err }
    end
  end
  db:transaction(function()
    if #upd > 0 then
      db:update_many("UPDATE MON_SyncState_Values SET status = ?, status_at = ?, updated_at = ? WHERE board_id = ? AND source_key = ?", upd)
    end
    if #ins > 0 then db:insert_many(C.T(db, "MON_SyncState_Values"), VALUE_COLUMNS, ins, {}) end
  end)
end

-- ---- report ------------------------------------------------------------------------

function M.summary(ctx)
  local s = ctx.stats
  local function g(k) return s[k] or 0 end
  local line = ("update%s: %d orders checked, %d unchanged, %d updated (%d operations), %d failed; "
    .. "subitems +%d ~%d zeroed %d deleted %d; moved %d; missing %d (%d new); cancelled %d"):format(
    ctx.dry_run and " (dry run)" or "", g("update_checked"), g("update_unchanged"), g("updates"), g("update_ops"),
    g("updates_failed"), g("subitems_added"), g("subitems_updated"), g("subitems_zeroed"), g("subitems_deleted"),
    g("items_moved"), g("orders_missing"), g("orders_missing_new"), g("orders_cancelled"))
  ctx.log.info("updates", { batch = ctx.batch_id, checked = g("update_checked"), unchanged = g("update_unchanged"),
    updated = g("updates"), operations = g("update_ops"), failed = g("updates_failed"), missing = g("orders_missing"),
    cancelled = g("orders_cancelled") })
  -- a batch with nothing on the board yet has nothing to say
  if not ctx.silent and (ctx.dry_run or g("update_checked") + g("orders_missing") > 0) then out(ctx, line) end
  return line
end

-- Add the step to a pipeline's default step list (after finalize), so that
-- `runner.main` (scripts/sync.lua) runs it in every batch.
function M.install(pipeline)
  pipeline = pipeline or require "monhost.pipeline"
  pipeline.update = M.run
  for _, s in ipairs(pipeline.STEPS) do if s == "update" then return pipeline end end
  local at = #pipeline.STEPS + 1
  for i, s in ipairs(pipeline.STEPS) do if s == "finalize" then at = i + 1 end end
  table.insert(pipeline.STEPS, at, "update")
  return pipeline
end

return M
