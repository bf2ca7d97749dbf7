-- pipeline/select.lua: step 1, the orders to sync. One SQL statement: the
-- rows of ORDERS_UNIFIED for the customer(s) (or one PO), every key part
-- non-NULL, whose key is neither in the sync state (already on the board)
-- nor in staging (in flight or failed, see `monhost retry`), newest
-- ORDER DATE PO RECEIVED first. The anti-join runs in the database: no
-- query per row. The result is a streaming cursor, never a table of rows.
local C = require "monhost.pipeline.common"

local M = {}

M.ORDER_COLUMN = "ORDER DATE PO RECEIVED"
M.CUSTOMER_COLUMN = "CUSTOMER NAME"
M.PO_COLUMNS = { "AAG ORDER NUMBER", "PO NUMBER" }

-- Build the statement. ctx: db, plan, board_id, customers (raw names or nil
-- = all), po, keys (list of first-key-part values, for retry), orders_table.
-- Returns sql, params.
function M.build(ctx)
  local db, plan = ctx.db, ctx.plan
  local q = function(n) return db:quote_ident(n) end
  local keys = plan.key_columns
  assert(keys and #keys >= 1 and #keys <= 4, "a mapping needs 1 to 4 key columns")
  local cols = {}
  for i, c in ipairs(plan.select_columns) do cols[i] = "o." .. q(c) end
  local where, params = {}, {}
  for _, k in ipairs(keys) do where[#where + 1] = "o." .. q(k) .. " IS NOT NULL" end
  if ctx.customers and #ctx.customers > 0 then
    where[#where + 1] = "o." .. q(M.CUSTOMER_COLUMN) .. " IN (" .. C.marks(#ctx.customers) .. ")"
    for _, c in ipairs(ctx.customers) do params[#params + 1] = c end
  end
  if ctx.po then
    local ors = {}
    for _, c in ipairs(M.PO_COLUMNS) do
      ors[#ors + 1] = "o." .. q(c) .. " = ?"
      params[#params + 1] = ctx.po
    end
    where[#where + 1] = "(" .. table.concat(ors, " OR ") .. ")"
  end
  if ctx.keys and #ctx.keys == 0 then
    where[#where + 1] = "1 = 0" -- a retry with no failed order: select nothing new
  elseif ctx.keys then
    where[#where + 1] = C.text_cast(db, "o." .. q(keys[1])) .. " IN (" .. C.marks(#ctx.keys) .. ")"
    for _, k in ipairs(ctx.keys) do params[#params + 1] = k end
  end
  if plan.filter and plan.filter ~= "" then where[#where + 1] = "(" .. plan.filter .. ")" end
  for _, t in ipairs { "MON_SyncState", "STG_MON_CustMasterSchedule" } do
    local conds = { "s.board_id = ?" }
    params[#params + 1] = ctx.board_id
    for i, k in ipairs(keys) do
      conds[#conds + 1] = ("s.key%d = %s"):format(i, C.text_cast(db, "o." .. q(k)))
    end
    where[#where + 1] = ("NOT EXISTS (SELECT 1 FROM %s s WHERE %s)"):format(t, table.concat(conds, " AND "))
  end
  local rest = ("%s FROM %s o WHERE %s ORDER BY o.%s DESC, o.%s"):format(table.concat(cols, ", "),
    q(ctx.orders_table or "ORDERS_UNIFIED"), table.concat(where, "\n  AND "), q(M.ORDER_COLUMN), q(keys[1]))
  local sql = ctx.limit and C.select_limit(db, rest, ctx.limit) or ("SELECT " .. rest)
  return sql, params
end

-- step: opens the cursor (ctx.cursor)
function M.run(ctx)
  local sql, params = M.build(ctx)
  ctx.select_sql = sql
  ctx.cursor = (ctx.read_db or ctx.db):query(sql, table.unpack(params))
  return ctx.cursor
end

-- Distinct raw customer names with something to sync (for --all).
function M.customers(ctx)
  local db = ctx.db
  local q = function(n) return db:quote_ident(n) end
  local sql = ("SELECT DISTINCT o.%s FROM %s o WHERE o.%s IS NOT NULL"):format(q(M.CUSTOMER_COLUMN),
    q(ctx.orders_table or "ORDERS_UNIFIED"), q(M.CUSTOMER_COLUMN))
  local out = {}
  for row in db:rows(sql) do out[#out + 1] = C.tostr(row[1]) end
  table.sort(out)
  return out
end

return M
