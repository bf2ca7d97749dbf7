-- cmd/status.lua: `monhost status`, what the database says about the sync:
-- staging rows by state (pending, in flight, failed), the failed rows with
-- monday's or the mapping's message, the board lock, and the last runs from
-- MON_BatchProcessing. Reads only.
--   monhost status [--config FILE] [--board ID] [--failed N] [--runs N] [--json]
local cjson = require "cjson"
local config = require "monhost.config"
local C = require "monhost.pipeline.common"

local M = {}

local function parse(args)
  local o = { failed = 50, runs = 10 }
  local i = 1
  while i <= #args do
    local a = args[i]
    local function val() i = i + 1; return args[i] or error(a .. " needs a value", 0) end
    if a == "--config" then o.config = val()
    elseif a == "--board" then o.board = val()
    elseif a == "--failed" then o.failed = math.tointeger(tonumber(val())) or error("--failed N", 0)
    elseif a == "--runs" then o.runs = math.tointeger(tonumber(val())) or error("--runs N", 0)
    elseif a == "--json" then o.json = true
    else error("unknown option " .. a, 0) end
    i = i + 1
  end
  return o
end

-- Collect the status as a table (used by --json and by tests).
function M.collect(db, board, nfailed, nruns)
  db = C.strict(db)
  local s = { board = board, items = {}, subitems = {}, failed = {}, runs = {}, synced = {} }
  for _, t in ipairs { { "items", "STG_MON_CustMasterSchedule" }, { "subitems", "STG_MON_CustMasterSchedule_Subitems" } } do
    for row in db:rows("SELECT state, COUNT(*) FROM " .. t[2] .. " WHERE board_id = ? GROUP BY state", board) do
      s[t[1]][C.tostr(row[1])] = math.tointeger(tonumber(row[2]))
    end
  end
  s.synced.items = math.tointeger(tonumber(C.scalar(db, "SELECT COUNT(*) FROM MON_SyncState WHERE board_id = ?", board)))
  s.synced.subitems = math.tointeger(tonumber(C.scalar(db, "SELECT COUNT(*) FROM MON_SyncState_Subitems WHERE board_id = ?", board)))
  local sql = C.select_limit(db, "'item', stg_id, customer, item_name, attempts, updated_at, error FROM STG_MON_CustMasterSchedule "
    .. "WHERE board_id = ? AND state = 'FAILED' ORDER BY updated_at DESC", nfailed)
  for row in db:rows(sql, board) do
    s.failed[#s.failed + 1] = { kind = "item", id = row[2], customer = C.tostr(row[3]), name = C.tostr(row[4]),
      attempts = row[5], updated_at = C.tostr(row[6]), error = C.tostr(row[7]) }
  end
  sql = C.select_limit(db, "'subitem', stg_sub_id, source_key, item_name, attempts, updated_at, error FROM STG_MON_CustMasterSchedule_Subitems "
    .. "WHERE board_id = ? AND state = 'FAILED' ORDER BY updated_at DESC", nfailed)
  for row in db:rows(sql, board) do
    s.failed[#s.failed + 1] = { kind = "subitem", id = row[2], order = C.tostr(row[3]), name = C.tostr(row[4]),
      attempts = row[5], updated_at = C.tostr(row[6]), error = C.tostr(row[7]) }
  end
  for row in db:rows("SELECT holder, acquired_at, heartbeat_at FROM MON_BoardLock WHERE board_id = ?", board) do
    s.lock = { holder = C.tostr(row[1]), acquired_at = C.tostr(row[2]), heartbeat_at = C.tostr(row[3]) }
  end
  sql = C.select_limit(db, "batch_id, customer, kind, status, orders_selected, items_created, items_failed, subitems_created, "
    .. "subitems_failed, api_calls, complexity_used, duration_s, started_at, message FROM MON_BatchProcessing "
    .. "WHERE board_id = ? ORDER BY started_at DESC, batch_id DESC", nruns)
  for row in db:rows(sql, board) do
    s.runs[#s.runs + 1] = { batch_id = C.tostr(row[1]), customer = C.tostr(row[2]), kind = C.tostr(row[3]),
      status = C.tostr(row[4]), orders = row[5], items_created = row[6], items_failed = row[7],
      subitems_created = row[8], subitems_failed = row[9], api_calls = row[10], complexity = row[11],
      duration = tonumber(C.tostr(row[12])), started_at = C.tostr(row[13]), message = C.tostr(row[14]) }
  end
  return s
end

local function n(t, k) return t[k] or 0 end

function M.print(s, out)
  out = out or io.stdout
  out:write(("board %s: %d orders and %d subitems synced\n"):format(s.board, s.synced.items or 0, s.synced.subitems or 0))
  out:write(("staging items:    %d pending, %d in flight, %d created (waiting for subitems), %d failed\n"):format(
    n(s.items, "PENDING"), n(s.items, "SENDING"), n(s.items, "CREATED"), n(s.items, "FAILED")))
  out:write(("staging subitems: %d pending, %d in flight, %d failed\n"):format(
    n(s.subitems, "PENDING"), n(s.subitems, "SENDING"), n(s.subitems, "FAILED")))
  if s.lock then out:write(("lock: held by %s since %s (heartbeat %s)\n"):format(s.lock.holder, s.lock.acquired_at, s.lock.heartbeat_at)) end
  if #s.failed > 0 then
    out:write("failed (monhost retry re-sends them):\n")
    for _, f in ipairs(s.failed) do
      out:write(("  %-7s %s  [%s attempts, %s]\n      %s\n"):format(f.kind, tostring(f.name), tostring(f.attempts),
        tostring(f.updated_at), tostring(f.error)))
    end
  end
  if #s.runs > 0 then
    out:write("last runs:\n")
    for _, r in ipairs(s.runs) do
      out:write(("  %s  %-8s %-20s orders %s, items %s created / %s failed, subitems %s / %s, %s calls, %.1f s%s\n"):format(
        tostring(r.started_at), tostring(r.status), tostring(r.customer), tostring(r.orders), tostring(r.items_created),
        tostring(r.items_failed), tostring(r.subitems_created), tostring(r.subitems_failed), tostring(r.api_calls),
        r.duration or 0, r.message and ("  (" .. r.message:sub(1, 120) .. ")") or ""))
    end
  end
end

function M.main(...)
  local args = { ... }
  local ok, res = pcall(function()
    local o = parse(args)
    local cfg = assert(config.load(o.config))
    local cs = assert(config.connstr(cfg))
    local db, msg = require("monhost.odbc").connect(cs)
    if not db then error("database: " .. tostring(msg), 0) end
    local s = M.collect(db, tostring(o.board or cfg.boards.items), o.failed, o.runs)
    db:close()
    if o.json then print(cjson.encode(s)) else M.print(s) end
    return 0
  end)
  if not ok then io.stderr:write("monhost status: ", tostring(res), "\n"); return 1 end
  return res
end

return M
