-- pipeline/common.lua: small helpers the pipeline steps share: time stamps,
-- batch ids, dialect-specific SQL fragments, chunked IN lists, JSON.
local cjson = require "cjson"
local sys = require "monhost.sys"

local M = {}

M.NULL = cjson.null

-- Staging row states (see docs/pipeline.md for the state machine).
M.PENDING, M.SENDING, M.CREATED, M.DONE, M.FAILED = "PENDING", "SENDING", "CREATED", "DONE", "FAILED"

function M.now() return os.date("!%Y-%m-%dT%H:%M:%SZ") end

function M.ago(seconds) return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - math.floor(seconds)) end

local hostname
function M.hostname()
  if hostname then return hostname end
  local f = io.open("/proc/sys/kernel/hostname") or io.open("/etc/hostname")
  hostname = f and f:read("l") or "localhost"
  if f then f:close() end
  return hostname
end

-- A batch id that sorts by time and is unique across hosts and processes.
local seq = 0
function M.batch_id()
  seq = seq + 1
  return ("%s-%d-%d"):format(os.date("!%Y%m%dT%H%M%S"), sys.getpid(), seq)
end

-- SELECT with a row limit, in the dialect's words. `rest` is what follows
-- SELECT (columns FROM ... WHERE ... ORDER BY ...).
function M.select_limit(db, rest, n)
  n = math.tointeger(n) or error("limit must be an integer")
  if db.dialect == "sqlserver" then return ("SELECT TOP (%d) %s"):format(n, rest) end
  return ("SELECT %s LIMIT %d"):format(rest, n)
end

-- A text cast of an expression (key columns are compared as text).
function M.text_cast(db, expr)
  if db.dialect == "sqlserver" then return "CAST(" .. expr .. " AS NVARCHAR(300))" end
  if db.dialect == "postgres" then return "CAST(" .. expr .. " AS VARCHAR(300))" end
  return "CAST(" .. expr .. " AS TEXT)"
end

-- A table name for APIs that quote it (insert_many): monhost's own tables
-- are created unquoted, which PostgreSQL folds to lower case.
function M.T(db, name)
  if db.dialect == "postgres" then return name:lower() end
  return name
end

-- "?, ?, ?" for n parameters.
function M.marks(n) return string.rep("?, ", n - 1) .. "?" end

-- Call fn(chunk) for slices of list of at most size.
function M.chunks(list, size, fn)
  for i = 1, #list, size do
    local c = {}
    for j = i, math.min(#list, i + size - 1) do c[#c + 1] = list[j] end
    fn(c)
  end
end

function M.rows_all(db, sql, ...)
  local out = {}
  for row in db:rows(sql, ...) do out[#out + 1] = row end
  return out
end

function M.scalar(db, sql, ...)
  for row in db:rows(sql, ...) do return row[1] end
end

function M.tostr(v)
  if v == nil or v == M.NULL then return nil end
  if math.type(v) == "float" and v == math.floor(v) then return tostring(math.tointeger(v)) end
  return tostring(v)
end

function M.json(v) return cjson.encode(v) end

-- Error text of a per-op result from the GraphQL client.
function M.result_error(r)
  local e = r.error
  if type(e) == "table" then e = e.message or cjson.encode(e) end
  local s = tostring(e or "unknown error")
  if r.code and not s:find(tostring(r.code), 1, true) then s = tostring(r.code) .. ": " .. s end
  return s
end

-- id from a create_item/create_subitem result ({ok=true, data=...}).
function M.result_id(r)
  local d = r.data
  if type(d) ~= "table" then return M.tostr(d) end
  if d.id then return M.tostr(d.id) end
  for _, v in pairs(d) do
    if type(v) == "table" and v.id then return M.tostr(v.id) end
  end
end

-- The pipeline treats every database failure as fatal for the step (the
-- state machine makes a step safe to redo), so it works through a view of
-- the connection whose exec/query/insert_many/update_many raise instead of
-- returning nil, message, sqlstate. insert_many's per-row failures
-- (on_error = "isolate") are still returned in result.failed.
local STRICT = { exec = true, query = true, insert_many = true, update_many = true, begin = true, commit = true }
function M.strict(db)
  if getmetatable(db) == M._strict_mt then return db end
  return setmetatable({ raw = db, dialect = db.dialect }, M._strict_mt)
end
M._strict_mt = {
  __index = function(self, k)
    local raw = rawget(self, "raw")
    local f = raw[k]
    if type(f) ~= "function" then return f end
    local w
    if STRICT[k] then
      w = function(_, ...)
        local r, msg, state = f(raw, ...)
        if r == nil then error(("database: %s%s"):format(tostring(msg), state and (" [" .. tostring(state) .. "]") or ""), 2) end
        return r, msg, state
      end
    else
      w = function(_, ...) return f(raw, ...) end
    end
    rawset(self, k, w)
    return w
  end,
}

return M
