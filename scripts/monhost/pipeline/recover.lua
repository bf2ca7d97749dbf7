-- pipeline/recover.lua: resolving rows left SENDING by a run that died (or
-- whose answer was lost) before anything new is sent. A SENDING row carries
-- the Idempotency-Key of the request that may have created it; monday may or
-- may not have executed that request. The board decides:
--   items:    items_page_by_column_values on the item name (the name holds
--             the whole order key), matched within the row's group;
--   subitems: the parent item's subitems, matched by name ("Size M").
-- Found: the row is adopted (CREATED with that id, exactly as if the answer
-- had arrived). Not found: the request never executed; the row is PENDING
-- again and is sent in this run. Re-sending with the old key would also be
-- correct inside monday's replay window, but only with the identical body,
-- and a lookup is one cheap query per 100-500 rows that works at any age.
local C = require "monhost.pipeline.common"
local groups = require "monhost.pipeline.groups"

local M = {}

M.FIND_ITEMS = "query ($board: ID!, $names: [String]!, $limit: Int!) { items_page_by_column_values("
  .. "board_id: $board, limit: $limit, columns: [{column_id: \"name\", column_values: $names}]) "
  .. "{ cursor items { id name group { id } } } }"
M.NEXT_PAGE = "query ($cursor: String!, $limit: Int!) { next_items_page(cursor: $cursor, limit: $limit) "
  .. "{ cursor items { id name group { id } } } }"
M.SUBITEMS_OF = "query ($ids: [ID!]) { items(ids: $ids) { id subitems { id name } } }"

local function resolve_items(ctx)
  local db = ctx.db
  local rows = C.rows_all(db, "SELECT stg_id, item_name, group_id FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND state = ? ORDER BY stg_id",
    ctx.board_id, C.SENDING)
  if #rows == 0 then return 0, 0 end
  local adopted, reset = 0, 0
  C.chunks(rows, 100, function(chunk)
    local names, found = {}, {}
    for i, r in ipairs(chunk) do names[i] = C.tostr(r[2]) end
    local data = groups.gql(ctx, M.FIND_ITEMS, { board = ctx.board_id, names = names, limit = 500 })
    local page = data.items_page_by_column_values
    while page do
      for _, it in ipairs(page.items or {}) do
        local k = it.name .. "\0" .. tostring(it.group and it.group.id or "")
        local prev = found[k]
        if not prev or tonumber(it.id) < tonumber(prev) then found[k] = it.id end
        found[it.name] = found[it.name] or it.id
      end
      if not page.cursor or page.cursor == C.NULL then break end
      page = groups.gql(ctx, M.NEXT_PAGE, { cursor = page.cursor, limit = 500 }).next_items_page
    end
    local now, created, written, pending = C.now(), {}, {}, {}
    for _, r in ipairs(chunk) do
      local name, gid = C.tostr(r[2]), C.tostr(r[3])
      local id = gid and found[name .. "\0" .. gid] or (not gid and found[name])
      if id then
        created[#created + 1] = { C.CREATED, tostring(id), now, r[1] }
        written[#written + 1] = { tostring(id), r[1] }
      else
        pending[#pending + 1] = { C.PENDING, now, r[1] }
      end
    end
    db:transaction(function()
      if #created > 0 then
        db:update_many("UPDATE STG_MON_CustMasterSchedule SET state = ?, item_id = ?, error = NULL, updated_at = ? WHERE stg_id = ?", created)
        db:update_many("UPDATE STG_MON_CustMasterSchedule_Subitems SET parent_item_id = ? WHERE stg_id = ?", written)
      end
      if #pending > 0 then
        db:update_many("UPDATE STG_MON_CustMasterSchedule SET state = ?, updated_at = ? WHERE stg_id = ?", pending)
      end
    end)
    adopted, reset = adopted + #created, reset + #pending
  end)
  return adopted, reset
end

local function resolve_subitems(ctx)
  local db = ctx.db
  local rows = C.rows_all(db, "SELECT stg_sub_id, item_name, parent_item_id FROM STG_MON_CustMasterSchedule_Subitems "
    .. "WHERE board_id = ? AND state = ? ORDER BY parent_item_id, stg_sub_id", ctx.board_id, C.SENDING)
  if #rows == 0 then return 0, 0 end
  local parents, seen = {}, {}
  for _, r in ipairs(rows) do
    local p = C.tostr(r[3])
    if not seen[p] then seen[p] = true; parents[#parents + 1] = p end
  end
  local have = {} -- parent .. "\0" .. name -> subitem id
  C.chunks(parents, 100, function(ids)
    local data = groups.gql(ctx, M.SUBITEMS_OF, { ids = ids })
    for _, it in ipairs(data.items or {}) do
      for _, s in ipairs(it.subitems or {}) do
        local k = tostring(it.id) .. "\0" .. s.name
        if not have[k] or tonumber(s.id) < tonumber(have[k]) then have[k] = s.id end
      end
    end
  end)
  local now, created, pending = C.now(), {}, {}
  for _, r in ipairs(rows) do
    local id = have[C.tostr(r[3]) .. "\0" .. C.tostr(r[2])]
    if id then created[#created + 1] = { C.CREATED, tostring(id), now, r[1] }
    else pending[#pending + 1] = { C.PENDING, now, r[1] } end
  end
  db:transaction(function()
    if #created > 0 then
      db:update_many("UPDATE STG_MON_CustMasterSchedule_Subitems SET state = ?, subitem_id = ?, error = NULL, updated_at = ? WHERE stg_sub_id = ?", created)
    end
    if #pending > 0 then
      db:update_many("UPDATE STG_MON_CustMasterSchedule_Subitems SET state = ?, updated_at = ? WHERE stg_sub_id = ?", pending)
    end
  end)
  return #created, #pending
end

-- step: resolve every SENDING row of the board. Items first: a subitem
-- can only be resolved once its parent's id is known.
function M.run(ctx)
  if ctx.dry_run then return 0, 0, 0, 0 end
  local ia, ir = resolve_items(ctx)
  local sa, sr = resolve_subitems(ctx)
  if ia + ir + sa + sr > 0 then
    ctx.log.info("recovered rows left in flight", { board = ctx.board_id, items_adopted = ia, items_resent = ir,
      subitems_adopted = sa, subitems_resent = sr })
  end
  ctx.stats.items_adopted = (ctx.stats.items_adopted or 0) + ia
  ctx.stats.subitems_adopted = (ctx.stats.subitems_adopted or 0) + sa
  return ia, ir, sa, sr
end

return M
