-- examples/orders.lua: a generator of ORDERS_UNIFIED rows for demos, tests
-- and benchmarks. Rows carry every column of the real table (the column list
-- comes from the TSV the user already has, ordinal<TAB>name<TAB>type), with
-- realistic values for a few customers and seasons; everything else is NULL
-- as in the real table. Deterministic: the same seed gives the same rows.
--
--   local orders = dofile("examples/orders.lua")
--   local cols = orders.columns("../shared/reference/legacy-pipeline/orders_unified_columns.tsv")
--   for row in orders.rows(cols, {seed=1, count=69, customer="GREYSON CLOTHIERS", sizes_total=264}) do ... end
--   orders.load(db, cols, opts) -> n   -- creates ORDERS_UNIFIED if needed, bulk-inserts
local M = {}
local NULL = require("cjson").null

-- Raw CUSTOMER NAME values as they appear in ORDERS_UNIFIED (aliases of the
-- canonical customers), with an order-number prefix and a size chart.
M.CUSTOMERS = {
  { name = "GREYSON CLOTHIERS", prefix = "GRE", chart = "alpha", categories = { "MENS" } },
  { name = "JOHNNIE O", prefix = "JOH", chart = "alpha", categories = { "MENS", "WOMENS" } },
  { name = "LORNA JANE (AU)", prefix = "LOR", chart = "alpha", categories = { "WOMENS" } },
  { name = "BOGGI MILANO", prefix = "BOG", chart = "waist", categories = { "MENS" } },
  { name = "CAMILLA (AU)", prefix = "CAM", chart = "numeric", categories = { "WOMENS" } },
}

M.SEASONS = {
  { aag = "2026 SPRING", customer = "SPRING SUMMER 2026", code = "26SS", month = { 2025, 9 } },
  { aag = "2026 FALL", customer = "FALL WINTER 2026", code = "26FW", month = { 2026, 2 } },
  { aag = "2027 SPRING", customer = "SPRING SUMMER 2027", code = "27SS", month = { 2026, 9 } },
}

M.CHARTS = {
  alpha = { "XS", "S", "M", "L", "XL", "XXL", "XXXL" },
  numeric = { "0", "2", "4", "6", "8", "10", "12", "14", "16" },
  waist = { "30/30", "30/32", "32/30", "32/32", "34/30", "34/32", "36/30", "36/32" },
}

local COLOURS = { "BLACK", "WHITE", "NAVY", "HEATHER GREY", "OLIVE", "SAND", "DUSTY ROSE",
  "CHARCOAL", "FOREST GREEN", "SKY BLUE", "BURGUNDY", "IVORY" }
local WORDS = { "CLASSIC", "PERFORMANCE", "LIGHTWEIGHT", "RIBBED", "CROPPED", "RELAXED",
  "POLO", "TEE", "HOODIE", "JOGGER", "SHORT", "TANK", "CREW", "ZIP", "LEGGING", "JACKET" }
local DESTINATIONS = { "MISSISSIPPI", "CALIFORNIA", "MELBOURNE", "AUCKLAND", "NEW JERSEY", "MILAN" }

-- Park-Miller style LCG: portable and stable across Lua versions.
local function rng(seed)
  local s = (math.tointeger(seed) or 1) % 2147483647
  if s <= 0 then s = s + 2147483646 end
  local r = {}
  function r.next() s = (s * 48271) % 2147483647; return s end
  function r.int(a, b) return a + r.next() % (b - a + 1) end
  function r.pick(t) return t[r.int(1, #t)] end
  function r.chance(p) return r.next() / 2147483647 < p end
  return r
end
M.rng = rng

function M.columns(tsv)
  local f = assert(io.open(tsv, "rb"))
  local cols = {}
  for line in f:lines() do
    local ord, name, typ = line:match("^(%d+)\t([^\t]+)\t([^\t\r]+)")
    if ord then cols[#cols + 1] = { ordinal = tonumber(ord), name = name, type = typ } end
  end
  f:close()
  table.sort(cols, function(a, b) return a.ordinal < b.ordinal end)
  return cols
end

local function customer_by_name(name)
  for _, c in ipairs(M.CUSTOMERS) do if c.name == name then return c end end
  -- an unknown customer gets a derived prefix and the alpha chart
  return { name = name, prefix = name:gsub("[^%w]", ""):sub(1, 3):upper(), chart = "alpha", categories = { "MENS" } }
end

local function iso_date(y, m, d)
  return os.date("!%Y-%m-%d", os.time { year = y, month = m, day = d, hour = 12 })
end

-- Iterator of rows (name-keyed tables; NULL columns hold cjson.null).
-- opts: seed, count (orders), customer (raw name) or customers (list; rows
-- alternate), sizes_total (exact number of size quantities > 0 across all
-- rows), start (first order-number ordinal, default 1), season (index).
function M.rows(cols, opts)
  opts = opts or {}
  local r = rng(opts.seed or 1)
  local count = opts.count or 100
  local custs = {}
  for _, n in ipairs(opts.customers or { opts.customer or M.CUSTOMERS[1].name }) do
    custs[#custs + 1] = customer_by_name(n)
  end
  local start = opts.start or 1
  local i = 0
  return function()
    i = i + 1
    if i > count then return nil end
    local c = custs[(i - 1) % #custs + 1]
    local season = M.SEASONS[opts.season or r.int(1, #M.SEASONS)]
    local row = {}
    for _, col in ipairs(cols) do row[col.name] = NULL end
    local n = start + i - 1
    local chart = M.CHARTS[c.chart]
    local nsizes
    if opts.sizes_total then
      -- spread exactly sizes_total over count orders
      nsizes = opts.sizes_total // count + ((i <= opts.sizes_total % count) and 1 or 0)
      assert(nsizes <= #chart, "sizes_total too large for the size chart")
    else
      nsizes = r.int(2, math.min(6, #chart))
    end
    local first = r.int(1, #chart - nsizes + 1)
    local total = 0
    for k = first, first + nsizes - 1 do
      local q = r.int(1, 60) * 6
      row[chart[k]] = q
      total = total + q
    end
    local y, m = season.month[1], season.month[2]
    row["AAG ORDER NUMBER"] = ("%s-%05d"):format(c.prefix, n)
    row["CUSTOMER NAME"] = c.name
    row["ORDER DATE PO RECEIVED"] = iso_date(y, m + r.int(0, 5), r.int(1, 28))
    row["AAG SEASON"] = season.aag
    row["AAG SEASON CODE"] = season.code
    -- a few orders lack the customer's season name (group falls back to AAG SEASON)
    row["CUSTOMER SEASON"] = r.chance(0.9) and season.customer or NULL
    row["CUSTOMER STYLE"] = ("%s%04d"):format(c.prefix:sub(1, 2), r.int(1000, 9999))
    row["CUSTOMER COLOUR DESCRIPTION"] = r.pick(COLOURS)
    row["STYLE DESCRIPTION"] = r.pick(WORDS) .. " " .. r.pick(WORDS)
    row["CATEGORY"] = r.pick(c.categories)
    row["UNIT OF MEASURE"] = "PCE"
    row["ORDER TYPE"] = r.chance(0.95) and "ACTIVE" or "CANCELLED"
    row["PO NUMBER"] = ("%04d-%02d"):format(r.int(1000, 9999), r.int(0, 3))
    row["DESTINATION"] = r.pick(DESTINATIONS)
    row["DELIVERY TERMS"] = r.pick { "FOB", "DDP", "EXW" }
    row["PLANNED DELIVERY METHOD"] = r.pick { "SEA", "AIR" }
    row["EX FACTORY DATE"] = iso_date(y, m + r.int(3, 7), r.int(1, 28))
    row["ETA CUSTOMER WAREHOUSE DATE"] = iso_date(y, m + r.int(5, 9), r.int(1, 28))
    row["CUSTOMER PRICE"] = ("%d.%02d"):format(r.int(12, 90), r.int(0, 99))
    row["FINAL FOB (USD)"] = ("%d.%02d"):format(r.int(8, 60), r.int(0, 99))
    row["US TARIFF RATE"] = r.chance(0.1) and "TRUE" or ("0.%02d"):format(r.int(5, 30))
    row["MAKE OR BUY"] = "MAKE"
    row["TOTAL QTY"] = total
    row["Sum of TOTAL QTY"] = total
    row["record_uuid"] = ("%08x-%04x-4%03x-%04x-%04x%08x"):format(r.next(), r.int(0, 65535),
      r.int(0, 4095), 0x8000 + r.int(0, 16383), r.int(0, 65535), r.next())
    return row
  end
end

-- Create ORDERS_UNIFIED (if missing) and insert generated rows in bulk.
-- Returns the number of rows inserted.
function M.load(db, cols, opts)
  local schema = require "monhost.pipeline.schema"
  local ok, msg = db:exec(schema.orders_unified_ddl(db.dialect, cols, opts.table))
  if not ok then error("creating ORDERS_UNIFIED: " .. tostring(msg)) end
  local names = {}
  for i, c in ipairs(cols) do names[i] = c.name end
  local batch, n = {}, 0
  local function flush()
    if #batch == 0 then return end
    local res, msg = db:insert_many(opts.table or "ORDERS_UNIFIED", names, batch,
      { batch_size = opts.batch_size, rows_per_statement = opts.rows_per_statement or math.max(1, 4000 // #names) })
    if not res then error("inserting ORDERS_UNIFIED rows: " .. tostring(msg)) end
    n = n + res.inserted
    batch = {}
  end
  for row in M.rows(cols, opts) do
    local arr = {}
    for i, name in ipairs(names) do arr[i] = row[name] end
    batch[#batch + 1] = arr
    if #batch >= 500 then flush() end
  end
  flush()
  return n
end

return M
