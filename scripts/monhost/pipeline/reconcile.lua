-- pipeline/reconcile.lua: what is really on the board vs the sync state.
-- Reads every item of the board (items_page, cursor paging, 500 a page),
-- works out each item's order key from its column values (the monday
-- columns the mapping fills from the key columns; the item name when the
-- key is not mapped), transforms the orders of ORDERS_UNIFIED with their
-- mappings, and compares the three. It reports:
--   orphans     items whose key matches no order (nor the sync state)
--   duplicates  orders with two or more items (the legacy tool's re-runs)
--   adoptable   orders with exactly one item but no sync-state row (a board
--               the legacy tool filled; a first install)
--   gone        sync-state rows whose item is no longer on the board
--   relink      sync-state rows pointing at another item than the board's
--   drift       synced items whose name, group or values differ from what
--               monhost would send (edited by hand)
-- and fixes what it is asked to (fix = {adopt=, forget=, relink=, drift=,
-- duplicates=}); see docs/changes.md.
local cjson = require "cjson"
local C = require "monhost.pipeline.common"
local groups = require "monhost.pipeline.groups"
local D = require "monhost.pipeline.update_diff"

local NULL = cjson.null
local M = {}

M.PAGE_SIZE = 500
local ITEM_FIELDS = "id name group { id title } column_values { id text } "
  .. "subitems { id name column_values { id text } }"
M.FIRST = "query ($board: [ID!], $limit: Int!) { boards(ids: $board) { items_page(limit: $limit) { cursor items { "
  .. ITEM_FIELDS .. " } } } }"
M.NEXT = "query ($cursor: String!, $limit: Int!) { next_items_page(cursor: $cursor, limit: $limit) { cursor items { "
  .. ITEM_FIELDS .. " } } }"
M.FIXES = { "adopt", "forget", "relink", "drift", "duplicates" }

-- Every item of the board (one query per 500 items).
function M.read_board(ctx)
  local items = {}
  local data = groups.gql(ctx, M.FIRST, { board = { ctx.board_id }, limit = M.PAGE_SIZE })
  local b = data.boards and data.boards[1]
  if not b then error("monday: board " .. ctx.board_id .. " not found or not accessible", 0) end
  local page = b.items_page
  while page do
    for _, it in ipairs(page.items or {}) do items[#items + 1] = it end
    if not page.cursor or page.cursor == NULL then break end
    page = groups.gql(ctx, M.NEXT, { cursor = page.cursor, limit = M.PAGE_SIZE }).next_items_page
  end
  return items
end

local function texts(it)
  local t = {}
  for _, cv in ipairs(it.column_values or {}) do
    if cv.text ~= NULL and cv.text ~= nil and cv.text ~= "" then t[cv.id] = cv.text end
  end
  return t
end

-- The monday column holding each key part (nil when a part is not mapped as is).
function M.key_columns(plan)
  local by_source = {}
  for _, e in ipairs(plan.entries or {}) do
    if e.source and not e.fn and not e.map and not by_source[e.source] then by_source[e.source] = e.id end
  end
  local ids = {}
  for i, k in ipairs(plan.key_columns) do
    if not by_source[k] then return nil end
    ids[i] = by_source[k]
  end
  return ids
end

-- What monday shows as the text of a value monhost sends.
function M.text_of(ty, v)
  if v == nil or v == NULL then return nil end
  if type(v) == "table" then
    if v.date then return v.date end
    if v.labels then return table.concat(v.labels, ", ") end
    if v.label then return tostring(v.label) end
    if v.text then return tostring(v.text) end
    return nil
  end
  if v == "" then return nil end
  return tostring(v)
end

local function same_text(ty, a, b)
  if a == b then return true end
  if a == nil or b == nil then return false end
  if ty == "numbers" or ty == "numeric" then return tonumber(a) == tonumber(b) end
  return false
end

-- The orders of one mapping: key -> {name=, group=, json=, hash=, subs={size=qty}}
function M.expected(ctx, plan, into)
  local db = ctx.db
  local q = function(n) return db:quote_ident(n) end
  local cols = {}
  for i, c in ipairs(plan.select_columns) do cols[i] = "o." .. q(c) end
  local where, params = {}, {}
  for _, k in ipairs(plan.key_columns) do where[#where + 1] = "o." .. q(k) .. " IS NOT NULL" end
  local customers = ctx.customers_of and ctx.customers_of(plan) or plan.customers
  if customers and #customers > 0 then
    where[#where + 1] = "o." .. q(plan.customer_column or "CUSTOMER NAME") .. " IN (" .. C.marks(#customers) .. ")"
    for _, c in ipairs(customers) do params[#params + 1] = c end
  end
  if plan.filter and plan.filter ~= "" then where[#where + 1] = "(" .. plan.filter .. ")" end
  local sql = ("SELECT %s FROM %s o WHERE %s ORDER BY o.%s DESC, o.%s"):format(table.concat(cols, ", "),
    q(ctx.orders_table or "ORDERS_UNIFIED"), table.concat(where, " AND "),
    q(require("monhost.pipeline.select").ORDER_COLUMN), q(plan.key_columns[1]))
  local stage = require "monhost.pipeline.stage"
  local cur = (ctx.read_db or db):query(sql, table.unpack(params))
  while true do
    local rows = cur:fetch_many(500)
    if not rows or #rows == 0 then break end
    for _, row in ipairs(rows) do
      local key = stage.key_text(stage.key_parts(plan, row))
      if not into[key] then
        local ok, rec = pcall(plan.transform, plan, row)
        if ok and rec then
          local subs = {}
          for _, s in ipairs(rec.subitems or {}) do subs[s.name] = { size = tostring(s.size), qty = s.qty } end
          into[key] = { name = rec.item_name, group = rec.group_name, json = rec.column_values_json, hash = rec.hash,
            subs = subs, plan = plan, parts = stage.key_parts(plan, row) }
        end
      end
    end
    if #rows < 500 then break end
  end
  if cur.close then cur:close() end
  return into
end

-- The comparison. ctx: db, mon, board_id, plans (list), cfg. Returns a report.
function M.check(ctx)
  local plans = ctx.plans or { ctx.plan }
  local items = M.read_board(ctx)
  local expected = {}
  for _, plan in ipairs(plans) do M.expected(ctx, plan, expected) end
  -- board items by key
  local kcols = M.key_columns(plans[1])
  local by_name = {}
  if not kcols then for k, e in pairs(expected) do by_name[e.name] = k end end
  local on_board, by_id = {}, {}
  local rep = { items = #items, orders = 0, orphans = {}, duplicates = {}, adoptable = {}, gone = {}, relink = {}, drift = {} }
  for _ in pairs(expected) do rep.orders = rep.orders + 1 end
  for _, it in ipairs(items) do
    local t = texts(it)
    it._texts = t
    by_id[tostring(it.id)] = it
    local key
    if kcols then
      local parts = {}
      for i, c in ipairs(kcols) do parts[i] = t[c] or "" end
      key = table.concat(parts, "|")
    else
      key = by_name[it.name] or ("name:" .. it.name)
    end
    it._key = key
    on_board[key] = on_board[key] or {}
    table.insert(on_board[key], it)
  end
  -- sync state
  local synced = {}
  for r in ctx.db:rows("SELECT source_key, item_id, group_name FROM MON_SyncState WHERE board_id = ?", ctx.board_id) do
    synced[C.tostr(r[1])] = { item_id = C.tostr(r[2]), group = C.tostr(r[3]) }
  end
  for key, list in pairs(on_board) do
    table.sort(list, function(a, b) return tonumber(a.id) < tonumber(b.id) end)
    local s = synced[key]
    if not expected[key] and not s then
      for _, it in ipairs(list) do rep.orphans[#rep.orphans + 1] = { key = key, item_id = tostring(it.id), name = it.name } end
    end
    if #list > 1 then
      local keep = (s and by_id[s.item_id] and s.item_id) or tostring(list[1].id)
      local extra = {}
      for _, it in ipairs(list) do if tostring(it.id) ~= keep then extra[#extra + 1] = tostring(it.id) end end
      rep.duplicates[#rep.duplicates + 1] = { key = key, keep = keep, extra = extra, name = list[1].name }
    end
    if expected[key] and not s then
      rep.adoptable[#rep.adoptable + 1] = { key = key, item_id = tostring(list[1].id), name = list[1].name, count = #list }
    end
  end
  for key, s in pairs(synced) do
    local list = on_board[key]
    if not by_id[s.item_id] then
      if list then
        rep.relink[#rep.relink + 1] = { key = key, from = s.item_id, to = tostring(list[1].id) }
      else
        rep.gone[#rep.gone + 1] = { key = key, item_id = s.item_id }
      end
    end
    local e, it = expected[key], by_id[s.item_id] or (list and list[1])
    if e and it then
      local diffs = {}
      if it.name ~= e.name then diffs[#diffs + 1] = { column = "name", board = it.name, expected = e.name } end
      if it.group and it.group.title ~= e.group then
        diffs[#diffs + 1] = { column = "group", board = it.group.title, expected = e.group }
      end
      local vals = D.decode(e.json) or {}
      local types = {}
      for _, en in ipairs(e.plan.entries or {}) do types[en.id] = en.type end
      for id, v in pairs(vals) do
        local want = M.text_of(types[id], v)
        if not same_text(types[id], it._texts[id], want) then
          diffs[#diffs + 1] = { column = id, board = it._texts[id], expected = want }
        end
      end
      if #diffs > 0 then
        table.sort(diffs, function(a, b) return a.column < b.column end)
        rep.drift[#rep.drift + 1] = { key = key, item_id = tostring(it.id), name = it.name, diffs = diffs }
      end
    end
  end
  for _, k in ipairs { "orphans", "duplicates", "adoptable", "gone", "relink", "drift" } do
    table.sort(rep[k], function(a, b) return a.key < b.key end)
  end
  rep._on_board, rep._expected, rep._by_id = on_board, expected, by_id
  return rep
end

local function qty_of(plan, it)
  for _, cv in ipairs(it.column_values or {}) do
    if cv.id == plan.qty_column_id then return math.tointeger(tonumber(cv.text)) end
  end
end

-- Apply fixes. fix: set of names (M.FIXES). Returns counts.
function M.fix(ctx, rep, fix)
  local db, now = ctx.db, C.now()
  local done = { adopt = 0, forget = 0, relink = 0, drift = 0, duplicates = 0 }
  local batch = "reconcile-" .. C.batch_id()
  -- duplicates first: the kept item is the one adopted
  if fix.duplicates and #rep.duplicates > 0 then
    local ops, refs = {}, {}
    for _, d in ipairs(rep.duplicates) do
      for _, id in ipairs(d.extra) do
        ops[#ops + 1] = { field = "archive_item", args = { item_id = id }, board = ctx.board_id, select = "id" }
        refs[#refs + 1] = d
      end
    end
    local res = ctx.mon:batch(ops, {})
    for i, r in ipairs(res) do
      if r.ok then done.duplicates = done.duplicates + 1
      else ctx.log.warn("archiving a duplicate failed", { item = ops[i].args.item_id, error = C.result_error(r) }) end
    end
  end
  db:transaction(function()
    if fix.adopt then
      local dups = {}
      for _, d in ipairs(rep.duplicates) do dups[d.key] = d.keep end
      for _, a in ipairs(rep.adoptable) do
        local e = rep._expected[a.key]
        local id = dups[a.key] or a.item_id
        local it = rep._by_id[id]
        local gid = it and it.group and it.group.id or NULL
        local gname = it and it.group and it.group.title or NULL
        local p = e.parts
        -- no row hash: the next update run compares, and sends what differs
        db:exec("INSERT INTO MON_SyncState (board_id, source_key, key1, key2, key3, key4, item_id, group_id, group_name, "
          .. "row_hash, batch_id, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)", ctx.board_id, a.key,
          p[1] or NULL, p[2] or NULL, p[3] or NULL, p[4] or NULL, id, gid, gname, batch, now)
        for _, s in ipairs(it and it.subitems or {}) do
          local want = e.subs[s.name]
          if want then
            db:exec("INSERT INTO MON_SyncState_Subitems (board_id, subitem_key, source_key, item_id, subitem_id, size_label, "
              .. "qty, batch_id, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ctx.board_id, a.key .. "|" .. want.size,
              a.key, id, tostring(s.id), want.size, qty_of(e.plan, s) or NULL, batch, now)
            e.subs[s.name] = nil -- a second subitem of one size stays unlinked
          end
        end
        done.adopt = done.adopt + 1
      end
    end
    if fix.relink then
      for _, r in ipairs(rep.relink) do
        db:exec("UPDATE MON_SyncState SET item_id = ?, row_hash = NULL WHERE board_id = ? AND source_key = ?", r.to, ctx.board_id, r.key)
        db:exec("DELETE FROM MON_SyncState_Subitems WHERE board_id = ? AND source_key = ?", ctx.board_id, r.key)
        db:exec("DELETE FROM MON_SyncState_Values WHERE board_id = ? AND source_key = ?", ctx.board_id, r.key)
        done.relink = done.relink + 1
      end
    end
    if fix.forget then
      -- the next sync creates these orders again
      for _, g in ipairs(rep.gone) do
        for _, t in ipairs { "MON_SyncState_Subitems", "MON_SyncState_SubitemValues", "MON_SyncState_Values", "MON_SyncState" } do
          db:exec(("DELETE FROM %s WHERE board_id = ? AND source_key = ?"):format(t), ctx.board_id, g.key)
        end
        done.forget = done.forget + 1
      end
    end
    if fix.drift then
      -- forget the confirmed hash and values: the next update run sends
      -- every mapped column again
      for _, d in ipairs(rep.drift) do
        db:exec("UPDATE MON_SyncState SET row_hash = NULL WHERE board_id = ? AND source_key = ?", ctx.board_id, d.key)
        db:exec("DELETE FROM MON_SyncState_Values WHERE board_id = ? AND source_key = ?", ctx.board_id, d.key)
        done.drift = done.drift + 1
      end
    end
  end)
  return done
end

-- Printable report.
function M.render(rep, limit)
  limit = limit or 50
  local L = {}
  L[#L + 1] = ("board: %d items; source: %d orders; orphans %d, duplicates %d, adoptable %d, gone %d, relink %d, drift %d"):format(
    rep.items, rep.orders, #rep.orphans, #rep.duplicates, #rep.adoptable, #rep.gone, #rep.relink, #rep.drift)
  local function section(name, list, fmt)
    for i, e in ipairs(list) do
      if i > limit then L[#L + 1] = ("  ... and %d more %s"):format(#list - limit, name); break end
      L[#L + 1] = "  " .. name .. " " .. fmt(e)
    end
  end
  section("orphan", rep.orphans, function(e) return ("item %s %q: no order %s"):format(e.item_id, e.name, e.key) end)
  section("duplicate", rep.duplicates, function(e)
    return ("order %s: items %s and %s (keeping %s)"):format(e.key, e.keep, table.concat(e.extra, ", "), e.keep) end)
  section("adoptable", rep.adoptable, function(e) return ("order %s: item %s %q"):format(e.key, e.item_id, e.name) end)
  section("gone", rep.gone, function(e) return ("order %s: item %s is not on the board"):format(e.key, e.item_id) end)
  section("relink", rep.relink, function(e) return ("order %s: sync state says item %s, the board has %s"):format(e.key, e.from, e.to) end)
  section("drift", rep.drift, function(e)
    local parts = {}
    for _, d in ipairs(e.diffs) do
      parts[#parts + 1] = ("%s: %s (board) vs %s (monhost)"):format(d.column, D.show(d.board), D.show(d.expected))
    end
    return ("item %s %q: %s"):format(e.item_id, e.name, table.concat(parts, "; "))
  end)
  return table.concat(L, "\n")
end

-- Plain data (for --json).
function M.data(rep)
  local t = {}
  for k, v in pairs(rep) do if not k:match("^_") then t[k] = v end end
  return t
end

return M
