-- The REPL's mapping helpers through a pseudo-terminal: :mapping, :db,
-- :row, :try, :reload picking up an edit, errors with file:line.
local fx = require "mapping_fixtures"
local sh = require "sh"
local sys = require "monhost.sys"

if not fx.have_reference() then
  it("needs ../shared/reference", function() skip("reference files not present") end)
  return
end

local tmp = assert(sys.tmpdir("monhost-repl-map"))

local function session(lines, env)
  local argv = { "python3", "tests/support/ptyrun.py", "--timeout", "60",
    "--env", "MONHOST_HISTORY=" .. tmp .. "/history",
    "--env", "MONHOST_BOARD=" .. fx.BOARD, "--env", "MONHOST_SUBITEM_BOARD=" .. fx.SUBBOARD }
  for k, v in pairs(env or {}) do argv[#argv + 1] = "--env"; argv[#argv + 1] = k .. "=" .. v end
  for _, a in ipairs { "--", sh.monhost, "repl" } do argv[#argv + 1] = a end
  local out, _, code = sh.run(argv, { stdin = table.concat(lines, "\n") .. "\n" })
  return out, code
end

describe("REPL mapping helpers", function()
  local odbc = require "monhost.odbc"
  local dbfile = tmp .. "/orders.db"
  local connstr = "Driver=SQLite3;Database=" .. dbfile

  it("fetches a real row by order number and shows source, item, group, subitems and the operation", function()
    local db, err = odbc.connect(connstr)
    if not db then skip("no SQLite ODBC driver: " .. tostring(err)) end
    fx.orders.load(db, fx.columns(), { seed = 3, count = 12, customer = "GREYSON CLOTHIERS" })
    local first
    for r in db:rows('SELECT "AAG ORDER NUMBER", "CUSTOMER STYLE" FROM ORDERS_UNIFIED ORDER BY 1 LIMIT 1') do first = r end
    db:close()
    local out, code = session({
      "expect > ",
      "send :db " .. connstr,
      "expect connected",
      "send :mapping greyson",
      "expect 161 sizes",
      "send :row \"" .. first[1] .. "\"",
      "expect create_item",
      "expect > $",
      "send rec.group_name",
      "expect > $",
      "eof",
    })
    eq(code, 0, out)
    matches(out, "mapping greyson: 43 columns, 161 sizes, board 9200517329")
    matches(out, "ORDER TYPE%s+%u+%s+%->%s+dropdown_mkr518fc %(ORDER TYPE%)")
    matches(out, "item:%s+" .. first[2]:gsub("%p", "%%%0"))
    matches(out, "group: GREYSON ")
    matches(out, "subitems %(%d+%): Size ")
    matches(out, "mutation %(%$board: ID!")
    matches(out, '"board":"9200517329"')
    matches(out, '\n"GREYSON [^"]+"')
  end)

  it(":try shows per-record errors; :reload picks up an edit; load errors cite file:line", function()
    local d = fx.with_default({ ["mine.lua"] = 'return { extends = "default", customer = "RHYTHM" }\n' })
    local edit = tmp .. "/edit.lua"
    sh.write(edit, ([[
local f = assert(io.open(%q, "wb"))
f:write('return {\n  extends = "default",\n  group = function(r) return "EDITED" end,\n}\n')
f:close()
local g = assert(io.open(%q, "wb"))
g:write('return {\n  extends = "default",\n  columns = { x = = 1 },\n}\n')
g:close()
]]):format(d .. "/mine.lua", d .. "/broken.lua"))
    local out, code = session({
      "expect > ",
      "send :mapping " .. d .. "/mine.lua",
      "expect sizes",
      'send :try {["AAG ORDER NUMBER"]="R1", ["CUSTOMER STYLE"]="ST", ["CUSTOMER COLOUR DESCRIPTION"]="RED", ["CUSTOMER NAME"]="RHYTHM (US)", ["EX FACTORY DATE"]="2025-13-01"}',
      "expect ERROR",
      "expect > $",
      "send dofile(" .. string.format("%q", edit) .. ")",
      "send :reload",
      "expect reloaded",
      'send :try {["AAG ORDER NUMBER"]="R1", ["CUSTOMER STYLE"]="ST", ["CUSTOMER COLOUR DESCRIPTION"]="RED"}',
      "expect group: EDITED",
      "send :mapping " .. d .. "/broken.lua",
      "expect did not load",
      "expect > $",
      "eof",
    }, { MONHOST_COLUMNS = fx.COLUMNS })
    eq(code, 0, out)
    matches(out, "group: RHYTHM UNKNOWN_SEASON")
    matches(out, 'ERROR EX FACTORY DATE: not a date: "2025%-13%-01"')
    matches(out, "group: EDITED")
    matches(out, "broken.lua:3:")
  end)
end)
