-- cmd/retry.lua: `monhost retry`, send the failed rows again. Holding the
-- board lock, it
--   * puts FAILED subitems back to PENDING (their parent is on the board);
--   * removes FAILED items from staging and re-selects exactly those orders
--     from ORDERS_UNIFIED, so a fix made in the source (or on the board, or
--     in the mapping) is picked up: they are transformed, staged and sent
--     like new orders;
-- then runs the normal workflow (sync.lua's runner) restricted to them.
-- Exit codes as for sync: 0 all through, 2 some failed again, 1 could not run.
--   monhost retry [--config FILE] [--customer NAME] [--dry-run] [--summary-json FILE] [--metrics-file FILE]
local runner = require "monhost.pipeline.runner"
local C = require "monhost.pipeline.common"

local M = {}

function M.main(...)
  local argv = { ... }
  local keys, dry = {}, false
  for _, a in ipairs(argv) do if a == "--dry-run" then dry = true end end
  local function prepare(ctx0)
    local db = ctx0.db
    local board = ctx0.board_id
    local seen = {}
    for row in db:rows("SELECT DISTINCT key1 FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND state = 'FAILED'", board) do
      local k = C.tostr(row[1])
      if k and not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
    if dry then return end
    db:transaction(function()
      db:exec("UPDATE STG_MON_CustMasterSchedule_Subitems SET state = 'PENDING', updated_at = ? WHERE board_id = ? AND state = 'FAILED'",
        C.now(), board)
      db:exec([[DELETE FROM STG_MON_CustMasterSchedule_Subitems WHERE stg_id IN
        (SELECT stg_id FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND state = 'FAILED')]], board)
      db:exec("DELETE FROM STG_MON_CustMasterSchedule WHERE board_id = ? AND state = 'FAILED'", board)
    end)
  end
  return runner.main(argv, { keys = keys, prepare = prepare, kind = "retry" })
end

return M
