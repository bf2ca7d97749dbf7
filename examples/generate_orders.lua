-- generate_orders.lua: fill ORDERS_UNIFIED with generated orders (the real
-- 268 columns, realistic values, deterministic by seed), for demos and tests.
--   monhost run examples/generate_orders.lua --database CONNSTR --columns TSV
--       [--customer NAME ...] [--count N] [--seed S] [--start N]
-- Creates ORDERS_UNIFIED when it does not exist. The column list is the TSV
-- the user already has (ordinal<TAB>name<TAB>type).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local orders = dofile(here .. "/orders.lua")
local odbc = require "monhost.odbc"

local o = { customers = {} }
local a = { ... }
local i = 1
while i <= #a do
  local k, v = a[i], a[i + 1]
  if k == "--database" then o.database = v
  elseif k == "--columns" then o.columns = v
  elseif k == "--customer" then o.customers[#o.customers + 1] = v
  elseif k == "--count" then o.count = tonumber(v)
  elseif k == "--seed" then o.seed = tonumber(v)
  elseif k == "--start" then o.start = tonumber(v)
  else io.stderr:write("generate_orders: unknown option ", k, "\n"); os.exit(1) end
  i = i + 2
end
if not o.database or not o.columns then
  io.stderr:write("usage: monhost run examples/generate_orders.lua --database CONNSTR --columns TSV "
    .. "[--customer NAME ...] [--count N] [--seed S]\n")
  os.exit(1)
end
local db = assert(odbc.connect(o.database))
if #o.customers == 0 then
  for _, c in ipairs(orders.CUSTOMERS) do o.customers[#o.customers + 1] = c.name end
end
local n = orders.load(db, orders.columns(o.columns), { customers = o.customers, count = o.count or 100,
  seed = o.seed or 1, start = o.start })
print(("generated %d orders for %s"):format(n, table.concat(o.customers, ", ")))
db:close()
