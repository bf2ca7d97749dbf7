-- examples/mapping-customer.lua: a customer mapping to copy into mappings/
-- (as mappings/<customer>.lua) and adapt. It inherits everything from
-- mappings/default.lua and says only what differs. Try it on real rows:
--   monhost repl
--   > :db DSN=orders
--   > :mapping examples/mapping-customer.lua
--   > :row JOO-00505
-- and check it before it runs:
--   monhost check examples/mapping-customer.lua --board boards/9200517329.json \
--     --subitem-board boards/9200771505.json --columns orders_unified_columns.tsv
return {
  extends = "default",            -- mappings/default.lua
  customer = "JOHNNIE O",         -- canonical name: covers its aliases in mappings/customers.lua

  -- cleaning of source values, before anything else reads them
  clean = {
    ["PO NUMBER"] = "trim",
    ["HS CODE"] = { replace = { ["N/A"] = false } },  -- false: treat as NULL
  },

  -- a value for NULL (or blank) source values
  defaults = {
    ["DELIVERY TERMS"] = "FOB",
  },

  columns = {
    -- monday column (id or title) = source column
    ["matchAlias"] = "ALIAS/RELATED ITEM",
    -- a value map: source value -> monday label
    ["ORDER TYPE"] = { "ORDER TYPE", map = { ACTIVE = "RECEIVED", CANCELLED = "CANCELLED", HOLD = "ON HOLD" } },
    -- a computed value: any Lua function of the (cleaned) row; m.customer is
    -- the canonical customer
    ["RANGE / COLLECTION"] = function(r, m)
      return join(" / ", r["RANGE / COLLECTION"], r["COLLECTION DELIVERY"])
    end,
    -- not sent for this customer
    ["DROP"] = false,
  },

  -- the group: canonical customer + season, with a customer-specific fallback
  group = function(r, m)
    return m.customer .. " " .. (nonempty(r["CUSTOMER SEASON"]) or nonempty(r["AAG SEASON"]) or "CARRYOVER")
  end,
}
