-- cmd/reconcile.lua: `monhost reconcile`, the board vs the sync state.
--   monhost reconcile [--board ID] [--config FILE] [--mapping NAME]
--                     [--fix adopt,forget,relink,drift,duplicates|all] [--dry-run] [--json FILE]
-- Reads every item of the board, matches items to orders on the order key,
-- and reports orphans, duplicates, orders to adopt, items gone, stale links
-- and drift (docs/changes.md). --fix changes the sync state (and archives
-- duplicate items) for the kinds named; --dry-run only says what it would do.
-- Exit: 0 nothing to report (or all of it fixed), 2 problems remain, 1 error.
local cjson = require "cjson"
local log = require "monhost.log"

local M = {}

M.USAGE = [==[
usage: monhost reconcile [--board ID] [--config FILE] [--mapping NAME]
                         [--fix adopt,forget,relink,drift,duplicates|all] [--dry-run] [--json FILE]]==]

function M.parse(args)
  local o = { fix = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    local function val() i = i + 1; return args[i] or error(a .. " needs a value", 0) end
    if a == "--board" then o.board = val()
    elseif a == "--config" then o.config = val()
    elseif a == "--mapping" then o.mapping = val()
    elseif a == "--json" then o.json = val()
    elseif a == "--dry-run" then o.dry_run = true
    elseif a == "--quiet" then o.quiet = true
    elseif a == "--fix" then
      for f in val():gmatch("[^,%s]+") do
        if f == "all" then
          for _, n in ipairs(require("monhost.pipeline.reconcile").FIXES) do o.fix[n] = true end
        else
          local known = false
          for _, n in ipairs(require("monhost.pipeline.reconcile").FIXES) do known = known or n == f end
          if not known then error("--fix: unknown fix " .. f .. " (adopt, forget, relink, drift, duplicates, all)", 0) end
          o.fix[f] = true
        end
      end
    elseif a == "-h" or a == "--help" then o.help = true
    else error("unknown option " .. a, 0) end
    i = i + 1
  end
  return o
end

local function run(o)
  local config = require "monhost.config"
  local runner = require "monhost.pipeline.runner"
  local pipeline = require "monhost.pipeline"
  local R = require "monhost.pipeline.reconcile"
  local cfg = assert(config.load(o.config))
  local db = assert(runner.connect(cfg))
  local ok, res = pcall(function()
    local mon = assert(runner.client(cfg))
    local ctx = pipeline.context { db = db, mon = mon, cfg = cfg, quiet = true, board_id = o.board or cfg.boards.items }
    local function meta(path, id)
      if path then return path end
      local data = require("monhost.pipeline.groups").gql(ctx,
        "query ($ids: [ID!]) { boards(ids: $ids) { id name columns { id title type settings_str } } }", { ids = { tostring(id) } })
      return data.boards and data.boards[1] or error("monday: board " .. tostring(id) .. " not found", 0)
    end
    local cur = assert(db:query("SELECT * FROM " .. db:quote_ident(cfg.database.orders_table) .. " WHERE 1 = 0"))
    local env = { cfg = cfg, items_meta = meta(cfg.boards.items_metadata, ctx.board_id),
      subitems_meta = meta(cfg.boards.subitems_metadata, cfg.boards.subitems), columns = cur:columns() }
    cur:close()
    ctx.plans = runner.plans(env, o.mapping)
    local rep = R.check(ctx)
    io.stdout:write(R.render(rep), "\n")
    local remaining = #rep.orphans + #rep.duplicates + #rep.adoptable + #rep.gone + #rep.relink + #rep.drift
    if next(o.fix) then
      if o.dry_run then
        for _, n in ipairs(R.FIXES) do
          if o.fix[n] then
            local count = ({ adopt = #rep.adoptable, forget = #rep.gone, relink = #rep.relink, drift = #rep.drift,
              duplicates = #rep.duplicates })[n]
            io.stdout:write(("would fix %s: %d\n"):format(n, count))
          end
        end
      else
        local lock = assert(pipeline.lock.acquire(ctx.db, ctx.board_id, { stale_after = cfg.lock.stale_after }))
        local okf, done = pcall(R.fix, ctx, rep, o.fix)
        pipeline.lock.release(ctx.db, lock)
        if not okf then error(done, 0) end
        local parts = {}
        for _, n in ipairs(R.FIXES) do if o.fix[n] then parts[#parts + 1] = n .. " " .. done[n] end end
        io.stdout:write("fixed: ", table.concat(parts, ", "), "\n")
        log.info("reconcile fixed", done)
        remaining = 0
        for n, list in pairs { adopt = rep.adoptable, forget = rep.gone, relink = rep.relink, drift = rep.drift,
          duplicates = rep.duplicates } do
          if not o.fix[n] then remaining = remaining + #list end
        end
        remaining = remaining + #rep.orphans
      end
    end
    if o.json then
      local f = assert(io.open(o.json, "w"))
      f:write(cjson.encode(R.data(rep)))
      f:close()
    end
    mon:close()
    return remaining == 0 and 0 or 2
  end)
  db:close()
  if not ok then error(res, 0) end
  return res
end

function M.main(...)
  local okp, o = pcall(M.parse, { ... })
  if not okp then io.stderr:write("monhost reconcile: ", tostring(o), "\n", M.USAGE, "\n"); return 1 end
  if o.help then print(M.USAGE); return 0 end
  local ok, res = pcall(run, o)
  if not ok then io.stderr:write("monhost reconcile: ", log.redact(tostring(res)), "\n"); return 1 end
  return res
end

return M
