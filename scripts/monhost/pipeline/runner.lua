-- pipeline/runner.lua: what `monhost run scripts/sync.lua` does, as a
-- function (scripts/sync.lua is a two-line wrapper; `monhost retry` reuses
-- it): parse the options, load monhost.yaml, connect to the database and to
-- monday, pick the mapping of each customer, take the board lock, run one
-- batch per customer, print the summary, write --summary-json and
-- --metrics-file, and return the exit code:
--   0  every selected order is on the board
--   2  some records failed (listed; they stay in staging for `monhost retry`)
--   1  the run could not proceed (configuration, database, monday, lock)
local cjson = require "cjson"
local log = require "monhost.log"
local sys = require "monhost.sys"
local config = require "monhost.config"
local pipeline = require "monhost.pipeline"
local C = require "monhost.pipeline.common"

local M = {}

M.USAGE = [[
usage: monhost run scripts/sync.lua [--customer NAME | --po PO | --all] [options]
  --customer NAME     one customer (canonical name or a raw CUSTOMER NAME alias)
  --po PO             one order: AAG ORDER NUMBER or PO NUMBER
  --all               every customer with new orders (default)
  --dry-run           print the GraphQL operations and counts; change nothing
  --limit N           at most N orders per customer
  --config FILE       monhost.yaml (default: $MONHOST_CONFIG, ./monhost.yaml)
  --mapping NAME      use this mapping whatever the customer
  --summary-json FILE write the run summary as JSON
  --metrics-file FILE write Prometheus metrics (node_exporter textfile collector)
  --quiet             no progress bars]]

function M.parse(argv)
  local o = { customers = {} }
  local i = 1
  local function val(name)
    i = i + 1
    local v = argv[i]
    if v == nil then error(name .. " needs a value", 0) end
    return v
  end
  while i <= #argv do
    local a = argv[i]
    if a == "--customer" then o.customer = val(a)
    elseif a == "--po" then o.po = val(a)
    elseif a == "--all" then o.all = true
    elseif a == "--dry-run" then o.dry_run = true
    elseif a == "--limit" then o.limit = math.tointeger(tonumber(val(a))) or error("--limit needs an integer", 0)
    elseif a == "--config" then o.config = val(a)
    elseif a == "--mapping" then o.mapping = val(a)
    elseif a == "--summary-json" then o.summary_json = val(a)
    elseif a == "--metrics-file" then o.metrics_file = val(a)
    elseif a == "--quiet" then o.quiet = true
    elseif a == "-h" or a == "--help" then o.help = true
    else error("unknown option " .. a, 0) end
    i = i + 1
  end
  local n = (o.customer and 1 or 0) + (o.po and 1 or 0) + (o.all and 1 or 0)
  if n > 1 then error("--customer, --po and --all exclude each other", 0) end
  return o
end

-- Connect to the database named by the config.
function M.connect(cfg)
  local odbc = require "monhost.odbc"
  local cs, err = config.connstr(cfg)
  if not cs then return nil, err end
  -- psqlODBC fetches `fetch` rows per round trip: keep it at our block size
  -- so memory stays bounded whatever the number of orders
  local db, msg, state = odbc.connect(cs, { fetch = cfg.batch.fetch_size })
  if not db then return nil, ("database: %s%s"):format(tostring(msg), state and (" [" .. state .. "]") or "") end
  return db
end

function M.client(cfg)
  local graphql = require "monhost.graphql"
  if not cfg.monday.token or cfg.monday.token == "" then
    return nil, "no monday token: set $" .. cfg.monday.token_env
  end
  log.add_secret(cfg.monday.token)
  return graphql.client(graphql.options_from_config(cfg.monday))
end

-- Board metadata: the configured JSON file, else the board's columns from monday.
local function board_meta(ctx0, id, path)
  if path then return path end
  local data = require("monhost.pipeline.groups").gql(ctx0,
    "query ($ids: [ID!]) { boards(ids: $ids) { id name columns { id title type settings_str } } }", { ids = { tostring(id) } })
  local b = data.boards and data.boards[1]
  if not b then error("monday: board " .. tostring(id) .. " not found", 0) end
  return b
end

-- Source column list of ORDERS_UNIFIED (for the mapping's checks).
function M.source_columns(db, tbl)
  local cur, err = db:query("SELECT * FROM " .. db:quote_ident(tbl) .. " WHERE 1 = 0")
  if not cur then error(err, 0) end -- the database's message, not this line's
  local cols = cur:columns()
  cur:close()
  return cols
end

-- Load every mapping (or the named one). Returns list of plans.
function M.plans(env, only)
  local mapping = require "monhost.mapping"
  local names = only and { only } or env.cfg.mappings or mapping.list(env.cfg.mappings_dir)
  local plans = {}
  for _, name in ipairs(names) do
    local plan, err = mapping.load(name, { board = env.items_meta, subitem_board = env.subitems_meta,
      columns = env.columns, mappings_dir = env.cfg.mappings_dir })
    if not plan then error("mapping " .. name .. ": " .. tostring(err), 0) end
    plans[#plans + 1] = plan
  end
  -- customers no mapping names fall to the shared default mapping
  local catchall = false
  for _, p in ipairs(plans) do if p.customers == nil then catchall = true end end
  if not only and not env.cfg.mappings and not catchall and sys.stat(env.cfg.mappings_dir .. "/default.lua") then
    local plan, err = mapping.load("default", { board = env.items_meta, subitem_board = env.subitems_meta,
      columns = env.columns, mappings_dir = env.cfg.mappings_dir })
    if not plan then error("mapping default: " .. tostring(err), 0) end
    plans[#plans + 1] = plan
  end
  if #plans == 0 then error("no mappings in " .. tostring(env.cfg.mappings_dir), 0) end
  return plans
end

local function upper(s) return (s or ""):upper() end

-- The batches to run: { {plan=, customer=, customers={raw...}|nil} ... }
function M.batches(env, opts)
  local plans = env.plans
  local covers = function(plan, name)
    for _, c in ipairs(plan.customers or {}) do if upper(c) == upper(name) then return true end end
    if plan.canonical and upper(plan.canonical) == upper(name) then return true end
    return false
  end
  local catchall
  for _, p in ipairs(plans) do if p.customers == nil then catchall = catchall or p end end
  if opts.customer then
    for _, p in ipairs(plans) do
      if covers(p, opts.customer) then return { { plan = p, customer = opts.customer, customers = p.customers } } end
    end
    if catchall then return { { plan = catchall, customer = opts.customer, customers = { opts.customer } } } end
    error("no mapping covers customer " .. opts.customer, 0)
  end
  if opts.po then
    -- one order: the mapping is decided by its customer
    local out = {}
    for _, p in ipairs(plans) do out[#out + 1] = { plan = p, customer = "PO " .. opts.po, customers = p.customers, po = opts.po } end
    return out
  end
  local out, covered = {}, {}
  for _, p in ipairs(plans) do
    if p.customers then
      for _, c in ipairs(p.customers) do covered[upper(c)] = true end
      out[#out + 1] = { plan = p, customer = type(p.canonical) == "string" and p.canonical or p.name, customers = p.customers }
    end
  end
  if catchall then
    local ctx0 = pipeline.context { db = env.db, cfg = env.cfg, plan = catchall, quiet = true }
    for _, name in ipairs(require("monhost.pipeline.select").customers(ctx0)) do
      if not covered[upper(name)] then out[#out + 1] = { plan = catchall, customer = name, customers = { name } } end
    end
  end
  return out
end

-- Write a file atomically (temp + rename): node_exporter must never read half a file.
local function write_atomic(path, text)
  local tmp = path .. ".tmp." .. sys.getpid()
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
end

function M.metrics(summary)
  local t = {}
  local function m(name, help, typ, value, labels)
    t[#t + 1] = ("# HELP monhost_%s %s"):format(name, help)
    t[#t + 1] = ("# TYPE monhost_%s %s"):format(name, typ)
    t[#t + 1] = ("monhost_%s%s %s"):format(name, labels or "", tostring(value))
  end
  m("sync_last_run_timestamp_seconds", "End of the last sync run (unix time).", "gauge", summary.finished_unix)
  m("sync_last_run_success", "1 when the last run synced everything, else 0.", "gauge", summary.exit_code == 0 and 1 or 0)
  m("sync_last_run_exit_code", "Exit code of the last run (0 ok, 2 some records failed, 1 could not proceed).", "gauge", summary.exit_code)
  m("sync_last_run_duration_seconds", "Duration of the last run.", "gauge", ("%.3f"):format(summary.duration))
  m("sync_orders_selected", "Orders selected by the last run.", "gauge", summary.orders)
  m("sync_items_created", "Items created by the last run.", "gauge", summary.items_created)
  m("sync_items_failed", "Items that failed in the last run.", "gauge", summary.items_failed)
  m("sync_subitems_created", "Subitems created by the last run.", "gauge", summary.subitems_created)
  m("sync_subitems_failed", "Subitems that failed in the last run.", "gauge", summary.subitems_failed)
  m("sync_updates", "Orders updated on the board in the last run.", "gauge", summary.updates or 0)
  m("sync_updates_failed", "Updates that failed in the last run.", "gauge", summary.updates_failed or 0)
  m("sync_api_calls", "monday API requests of the last run.", "gauge", summary.api_calls)
  m("sync_complexity_used", "monday complexity points used by the last run.", "gauge", summary.complexity)
  return table.concat(t, "\n") .. "\n"
end

local function summarize(total, opts, code, started, failures, batches)
  local s = {
    orders = total.selected, staged = total.staged, skipped = total.duplicates + total.stage_errors,
    items_created = total.items_created, items_adopted = total.items_adopted, items_failed = total.items_failed,
    subitems = total.subitems_staged, subitems_created = total.subitems_created,
    subitems_adopted = total.subitems_adopted, subitems_failed = total.subitems_failed,
    groups_created = total.groups_created, api_calls = total.api_calls, complexity = math.floor(total.complexity),
    duration = sys.clock() - started, dry_run = opts.dry_run or false, exit_code = code,
    finished_unix = os.time(), batches = batches, failures = failures, peak_rss_kib = sys.peak_rss(),
    -- the update step (docs/changes.md)
    updates = total.updates or 0, updates_failed = total.updates_failed or 0,
    subitems_added = total.subitems_added or 0, items_moved = total.items_moved or 0,
    orders_missing = total.orders_missing or 0, orders_cancelled = total.orders_cancelled or 0,
  }
  return s
end

local function add_stats(total, s)
  for k, v in pairs(s) do if type(v) == "number" then total[k] = (total[k] or 0) + v end end
end

function M.print_summary(s, out)
  out = out or io.stdout
  out:write(("sync %s: %d orders, %d subitems; items created %d (adopted %d), failed %d; subitems created %d (adopted %d), "
    .. "failed %d; skipped %d; %d API calls, complexity %d; %.1f s\n"):format(
    s.dry_run and "(dry run)" or (s.exit_code == 0 and "ok" or "finished with failures"), s.orders, s.subitems,
    s.items_created, s.items_adopted, s.items_failed, s.subitems_created, s.subitems_adopted, s.subitems_failed,
    s.skipped, s.api_calls, s.complexity, s.duration))
  if (s.updates or 0) + (s.updates_failed or 0) + (s.orders_missing or 0) + (s.orders_cancelled or 0) > 0 then
    out:write(("  updates %d, failed %d; subitems added %d; items moved %d; orders missing %d, cancelled %d\n"):format(
      s.updates, s.updates_failed, s.subitems_added, s.items_moved, s.orders_missing, s.orders_cancelled))
  end
  for i, f in ipairs(s.failures) do
    if i > 50 then out:write(("  ... and %d more (monhost status)\n"):format(#s.failures - 50)); break end
    out:write(("  FAILED %s %s: %s\n"):format(f.kind, tostring(f.name), tostring(f.error)))
  end
end

-- Test hook: MONHOST_CRASH_AT="point[:n]" kills this process with SIGKILL
-- the n-th time (default 1st) the run reaches `point`, to prove that a run
-- dying there loses and duplicates nothing. Points: step:<name> (before a
-- step), sending:item|subitem (rows committed SENDING, request not yet
-- sent), results:item|subitem (monday answered, nothing written back),
-- written:item|subitem (ids written back). Not for production use.
function M.crash_hooks(spec)
  if not spec or spec == "" then return nil end
  local point, nth = spec:match("^([^:]+:[^:]+):?(%d*)$")
  if not point then error("MONHOST_CRASH_AT: expected point[:n], got " .. spec, 0) end
  nth = tonumber(nth) or 1
  local seen = 0
  local function at(p)
    if p == point then
      seen = seen + 1
      if seen == nth then io.stdout:flush(); sys.kill(sys.getpid(), 9); sys.sleep(10) end
    end
  end
  return {
    before_step = function(name) at("step:" .. tostring(name)) end,
    after_mark_sending = function(kind) at("sending:" .. kind) end,
    after_results = function(kind) at("results:" .. kind) end,
    after_write_back = function(kind) at("written:" .. kind) end,
  }
end

-- main(argv, extra) -> exit code. extra: {keys=, hooks=, kind=} for retry/tests.
function M.main(argv, extra)
  extra = extra or {}
  local started = sys.clock()
  local okp, opts = pcall(M.parse, argv)
  if not okp then io.stderr:write("monhost sync: ", opts, "\n", M.USAGE, "\n"); return 1 end
  if opts.help then print(M.USAGE); return 0 end
  local env, lock = {}, nil
  local total, failures, batches = pipeline.new_stats(), {}, {}
  extra.hooks = extra.hooks or M.crash_hooks(os.getenv("MONHOST_CRASH_AT"))
  local code = 0
  local ok, err = xpcall(function()
    local cfg = assert(config.load(opts.config))
    env.cfg = cfg
    if cfg.log.format ~= "auto" or cfg.log.level ~= "info" then
      pcall(log.configure, { json = cfg.log.format == "json" or nil, level = cfg.log.level })
    end
    env.db = assert(M.connect(cfg))
    -- the source cursor gets its own connection where the driver needs it:
    -- SQL Server allows one active result per connection, and psqlODBC
    -- reads the rest of an open cursor into memory when the connection
    -- commits (staging commits after every block). SQLite cannot have a
    -- writer next to an open reader on another connection: one connection.
    if env.db.dialect ~= "sqlite" then env.read_db = assert(M.connect(cfg)) end
    env.mon = assert(M.client(cfg))
    local ctx0 = pipeline.context { db = env.db, mon = env.mon, cfg = cfg, quiet = true }
    local ver = pipeline.schema.current(ctx0.db)
    if ver < pipeline.schema.latest(env.db.dialect) then
      error(("database schema is version %d, this monhost needs %d: run `monhost db init`"):format(ver,
        pipeline.schema.latest(env.db.dialect)), 0)
    end
    env.items_meta = board_meta(ctx0, cfg.boards.items, cfg.boards.items_metadata)
    env.subitems_meta = board_meta(ctx0, cfg.boards.subitems, cfg.boards.subitems_metadata)
    env.columns = M.source_columns(ctx0.db, cfg.database.orders_table)
    env.plans = M.plans(env, opts.mapping)
    add_stats(total, ctx0.stats)
    local list = M.batches(env, opts)
    if not opts.dry_run then
      local board = tostring(env.plans[1].board_id or cfg.boards.items)
      lock = assert(pipeline.lock.acquire(ctx0.db, board, { stale_after = cfg.lock.stale_after }))
      if lock.took_over then log.warn("took over a stale board lock", { board = board, from = lock.took_over }) end
    end
    if extra.prepare then extra.prepare(ctx0, env) end
    for _, b in ipairs(list) do
      local ctx = pipeline.context { db = env.db, read_db = env.read_db, mon = env.mon, cfg = cfg, plan = b.plan,
        customer = b.customer, customers = b.customers, po = b.po, keys = extra.keys, limit = opts.limit,
        dry_run = opts.dry_run, hooks = extra.hooks, kind = extra.kind, lock = lock, quiet = opts.quiet }
      log.info("batch", { batch = ctx.batch_id, customer = b.customer, mapping = b.plan.name, board = ctx.board_id })
      pipeline.run_batch(ctx)
      add_stats(total, ctx.stats)
      for _, f in ipairs(ctx.failures) do failures[#failures + 1] = f end
      batches[#batches + 1] = { batch_id = ctx.batch_id, customer = b.customer, mapping = b.plan.name,
        orders = ctx.stats.selected, items_created = ctx.stats.items_created, failed = ctx.stats.items_failed + ctx.stats.subitems_failed }
      if opts.dry_run then
        for _, op in ipairs(ctx.dry_ops) do io.stdout:write(pipeline.render(op), "\n") end
      end
    end
    code = (total.items_failed + total.subitems_failed + (total.updates_failed or 0) > 0) and 2 or 0
  end, function(e) return type(e) == "string" and e or debug.traceback(tostring(e)) end)
  if lock then pipeline.lock.release(env.db, lock) end
  if not ok then
    code = 1
    log.error("sync could not proceed", { error = tostring(err) })
    io.stderr:write("monhost sync: ", log.redact(tostring(err)), "\n")
  end
  local s = summarize(total, opts, code, started, failures, batches)
  if ok then M.print_summary(s) end
  if opts.summary_json then write_atomic(opts.summary_json, cjson.encode(s)) end
  if opts.metrics_file then write_atomic(opts.metrics_file, M.metrics(s)) end
  if env.read_db then env.read_db:close() end
  if env.db then env.db:close() end
  return code
end

return M
