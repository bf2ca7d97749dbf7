-- ORDERS_UNIFIED's 268 columns through monhost.odbc on SQLite and
-- PostgreSQL: insert_many then fetch, every value back exactly.
local odbc = require "monhost.odbc"
local dbs = require "db"
local null = odbc.null

local TSV = "../shared/reference/legacy-pipeline/orders_unified_columns.tsv"

local function load_columns()
  local f = io.open(TSV)
  if not f then return nil end
  local cols = {}
  for line in f:lines() do
    local ord, name, ty = line:match("^(%d+)\t(.-)\t(.-)$")
    if ord then cols[#cols + 1] = { name = name, type = ty } end
  end
  f:close()
  return cols
end

local SQLTYPE = {
  sqlite = { ["NVARCHAR(MAX)"] = "TEXT", INT = "INTEGER", DATE = "DATE", UNIQUEIDENTIFIER = "VARCHAR(36)" },
  postgres = { ["NVARCHAR(MAX)"] = "TEXT", INT = "INTEGER", DATE = "DATE", UNIQUEIDENTIFIER = "UUID" },
}

-- deterministic values covering NULL, empty strings, non-ASCII, quotes
local function value(col, r, c)
  local k = (r * 31 + c * 7) % 11
  if k == 0 then return null end
  if col.type == "INT" then return (r * 1000 + c) * (k % 2 == 0 and -1 or 1) end
  if col.type == "DATE" then return string.format("20%02d-%02d-%02d", 10 + r % 15, 1 + c % 12, 1 + (r + c) % 28) end
  if col.type == "UNIQUEIDENTIFIER" then return string.format("%08x-0000-4000-8000-%012x", r, c) end
  if k == 1 then return "" end
  if k == 2 then return "Größe “M” – 日本 " .. r end
  if k == 3 then return "it's \"quoted\" ; -- " .. c end
  return string.format("v%d.%d", r, c)
end

describe("ORDERS_UNIFIED round trip", function()
  local cols = load_columns()
  for _, kind in ipairs(dbs.kinds) do
    it(kind .. ": 268 columns insert and fetch back exactly", function()
      if not cols then skip("reference TSV not found at " .. TSV) end
      eq(#cols, 268)
      local db <close> = assert(odbc.connect((dbs.fresh(kind))))
      local defs, names = {}, {}
      for i, c in ipairs(cols) do
        defs[i] = db:quote_ident(c.name) .. " " .. SQLTYPE[kind][c.type]
        names[i] = c.name
      end
      assert(db:exec('CREATE TABLE "ORDERS_UNIFIED" (' .. table.concat(defs, ", ") .. ")"))
      local rows = {}
      for r = 1, 120 do
        local row = {}
        for c, col in ipairs(cols) do row[c] = value(col, r, c) end
        rows[r] = row
      end
      local res = assert(db:insert_many("ORDERS_UNIFIED", names, rows))
      eq(res.inserted, 120)
      local intcol = db:quote_ident("Sum of TOTAL QTY")
      local cur = assert(db:query('SELECT * FROM "ORDERS_UNIFIED"'))
      local got = cur:fetch_many(1000, { named = true })
      eq(#got, 120)
      -- match rows by their first UNIQUEIDENTIFIER-free key: row order
      -- is not guaranteed, so index by the record_uuid column
      local by = {}
      for _, g in ipairs(got) do by[g.record_uuid] = g end
      for r = 1, 120 do
        local want = rows[r]
        local uuid = want[268]
        local g = by[uuid]
        if uuid == null then
          -- rows whose uuid is NULL: find by the INT column instead
          for _, cand in ipairs(got) do
            if cand["Sum of TOTAL QTY"] == want[25] and cand["AAG ORDER NUMBER"] == want[1] then g = cand end
          end
        end
        ok(g, "row " .. r .. " not found")
        for c, col in ipairs(cols) do
          local w, v = want[c], g[col.name]
          if w ~= v then
            error(string.format("row %d column %q: sent %s, got %s", r, col.name, tostring(w), tostring(v)))
          end
        end
      end
      ok(intcol)
    end)
  end
end)
