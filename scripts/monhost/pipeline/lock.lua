-- pipeline/lock.lua: one run per board at a time, enforced by the database
-- (MON_BoardLock, primary key board_id) so it holds across hosts. A lock
-- left by a run that died (kill -9, power loss) is taken over when its
-- process is gone (same host) or its heartbeat is older than
-- lock.stale_after seconds (another host); the takeover is a conditional
-- UPDATE on the old holder, so two runs cannot both win it.
local sys = require "monhost.sys"
local C = require "monhost.pipeline.common"

local M = {}

local function holder_id()
  return ("%s:%d"):format(C.hostname(), sys.getpid())
end
M.holder_id = holder_id

local function alive(pid)
  if not pid then return false end
  local ok, err = sys.kill(pid, 0)
  if ok then return true end
  -- EPERM means it exists but belongs to someone else
  return err ~= nil and tostring(err):find("ermission") ~= nil
end

local function current(db, board)
  for row in db:rows("SELECT holder, host, pid, acquired_at, heartbeat_at FROM MON_BoardLock WHERE board_id = ?", board) do
    return { holder = row[1], host = C.tostr(row[2]), pid = math.tointeger(tonumber(C.tostr(row[3]) or "")),
      acquired_at = row[4], heartbeat_at = C.tostr(row[5]) }
  end
end

-- acquire(db, board_id, {stale_after=}) -> lock | nil, message
function M.acquire(db, board, opts)
  opts = opts or {}
  board = tostring(board)
  local me, now = holder_id(), C.now()
  local ok = pcall(db.exec, db,
    "INSERT INTO MON_BoardLock (board_id, holder, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
    board, me, C.hostname(), sys.getpid(), now, now)
  if not ok then
    local cur = current(db, board)
    if not cur then return M.acquire(db, board, opts) end -- released in between
    local stale
    if cur.holder == me then stale = true
    elseif cur.host == C.hostname() then stale = not alive(cur.pid)
    else stale = (cur.heartbeat_at or "") < C.ago(opts.stale_after or 3600) end
    if not stale then
      return nil, ("board %s is being synced by %s since %s (MON_BoardLock); wait for it to finish, "
        .. "or delete that row if you are sure no run is active"):format(board, cur.holder, tostring(cur.acquired_at))
    end
    local n = db:exec("UPDATE MON_BoardLock SET holder = ?, host = ?, pid = ?, acquired_at = ?, heartbeat_at = ? "
      .. "WHERE board_id = ? AND holder = ?", me, C.hostname(), sys.getpid(), now, now, board, cur.holder)
    if n ~= 1 then return nil, ("board %s: another run took over the stale lock of %s"):format(board, cur.holder) end
    opts.took_over = cur.holder
  end
  return { board = board, holder = me, took_over = opts.took_over }
end

function M.heartbeat(db, lock)
  db:exec("UPDATE MON_BoardLock SET heartbeat_at = ? WHERE board_id = ? AND holder = ?", C.now(), lock.board, lock.holder)
end

function M.release(db, lock)
  if not lock then return end
  pcall(db.exec, db, "DELETE FROM MON_BoardLock WHERE board_id = ? AND holder = ?", lock.board, lock.holder)
end

return M
