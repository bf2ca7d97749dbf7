-- monhost check: good mappings pass, broken ones fail with file:line.
local fx = require "mapping_fixtures"
local sh = require "sh"

if not fx.have_reference() then
  it("needs ../shared/reference", function() skip("reference files not present") end)
  return
end

local function check(args)
  local argv = { "check" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  for _, a in ipairs { "--board", fx.BOARD, "--subitem-board", fx.SUBBOARD } do argv[#argv + 1] = a end
  return fx.run(argv)
end

describe("monhost check", function()
  it("passes the repository's mappings (exit 0)", function()
    local out, err, code = check { "mappings/", "--columns", fx.COLUMNS }
    eq(code, 0, out .. err)
    matches(out, "3 mappings checked: 0 errors")
  end)

  it("passes the example customer mapping (which overrides by title)", function()
    local out, err, code = check { "examples/mapping-customer.lua", "--columns", fx.COLUMNS, "-q" }
    eq(code, 0, out .. err)
  end)

  it("fails the legacy YAML on its unknown FREIGHT column, citing the YAML line", function()
    local out, _, code = check { fx.YAML, "--columns", fx.COLUMNS, "-q" }
    eq(code, 1)
    matches(out, "orders_unified_monday_mapping.yaml:295: error: unknown monday column: no column 'text_mkr5kyf4'")
  end)

  it("reports each kind of problem with file:line and exits 1", function()
    local d = fx.with_default({ ["broken.lua"] = [[
return {
  extends = "default",
  columns = {
    text_mkr5ej2x = "PO NUMBR",
    text_nothere = "PO NUMBER",
    formula_mkre54dj = "TOTAL QTY",
    date_mkrvx550 = "XS",
    numeric_mkrb56rj = "record_uuid",
    color_mkrvzryf = { "ORDER TYPE", map = { ACTIVE = "Live" } },
    numeric_mkrbty8b = { "CUSTOMER PRICE", default = "none" },
  },
}]], ["nokey.lua"] = [[
return {
  extends = "default",
  key = {},
}]] })
    local board = fx.dir({ ["b.json"] = (function()
      -- the reference board plus labels on PPS STATUS, as `monhost board pull` writes them
      local cjson = require "cjson"
      local b = cjson.decode(io.open(fx.BOARD):read("a"))
      for _, c in ipairs(b.columns) do
        if c.monday_id == "color_mkrvzryf" then c.labels = { "Working on it", "Done", "Stuck" } end
      end
      return cjson.encode(b)
    end)() }) .. "/b.json"
    local out, _, code = fx.run { "check", d .. "/broken.lua", d .. "/nokey.lua", "--board", board,
      "--subitem-board", fx.SUBBOARD, "--columns", fx.COLUMNS }
    eq(code, 1, out)
    local function has(pat) matches(out, pat) end
    has("broken.lua:4: error: unknown source column 'PO NUMBR'")
    has("broken.lua:5: error: unknown monday column: no column 'text_nothere'")
    has("broken.lua:6: error: monday column formula_mkre54dj %(ORDER QTY%) is a formula column: read%-only")
    has("broken.lua:7: error: 'XS' is INT: it cannot fit monday column date_mkrvx550")
    has("broken.lua:8: error: 'record_uuid' is UNIQUEIDENTIFIER: it cannot fit monday column numeric_mkrb56rj")
    has("broken.lua:9: error: value map 'ACTIVE' %-> 'Live': monday column color_mkrvzryf .* has no label 'Live'")
    has("broken.lua:10: error: the default \"none\" cannot go into monday column numeric_mkrbty8b")
    has("nokey.lua:3: error: the mapping has no key columns")
    has("2 mappings checked: 9 errors")
  end)

  it("checks source columns of a real table through ODBC (--source)", function()
    local odbc = require "monhost.odbc"
    local sys = require "monhost.sys"
    local dbfile = assert(sys.tmpdir("monhost-check")) .. "/o.db"
    local db, err = odbc.connect("Driver=SQLite3;Database=" .. dbfile)
    if not db then skip("no SQLite ODBC driver: " .. tostring(err)) end
    -- ORDERS_UNIFIED without two columns the default mapping reads
    local cols = {}
    for _, c in ipairs(fx.columns()) do
      if c.name ~= "HS CODE" and c.name ~= "XS" then cols[#cols + 1] = c end
    end
    local schema = require "monhost.pipeline.schema"
    assert(db:exec(schema.orders_unified_ddl(db.dialect, cols)))
    db:close()
    local out, _, code = check { "mappings/default.lua", "--source", "Driver=SQLite3;Database=" .. dbfile, "-q" }
    eq(code, 1, out)
    matches(out, "default.lua:%d+: error: unknown source column 'HS CODE'")
    os.remove(dbfile)
  end)

  it("transforms a sample of real rows (--source) and names each value that cannot go to monday", function()
    local odbc = require "monhost.odbc"
    local sys = require "monhost.sys"
    local orders = dofile("examples/orders.lua")
    local dir = assert(sys.tmpdir("monhost-check"))
    local dbfile = dir .. "/o.db"
    local db, err = odbc.connect("Driver=SQLite3;Database=" .. dbfile)
    if not db then skip("no SQLite ODBC driver: " .. tostring(err)) end
    orders.load(db, orders.columns(fx.COLUMNS), { seed = 3, count = 30, customer = "GREYSON CLOTHIERS" })
    local bad = {}
    for r in db:rows('SELECT "AAG ORDER NUMBER" FROM ORDERS_UNIFIED ORDER BY "AAG ORDER NUMBER" LIMIT 2') do bad[#bad + 1] = r[1] end
    for _, k in ipairs(bad) do
      assert(db:exec('UPDATE ORDERS_UNIFIED SET "CUSTOMER PRICE" = ? WHERE "AAG ORDER NUMBER" = ?', "about 5 dollars", k))
    end
    db:close()
    local cs = "Driver=SQLite3;Database=" .. dbfile
    local out, _, code = check { "mappings/default.lua", "--source", cs, "-q" }
    eq(code, 1, out)
    -- at the line of the mapping that maps the column, with a failing row's key and the count
    local line
    local n = 0
    for l in io.lines("mappings/default.lua") do
      n = n + 1
      if l:find('"CUSTOMER PRICE"', 1, true) and l:find("numeric_mkr5cact", 1, true) then line = n end
    end
    matches(out, "default%.lua:" .. line .. ": error: sampled row " .. bad[1]:gsub("%-", "%%-") .. "|[^\n]*'CUSTOMER PRICE'[^\n]*%(2 of 30 sampled rows%)")
    matches(out, "about 5 dollars")
    -- a sample too small to reach them, or none, passes
    eq(select(3, check { "mappings/default.lua", "--source", cs, "--sample", "0", "-q" }), 0)
    local _, e2, c2 = check { "mappings/default.lua", "--source", cs, "--sample", "x" }
    eq(c2, 2, e2)
    os.remove(dbfile)
    os.remove(dir)
  end)

  it("explains its usage", function()
    local _, err, code = fx.run { "check", "mappings/" }
    eq(code, 2)
    matches(err, "%-%-board is required")
  end)
end)
