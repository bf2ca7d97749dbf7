-- mapping/repl.lua: REPL commands for trying a mapping on real rows.
--   :mapping greyson      load (and check) mappings/greyson.lua
--   :db CONNSTR           connect to the orders database (else MONHOST_DB or monhost.yaml)
--   :row JOO-00505        fetch ORDERS_UNIFIED rows by AAG ORDER NUMBER (or :row SELECT ...)
--   :try {["AAG ORDER NUMBER"] = "X", ...}   transform a row typed in Lua
--   :board FILE / :subitem_board FILE / :columns FILE.tsv   metadata to check against
-- After :mapping, `plan` is a global (plan:transform(row)) and after :row,
-- `rows` and `rec` hold the last rows and record. :reload picks up edits to
-- the mapping file.
local repl = require "monhost.repl"
local pretty = require "monhost.pretty"

local M = {}

local state = {
  name = nil, plan = nil, db = nil,
  board = os.getenv("MONHOST_BOARD"), subitem_board = os.getenv("MONHOST_SUBITEM_BOARD"),
  columns = os.getenv("MONHOST_COLUMNS"), table = "ORDERS_UNIFIED",
}
M.state = state

local function cfg()
  local ok, config = pcall(require, "monhost.config")
  if not ok or type(config.load) ~= "function" then return nil end
  local path = os.getenv("MONHOST_CONFIG") or "monhost.yaml"
  local f = io.open(path)
  if not f then return nil end
  f:close()
  local c = config.load(path)
  return c, config
end

local function exists(p)
  local f = p and io.open(p)
  if f then f:close() end
  return f ~= nil
end

-- Board files: explicit, else monhost.yaml, else boards/<id>.json.
local function board_paths()
  local b, sb = state.board, state.subitem_board
  local c = cfg()
  if c and c.boards then
    b = b or c.boards.items_metadata
    sb = sb or c.boards.subitems_metadata
  end
  b = b or (exists("boards/9200517329.json") and "boards/9200517329.json") or nil
  sb = sb or (exists("boards/9200771505.json") and "boards/9200771505.json") or nil
  return b, sb
end

local function connect(ctx)
  if state.db then return state.db end
  local connstr = state.connstr or os.getenv("MONHOST_DB")
  if not connstr then
    local c, config = cfg()
    if c and config.connstr then connstr = config.connstr(c) end
    if c and c.database and c.database.orders_table then state.table = c.database.orders_table end
  end
  if not connstr then return nil, "no database: use :db CONNSTR, MONHOST_DB or monhost.yaml" end
  local odbc = require "monhost.odbc"
  local db, err = odbc.connect(connstr)
  if not db then return nil, err end
  state.db = db
  return db
end

local function source_columns()
  if state.columns then return state.columns end
  if state.db then
    local q = state.db.quote_ident and state.db:quote_ident(state.table) or ('"' .. state.table .. '"')
    local ok, cur = pcall(state.db.query, state.db, "SELECT * FROM " .. q .. " WHERE 1=0")
    if ok and cur then
      local cols = cur:columns()
      cur:close()
      return cols
    end
  end
  return nil
end

local function load_mapping(ctx, name)
  local mapping = require "monhost.mapping" -- fresh after :reload
  local b, sb = board_paths()
  local plan, err = mapping.load(name, { board = b, subitem_board = sb, columns = source_columns() })
  if not plan then
    ctx.say("mapping " .. name .. " did not load:\n" .. tostring(err))
    return nil
  end
  state.name, state.plan = name, plan
  ctx.env.plan = plan
  local where = require("monhost.mapping.plan").where
  ctx.say(("mapping %s: %d columns, %d sizes, board %s, key %s"):format(plan.name, #plan.entries, #plan.sizes,
    tostring(plan.board_id), table.concat(plan.key_columns, " + ")))
  for _, p in ipairs(plan.problems) do ctx.say(("  %s: %s: %s"):format(where(p.at), p.severity, p.message)) end
  if not b then ctx.say("  (no board metadata: column types guessed from ids; :board FILE to check)") end
  return plan
end

local function short(v)
  if v == nil then return "nil" end
  if type(v) == "userdata" or v == require("cjson").null then return "NULL" end
  if type(v) == "table" then return require("monhost.colvals").encode(v) end
  local s = tostring(v)
  if #s > 48 then s = s:sub(1, 45) .. "..." end
  return s
end

-- Print one row: source values beside monday values, then name, group,
-- subitems, errors and the GraphQL operation.
function M.show(ctx, plan, row)
  local lines, rec = plan:explain(row)
  local w = 0
  for _, l in ipairs(lines) do if #l.source > w then w = #l.source end end
  w = math.min(w, 44)
  ctx.say(("%-" .. w .. "s  %-24s  ->  %s"):format("source", "value", "monday column = value"))
  for _, l in ipairs(lines) do
    ctx.say(("%-" .. w .. "s  %-24s  ->  %s (%s) = %s"):format(l.source:sub(1, w), short(l.source_value),
      l.column, l.title or "?", short(l.value)))
  end
  ctx.say("item:  " .. tostring(rec.item_name))
  ctx.say("group: " .. tostring(rec.group_name))
  ctx.say("key:   " .. rec.key_text .. "   hash " .. rec.hash)
  local subs = {}
  for _, s in ipairs(rec.subitems) do subs[#subs + 1] = s.name .. " x" .. tostring(s.qty) end
  ctx.say(("subitems (%d): %s"):format(#rec.subitems, table.concat(subs, ", ")))
  if rec.filtered then ctx.say("FILTERED: the mapping's filter rejects this row") end
  for _, e in ipairs(rec.errors) do ctx.say(("ERROR %s: %s"):format(tostring(e.column), e.message)) end
  local q, vars, subops = plan:operation(rec)
  ctx.say("operation:\n" .. q)
  ctx.say("variables: " .. require("monhost.colvals").encode(vars))
  if subops[1] then ctx.say(("then %d create_subitem, first: %s"):format(#subops, require("monhost.colvals").encode(subops[1]))) end
  return rec
end

repl.command("mapping", {
  usage = ":mapping NAME",
  help = "load a mapping (mappings/NAME.lua or a .yaml path); sets `plan`",
  run = function(ctx, arg)
    local name = arg:match("^%s*(%S+)")
    if not name then
      if state.plan then ctx.say("current mapping: " .. state.name) else ctx.say("usage: :mapping NAME") end
      return
    end
    load_mapping(ctx, name)
  end,
})

for _, k in ipairs { "board", "subitem_board", "columns" } do
  repl.command(k, {
    usage = ":" .. k .. " FILE",
    help = k == "columns" and "source column list (TSV: ordinal, name, type) for the next :mapping"
      or ("board metadata JSON for the next :mapping (" .. k .. ")"),
    run = function(ctx, arg)
      local p = arg:match("^%s*(.-)%s*$")
      if p == "" then ctx.say(k .. ": " .. tostring(state[k])) return end
      state[k] = p
      if state.name then load_mapping(ctx, state.name) end
    end,
  })
end

repl.command("db", {
  usage = ":db CONNSTR",
  help = "connect to the orders database (ODBC connection string or DSN=...)",
  run = function(ctx, arg)
    local c = arg:match("^%s*(.-)%s*$")
    if c == "" then ctx.say(state.db and tostring(state.db) or "not connected") return end
    if state.db then pcall(state.db.close, state.db); state.db = nil end
    state.connstr = c
    local db, err = connect(ctx)
    if not db then ctx.say("cannot connect: " .. tostring(err)) return end
    ctx.env.db = db
    ctx.say("connected: " .. tostring(db))
  end,
})

local function need_plan(ctx)
  if state.plan then return state.plan end
  ctx.say("no mapping loaded: :mapping NAME first")
end

repl.command("row", {
  usage = ":row ORDER | :row SELECT ...",
  help = "fetch source rows (by AAG ORDER NUMBER, or a query) and show what the mapping sends",
  run = function(ctx, arg)
    local plan = need_plan(ctx)
    if not plan then return end
    local db, err = connect(ctx)
    if not db then ctx.say(err) return end
    arg = arg:match("^%s*(.-)%s*$"):gsub('^"(.*)"$', "%1")
    local sql, params
    if arg:upper():match("^SELECT%s") then
      sql, params = arg, {}
    else
      local q = function(n) return db.quote_ident and db:quote_ident(n) or ('"' .. n .. '"') end
      sql = ("SELECT * FROM %s WHERE %s = ?"):format(q(state.table), q(plan.key_columns[1]))
      params = { arg }
    end
    local ok, cur, qerr = pcall(db.query, db, sql, table.unpack(params))
    if not ok or not cur then ctx.say("query failed: " .. tostring(ok and qerr or cur)) return end
    local rows = {}
    while #rows < 20 do
      local row = cur:fetch({ named = true })
      if not row then break end
      rows[#rows + 1] = row
    end
    pcall(cur.close, cur)
    ctx.env.rows = rows
    if #rows == 0 then ctx.say("no rows") return end
    for i, row in ipairs(rows) do
      if #rows > 1 then ctx.say(("-- row %d of %d"):format(i, #rows)) end
      ctx.env.rec = M.show(ctx, plan, row)
    end
  end,
})

repl.command("try", {
  usage = ":try {COLUMN = value, ...}",
  help = "transform a row written as a Lua table (or a variable holding one)",
  run = function(ctx, arg)
    local plan = need_plan(ctx)
    if not plan then return end
    local chunk, err = load("return " .. arg, "=try", "t", ctx.env)
    if not chunk then ctx.say(err) return end
    local row = chunk()
    if type(row) ~= "table" then ctx.say("expected a table") return end
    ctx.env.rec = M.show(ctx, plan, row)
  end,
})

-- :reload drops monhost.mapping* from package.loaded; load the mapping again
repl.on_reload(function(ctx)
  if state.name then load_mapping(ctx, state.name) end
end)

M.pretty = pretty
return M
