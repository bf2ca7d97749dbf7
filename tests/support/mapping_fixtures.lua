-- mapping_fixtures.lua: shared by the mapping, check, colvals and hash
-- specs: paths of the reference files (read in place, never copied), the
-- generated ORDERS_UNIFIED rows and a scratch directory for mapping files.
local sys = require "monhost.sys"

local M = {}

M.REF = "../shared/reference/legacy-pipeline/"
M.BOARD = M.REF .. "board_9200517329_metadata.json"
M.SUBBOARD = M.REF .. "board_9200771505_metadata.json"
M.COLUMNS = M.REF .. "orders_unified_columns.tsv"
M.YAML = M.REF .. "orders_unified_monday_mapping.yaml"
M.CUSTOMERS_YAML = M.REF .. "customer_mapping.yaml"
M.SUBITEMS_YAML = M.REF .. "subitem-field-mapping.yaml"

function M.have_reference()
  return sys.stat(M.BOARD) ~= nil and sys.stat(M.COLUMNS) ~= nil
end

M.orders = dofile("examples/orders.lua")

function M.columns()
  return M.orders.columns(M.COLUMNS)
end

-- A minimal row keyed by column name: every column NULL except the given ones.
function M.row(values)
  local NULL = require("cjson").null
  local r = {}
  for _, c in ipairs(M.columns()) do r[c.name] = NULL end
  for k, v in pairs(values) do r[k] = v end
  return r
end

-- The values of one hand-written order line (JOHNNIE O), for M.row.
M.KEYED = {
  ["AAG ORDER NUMBER"] = "JOO-00505", ["CUSTOMER STYLE"] = "JWHD100120", ["CUSTOMER COLOUR DESCRIPTION"] = "WHITE",
  ["CUSTOMER NAME"] = "JOHNNIE O", ["CUSTOMER SEASON"] = "SPRING SUMMER 2026", ["AAG SEASON"] = "2026 SPRING",
  ["ORDER TYPE"] = "ACTIVE", ["ORDER DATE PO RECEIVED"] = "2025-05-20", ["CUSTOMER PRICE"] = "28.86",
  ["US TARIFF RATE"] = "TRUE", ["STYLE DESCRIPTION"] = "  NALLA\r\n", ["UNIT OF MEASURE"] = "PCE",
}

-- n generated rows (keyed by column name) for a customer
function M.rows(n, opts)
  opts = opts or {}
  local out = {}
  for row in M.orders.rows(M.columns(), { seed = opts.seed or 7, count = n, customer = opts.customer }) do
    out[#out + 1] = row
  end
  return out
end

function M.opts(extra)
  local o = { board = M.BOARD, subitem_board = M.SUBBOARD, columns = M.COLUMNS, mappings_dir = "mappings" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- A scratch directory with files {name = text}; returns its path.
local n = 0
function M.dir(files)
  n = n + 1
  local d = assert(sys.tmpdir("monhost-map" .. n))
  for name, text in pairs(files or {}) do
    local f = assert(io.open(d .. "/" .. name, "wb"))
    f:write(text)
    f:close()
  end
  return d
end

-- A copy of the repository's mappings (default + customers) into dir, so
-- scratch customer files can extend "default".
function M.with_default(files)
  local t = {}
  for _, name in ipairs { "default.lua", "customers.lua" } do
    local f = assert(io.open("mappings/" .. name, "rb"))
    t[name] = f:read("a")
    f:close()
  end
  for k, v in pairs(files or {}) do t[k] = v end
  return M.dir(t)
end

-- Run monhost with argv; returns stdout, stderr, exit code.
function M.run(argv)
  local sh = require "sh"
  local full = { sh.monhost }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  local out, err, code = sh.run(full)
  return out, err, code
end

return M
