-- config.lua: monhost.yaml, the user's settings for a sync. Every setting has
-- a default (DEFAULTS below, documented in docs/operations.md); the file only
-- overrides. Relative paths are relative to the file's directory. The monday
-- token comes from the environment (monday.token_env, MONDAY_API_TOKEN by
-- default); a token written in the file is accepted only if the file is not
-- readable by other users, because such a file leaks it to every account on
-- the machine.
local yaml = require "monhost.yaml"
local sys = require "monhost.sys"

local M = {}

M.DEFAULTS = {
  database = {
    connection = nil,     -- ODBC connection string ("Driver=...;...") or
    dsn = nil,            -- an ODBC DSN name (connection wins when both set)
    connection_env = "MONHOST_DATABASE", -- env var that overrides both
    orders_table = "ORDERS_UNIFIED",
  },
  monday = {
    url = "https://api.monday.com/v2",
    api_version = "2026-10",
    token_env = "MONDAY_API_TOKEN",
    token = nil,          -- discouraged; only in a file not readable by others
    timeout = 60,         -- seconds per HTTP request
    concurrency = 4,      -- requests in flight
    create_labels_if_missing = true,
    limit_wait = 3900,    -- seconds a run may wait for monday's hourly item budget before leaving rows PENDING
    graphql = {},         -- other knobs of the GraphQL client (docs/graphql.md), e.g. daily_calls
  },
  boards = {
    items = 9200517329,
    subitems = 9200771505,
    items_metadata = nil,    -- board metadata JSON (columns, types)
    subitems_metadata = nil,
  },
  mappings_dir = "mappings",
  mappings = nil,            -- list of mapping names; nil = every file in mappings_dir
  batch = {
    fetch_size = 500,        -- source rows per fetch
    stage_size = 500,        -- staging rows per insert_many, and per block handed to the GraphQL client
    max_attempts = 5,        -- a row failing this many times is left FAILED for `monhost retry`
  },
  retention_days = 30,       -- FAILED staging rows and batch log rows older than this are removed
  lock = { stale_after = 3600 }, -- seconds after which another host's board lock is taken over
  log = { format = "auto", level = "info" }, -- format: auto (bar on a TTY, JSON otherwise), json, text
}

local function deepcopy(t)
  if type(t) ~= "table" then return t end
  local r = {}
  for k, v in pairs(t) do r[k] = deepcopy(v) end
  return r
end

local function merge(dst, src, path, errs)
  for k, v in pairs(src) do
    local p = path and (path .. "." .. tostring(k)) or tostring(k)
    if v == yaml.null then v = nil end
    local d = dst[k]
    if type(d) == "table" and next(d) ~= nil and #d == 0 then
      if type(v) ~= "table" then errs[#errs + 1] = p .. ": expected a mapping"
      else merge(d, v, p, errs) end
    else
      dst[k] = v
    end
  end
end

local KNOWN = {}
for k, v in pairs(M.DEFAULTS) do KNOWN[k] = type(v) == "table" and #v == 0 and v or true end
KNOWN.mappings = true

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end

local function resolve(base, p)
  if p == nil or p:sub(1, 1) == "/" then return p end
  return base .. "/" .. p
end

-- Load a config. `path` may be nil: then $MONHOST_CONFIG, then ./monhost.yaml,
-- else defaults only. Returns cfg or nil, message.
function M.load(path, opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  local cfg = deepcopy(M.DEFAULTS)
  local explicit = path ~= nil
  path = path or getenv("MONHOST_CONFIG")
  if not path and sys.stat("monhost.yaml") then path = "monhost.yaml" end
  local base = "."
  if path then
    local st = sys.stat(path)
    if not st then return nil, path .. ": no such file" end
    local doc, err = yaml.load_file(path)
    if doc == nil and err then return nil, err end
    if doc ~= nil and doc ~= yaml.null and type(doc) ~= "table" then
      return nil, path .. ": expected a mapping at the top"
    end
    local errs = {}
    for k in pairs(doc or {}) do
      if not KNOWN[k] then errs[#errs + 1] = ("unknown setting %q"):format(tostring(k)) end
    end
    merge(cfg, doc or {}, nil, errs)
    if #errs > 0 then return nil, path .. ": " .. table.concat(errs, "; ") end
    if cfg.monday.token then
      if st.mode & 4 ~= 0 then
        return nil, path .. ": contains monday.token but is readable by every user (mode "
          .. ("%o"):format(st.mode) .. "); move the token to $" .. cfg.monday.token_env
          .. " or chmod o-r the file"
      end
    end
    base = dirname(path)
    cfg.path = path
  elseif explicit then
    return nil, "no config file"
  end
  cfg.base = base
  cfg.mappings_dir = resolve(base, cfg.mappings_dir)
  cfg.boards.items_metadata = resolve(base, cfg.boards.items_metadata)
  cfg.boards.subitems_metadata = resolve(base, cfg.boards.subitems_metadata)
  -- environment wins over the file for secrets and the connection
  local envconn = cfg.database.connection_env and getenv(cfg.database.connection_env)
  if envconn and envconn ~= "" then cfg.database.connection = envconn end
  local tok = cfg.monday.token_env and getenv(cfg.monday.token_env)
  if tok and tok ~= "" then cfg.monday.token = tok end
  local ok, err = M.validate(cfg)
  if not ok then return nil, (path or "config") .. ": " .. err end
  return cfg
end

function M.validate(cfg)
  local function posint(v, name)
    if math.type(v) ~= "integer" or v < 1 then error(name .. " must be a positive integer", 0) end
  end
  local ok, err = pcall(function()
    for _, k in ipairs { "fetch_size", "stage_size", "max_attempts" } do
      posint(cfg.batch[k], "batch." .. k)
    end
    if type(cfg.retention_days) ~= "number" or cfg.retention_days < 0 then
      error("retention_days must be a number >= 0", 0)
    end
    local f = cfg.log.format
    if f ~= "auto" and f ~= "json" and f ~= "text" then error("log.format must be auto, json or text", 0) end
    for _, b in ipairs { "items", "subitems" } do
      local v = cfg.boards[b]
      if v ~= nil and not tostring(v):match("^%d+$") then error("boards." .. b .. " must be a board id", 0) end
      if v ~= nil then cfg.boards[b] = tostring(math.tointeger(v) or v) end
    end
    if cfg.mappings ~= nil and type(cfg.mappings) ~= "table" then error("mappings must be a list of names", 0) end
  end)
  if not ok then return nil, err end
  return true
end

-- The ODBC connection string for cfg.database.
function M.connstr(cfg)
  local d = cfg.database
  if d.connection and d.connection ~= "" then return d.connection end
  if d.dsn and d.dsn ~= "" then return "DSN=" .. d.dsn end
  return nil, "no database configured (database.connection, database.dsn or $" .. (d.connection_env or "MONHOST_DATABASE") .. ")"
end

return M
