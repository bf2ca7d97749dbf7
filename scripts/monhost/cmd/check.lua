-- cmd/check.lua: `monhost check mappings/ --board boards/ID.json ...`
-- Checks mapping files before they run and prints one line per problem as
-- file:line: severity: message. Exit status 1 on any error (CI uses it).
local check = require "monhost.mapping.check"
local source = require "monhost.mapping.source"

local M = {}

local USAGE = [==[
usage: monhost check [MAPPING|DIR ...] --board ITEMS.json [--subitem-board SUBITEMS.json]
                     [--columns COLUMNS.tsv | --source DSN_OR_CONNSTR [--table ORDERS_UNIFIED]]
                     [--customers ALIASES.lua|.yaml] [--quiet]

Checks mappings (default: mappings/) against the board metadata and the
source table's columns. Exit status 0 when there is no error, 1 otherwise,
2 on usage errors.
]==]

-- Column list of a table through ODBC: the names and types of an empty result.
function M.source_columns(dsn, tbl)
  local odbc = require "monhost.odbc"
  local connstr = dsn:find("=") and dsn or ("DSN=" .. dsn)
  local db, err = odbc.connect(connstr)
  if not db then return nil, err end
  local q = db.quote_ident and db:quote_ident(tbl) or ('"' .. tbl:gsub('"', '""') .. '"')
  local ok, cur = pcall(db.query, db, "SELECT * FROM " .. q .. " WHERE 1=0")
  if not ok or not cur then db:close(); return nil, tostring(cur) end
  local cols = cur:columns()
  cur:close()
  db:close()
  return cols
end

function M.main(...)
  local args = { ... }
  local paths, opts, quiet = {}, {}, false
  local i = 1
  local srcdsn, tbl = nil, "ORDERS_UNIFIED"
  while i <= #args do
    local a = args[i]
    local v = args[i + 1]
    if a == "--board" then opts.board = v; i = i + 1
    elseif a == "--subitem-board" then opts.subitem_board = v; i = i + 1
    elseif a == "--columns" then opts.columns = v; i = i + 1
    elseif a == "--source" then srcdsn = v; i = i + 1
    elseif a == "--table" then tbl = v; i = i + 1
    elseif a == "--customers" then opts.customers = v; i = i + 1
    elseif a == "--quiet" or a == "-q" then quiet = true
    elseif a == "-h" or a == "--help" then io.write(USAGE); return 0
    elseif a:sub(1, 1) == "-" then io.stderr:write("monhost check: unknown option " .. a .. "\n" .. USAGE); return 2
    else paths[#paths + 1] = a end
    i = i + 1
  end
  if (opts.board == nil) then io.stderr:write("monhost check: --board is required\n" .. USAGE); return 2 end
  if srcdsn then
    local cols, err = M.source_columns(srcdsn, tbl)
    if not cols then io.stderr:write("monhost check: source: " .. tostring(err) .. "\n"); return 1 end
    opts.columns = cols
  elseif opts.columns then
    local cols, err = source.load(opts.columns)
    if not cols then io.stderr:write("monhost check: " .. tostring(err) .. "\n"); return 1 end
    opts.columns = cols
  end
  if #paths == 0 then paths = { "mappings" } end
  local files = check.files(paths)
  local nerr, nwarn = 0, 0
  local seen = {} -- a base file's problem shows once, not once per file extending it
  for _, f in ipairs(files) do
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    local diags = check.mapping(f, o)
    table.sort(diags, function(a, b)
      if a.file ~= b.file then return a.file < b.file end
      return (a.line or 0) < (b.line or 0)
    end)
    for _, d in ipairs(diags) do
      local line = ("%s:%s: %s: %s"):format(d.file, d.line and tostring(d.line) or "1", d.severity, d.message)
      if not seen[line] then
        seen[line] = true
        if d.severity == "error" then nerr = nerr + 1 else nwarn = nwarn + 1 end
        if d.severity == "error" or not quiet then print(line) end
      end
    end
  end
  print(("%d mapping%s checked: %d error%s, %d warning%s"):format(#files, #files == 1 and "" or "s",
    nerr, nerr == 1 and "" or "s", nwarn, nwarn == 1 and "" or "s"))
  return nerr > 0 and 1 or 0
end

return M
