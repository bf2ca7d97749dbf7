-- cmd/check.lua: `monhost check mappings/ --board boards/ID.json ...`
-- Checks mapping files before they run and prints one line per problem as
-- file:line: severity: message. Exit status 1 on any error (CI uses it).
local check = require "monhost.mapping.check"
local source = require "monhost.mapping.source"

local M = {}

local USAGE = [==[
usage: monhost check [MAPPING|DIR ...] --board ITEMS.json [--subitem-board SUBITEMS.json]
                     [--columns COLUMNS.tsv | --source DSN_OR_CONNSTR [--table ORDERS_UNIFIED]
                      [--sample N]]
                     [--customers ALIASES.lua|.yaml] [--quiet]

Checks mappings (default: mappings/) against the board metadata and the
source table's columns. With --source, also transforms a sample of real
rows (the first N of each mapping's customers; default 200, 0 = off) and
reports every value that cannot go into its monday column, with the row's
key, at the mapping line that maps it. Exit status 0 when there is no
error, 1 otherwise, 2 on usage errors.
]==]

-- Transform up to n real rows of the mapping's customers; returns the
-- diagnostics for the values that failed (one per column and message, with
-- the first failing row's key and how many sampled rows failed so).
function M.sample(db, tbl, plan, spec_file, n)
  local C = require "monhost.pipeline.common"
  local stage = require "monhost.pipeline.stage"
  local q = function(c) return db:quote_ident(c) end
  local cols = {}
  for i, c in ipairs(plan.select_columns) do cols[i] = q(c) end
  local where, params = {}, {}
  if plan.customers and #plan.customers > 0 then
    where[#where + 1] = q(plan.customer_column or "CUSTOMER NAME") .. " IN (" .. C.marks(#plan.customers) .. ")"
    for _, c in ipairs(plan.customers) do params[#params + 1] = c end
  end
  if plan.filter and plan.filter ~= "" then where[#where + 1] = "(" .. plan.filter .. ")" end
  local rest = table.concat(cols, ", ") .. " FROM " .. q(tbl)
  if #where > 0 then rest = rest .. " WHERE " .. table.concat(where, " AND ") end
  local ok, cur = pcall(db.query, db, C.select_limit(db, rest, n), table.unpack(params))
  if not ok or not cur then
    return { { severity = "error", file = spec_file, message = "sampling the source failed: " .. tostring(cur) } }, 0
  end
  local rows = cur:fetch_many(n) or {}
  cur:close()
  local at_of = {}
  for _, e in ipairs(plan.entries or {}) do at_of[e.id] = e.at end
  local found, order = {}, {}
  for _, row in ipairs(rows) do
    local key = stage.key_text(stage.key_parts(plan, row))
    local okt, rec, errs = pcall(plan.transform, plan, row)
    if not okt then errs = { { message = tostring(rec) } } end
    errs = (okt and rec and rec.errors) or errs or {}
    for _, e in ipairs(errs) do
      local id = (e.monday_column or e.column or "?") .. "\0" .. tostring(e.message)
      local f = found[id]
      if not f then
        f = { key = key, e = e, count = 0 }
        found[id] = f
        order[#order + 1] = f
      end
      f.count = f.count + 1
    end
  end
  local out = {}
  for _, f in ipairs(order) do
    local at = at_of[f.e.monday_column] or {}
    out[#out + 1] = { severity = "error", file = at.file or spec_file, line = at.line,
      message = ("sampled row %s: %s%s (%d of %d sampled rows)"):format(f.key,
        f.e.column and ("'" .. tostring(f.e.column) .. "': ") or "", tostring(f.e.message), f.count, #rows) }
  end
  return out, #rows
end

function M.main(...)
  local args = { ... }
  local paths, opts, quiet = {}, {}, false
  local i = 1
  local srcdsn, tbl, sample = nil, "ORDERS_UNIFIED", 200
  while i <= #args do
    local a = args[i]
    local v = args[i + 1]
    if a == "--board" then opts.board = v; i = i + 1
    elseif a == "--subitem-board" then opts.subitem_board = v; i = i + 1
    elseif a == "--columns" then opts.columns = v; i = i + 1
    elseif a == "--source" then srcdsn = v; i = i + 1
    elseif a == "--table" then tbl = v; i = i + 1
    elseif a == "--sample" then
      sample = math.tointeger(tonumber(v))
      if not sample or sample < 0 then io.stderr:write("monhost check: --sample needs a count\n" .. USAGE); return 2 end
      i = i + 1
    elseif a == "--customers" then opts.customers = v; i = i + 1
    elseif a == "--quiet" or a == "-q" then quiet = true
    elseif a == "-h" or a == "--help" then io.write(USAGE); return 0
    elseif a:sub(1, 1) == "-" then io.stderr:write("monhost check: unknown option " .. a .. "\n" .. USAGE); return 2
    else paths[#paths + 1] = a end
    i = i + 1
  end
  if (opts.board == nil) then io.stderr:write("monhost check: --board is required\n" .. USAGE); return 2 end
  local srcdb -- one connection for the column list and every mapping's sample
  if srcdsn then
    local err
    srcdb, err = require("monhost.odbc").connect(srcdsn:find("=") and srcdsn or ("DSN=" .. srcdsn))
    local ok, cols = false, err
    if srcdb then ok, cols = pcall(require("monhost.pipeline.runner").source_columns, srcdb, tbl) end
    if not ok then
      if srcdb then srcdb:close() end
      io.stderr:write("monhost check: source: " .. tostring(cols) .. "\n")
      return 1
    end
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
    local diags, plan = check.mapping(f, o)
    if plan and srcdb and sample > 0 then
      for _, d in ipairs(M.sample(srcdb, tbl, plan, f, sample)) do diags[#diags + 1] = d end
    end
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
  if srcdb then srcdb:close() end
  print(("%d mapping%s checked: %d error%s, %d warning%s"):format(#files, #files == 1 and "" or "s",
    nerr, nerr == 1 and "" or "s", nwarn, nwarn == 1 and "" or "s"))
  return nerr > 0 and 1 or 0
end

return M
