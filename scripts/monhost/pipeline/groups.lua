-- pipeline/groups.lua: step 5. The board's groups are read once per run
-- (one query), the missing ones created (one create_group each, rare), and
-- the ids cached in ctx.groups and written to the staging rows that need
-- them, one UPDATE per group. Group titles are matched exactly; a crash
-- after create_group is harmless because the next run finds the group by
-- its title before creating anything.
local C = require "monhost.pipeline.common"

local M = {}

M.LIST = "query ($board: [ID!]) { boards(ids: $board) { groups { id title } } }"
M.CREATE = "mutation ($board: ID!, $name: String!) { create_group(board_id: $board, group_name: $name) { id } }"

local function gql(ctx, doc, vars)
  ctx.stats.api_calls = ctx.stats.api_calls + 1
  local data, errors, meta = ctx.mon:query(doc, vars)
  if meta and type(meta.complexity) == "table" then
    ctx.stats.complexity = ctx.stats.complexity + (tonumber(meta.complexity.query) or 0)
  end
  if not data or (errors and #errors > 0) then
    local e = errors and errors[1]
    error(("monday: %s"):format(type(e) == "table" and (e.message or C.json(e)) or tostring(e or "no data")), 0)
  end
  return data
end
M.gql = gql

-- ctx.groups: title -> id, loaded once.
function M.load(ctx)
  if ctx.groups then return ctx.groups end
  local data = gql(ctx, M.LIST, { board = { ctx.board_id } })
  local b = data.boards and data.boards[1]
  if not b then error("monday: board " .. ctx.board_id .. " not found or not accessible", 0) end
  ctx.groups = {}
  for _, g in ipairs(b.groups or {}) do ctx.groups[g.title] = g.id end
  return ctx.groups
end

-- Ensure groups for a list of titles; returns title -> id.
function M.ensure(ctx, titles)
  local groups = M.load(ctx)
  for _, t in ipairs(titles) do
    if t ~= "" and not groups[t] then
      if ctx.dry_run then
        ctx.dry_ops[#ctx.dry_ops + 1] = { doc = M.CREATE, vars = { board = ctx.board_id, name = t } }
        groups[t] = "(new)"
      else
        local data = gql(ctx, M.CREATE, { board = ctx.board_id, name = t })
        groups[t] = data.create_group.id
        ctx.stats.groups_created = ctx.stats.groups_created + 1
        ctx.log.info("group created", { board = ctx.board_id, group = t, id = groups[t] })
      end
    end
  end
  return groups
end

-- step
function M.run(ctx)
  local titles = {}
  if ctx.dry_run then
    local seen = {}
    for _, r in ipairs(ctx.dry_records) do
      if not seen[r.group_name] then seen[r.group_name] = true; titles[#titles + 1] = r.group_name end
    end
  else
    for row in ctx.db:rows("SELECT DISTINCT group_name FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND group_id IS NULL AND state = ?",
      ctx.board_id, C.PENDING) do
      titles[#titles + 1] = C.tostr(row[1])
    end
  end
  table.sort(titles)
  local groups = M.ensure(ctx, titles)
  if not ctx.dry_run then
    for _, t in ipairs(titles) do
      if groups[t] then
        ctx.db:exec("UPDATE STG_MON_CustMasterSchedule SET group_id = ? WHERE board_id = ? AND group_name = ? AND group_id IS NULL",
          groups[t], ctx.board_id, t)
      end
    end
  end
  return groups
end

return M
