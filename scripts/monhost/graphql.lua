-- graphql.lua: monhost.graphql, the monday GraphQL client. Many aliased
-- mutations go in one document (monday has no bulk create), sized by a
-- governor that learns what each kind of operation costs and keeps within
-- monday's limits (complexity per request and per minute, requests and
-- mutations per minute, concurrency, calls per day). Retries are safe: every
-- mutation request carries an Idempotency-Key that stays the same across its
-- retries. The native half (monhost.graphql_native, host/graphql.c) only
-- moves bytes; every decision is here. See docs/graphql.md.
--
--   local mon = graphql.client{url=, token=, ...}     (knobs: M.defaults)
--   mon:query(doc, vars [, opts])  -> data, errors, meta
--   mon:batch(ops [, opts])        -> results (one per op, input order), summary
--   mon:stream(iter, on_result [, opts]) -> summary
local native = require "monhost.graphql_native"
local cjson = require "cjson"
local sys = require "monhost.sys"
local log = require "monhost.log"

local M = {}

-- Knobs (monhost.yaml: see options_from_config). Times are in seconds.
M.defaults = {
  url = "https://api.monday.com/v2",
  api_version = "2026-10",
  timeout = 60,                  -- one HTTP request, end to end
  connect_timeout = 10,
  concurrency = 4,               -- requests in flight (reads, different boards)
  ca_file = nil,                 -- trust store for TLS (verification is always on)
  complexity_per_request = 5000000,
  complexity_per_minute = 10000000, -- until monday tells us (complexity field)
  mutations_per_minute = 2000,
  requests_per_minute = 5000,
  daily_calls = nil,             -- e.g. 1000 on Basic/Standard; nil = not limited
  window = 60,                   -- length of a per-minute window (until learned)
  margin = 0.03,                 -- fraction of budget kept spare for estimate error
  max_ops_per_request = 1000,    -- aliases in one document
  initial_op_cost = 30000,       -- cost guess for a mutation never seen before
  initial_query_cost = 1000,
  max_attempts = 8,              -- tries of one request on transient failures
  max_wait = 900,                -- total time one request may spend waiting on limits
  backoff_base = 0.5,            -- full-jitter exponential backoff: base * 2^n ...
  backoff_cap = 30,              -- ... capped
  retry_op_errors = true,        -- re-send ops whose own error was a 5xx (new request)
  max_op_attempts = 3,
  buffer = 4000,                 -- ops stream() reads ahead of what is sent
  board_serial = true,           -- mutations on one board never overlap
}

-- Argument types of the mutations monhost sends, from monday's schema
-- (API 2026-10; tests check them against the published SDL). Variables are
-- declared with these types so values never enter the document text.
M.arg_types = {
  create_item = { board_id = "ID!", item_name = "String!", group_id = "String",
    column_values = "JSON", create_labels_if_missing = "Boolean",
    position_relative_method = "PositionRelative", relative_to = "ID" },
  create_subitem = { parent_item_id = "ID!", item_name = "String!", column_values = "JSON",
    create_labels_if_missing = "Boolean" },
  change_multiple_column_values = { item_id = "ID", board_id = "ID!", column_values = "JSON!",
    create_labels_if_missing = "Boolean" },
  change_simple_column_value = { item_id = "ID", board_id = "ID!", column_id = "String!",
    value = "String", create_labels_if_missing = "Boolean" },
  change_column_value = { item_id = "ID", board_id = "ID!", column_id = "String!", value = "JSON!",
    create_labels_if_missing = "Boolean" },
  create_group = { board_id = "ID!", group_name = "String!", group_color = "String",
    position = "String", position_relative_method = "PositionRelative", relative_to = "String" },
  move_item_to_group = { item_id = "ID", group_id = "String!" },
  archive_item = { item_id = "ID" },
  delete_item = { item_id = "ID" },
  duplicate_item = { board_id = "ID!", item_id = "ID", with_updates = "Boolean" },
  archive_group = { board_id = "ID!", group_id = "String!" },
  delete_group = { board_id = "ID!", group_id = "String!" },
}

-- Parse `type Mutation { ... }` (or another type) of an SDL text into
-- {field = {arg = "Type"}}; used by tests and by client{schema=FILE}.
function M.sdl_arg_types(sdl, typename)
  typename = typename or "Mutation"
  local body = sdl:match("\ntype%s+" .. typename .. "%s*{(.-)\n}")
  if not body then return nil, "no type " .. typename end
  -- drop descriptions ("..." and """...""") so only names and types remain
  body = body:gsub('"""(.-)"""', ""):gsub('"[^"\n]*"', "")
  local out = {}
  for name, args in body:gmatch("([%a_][%w_]*)%s*(%b())%s*:") do
    local t = {}
    for a, ty in args:sub(2, -2):gmatch("([%a_][%w_]*)%s*:%s*([%[%]%w_!]+)") do t[a] = ty end
    out[name] = t
  end
  return out
end

-- ---------------------------------------------------------------------------
-- The governor: what may be sent now. All times come from `clock`, so tests
-- drive it with a fake one.

local Gov = {}
Gov.__index = Gov

-- One per-window limit (complexity, requests, mutations, daily).
local function limit(lim, window)
  return { limit = lim, remaining = lim, reset_at = nil, reserved = 0, window = window }
end

function M.governor(cfg, clock)
  local g = setmetatable({ cfg = cfg, clock = clock or sys.clock, costs = {}, qcosts = {}, ecache = {} }, Gov)
  g.limits = {
    complexity = limit(cfg.complexity_per_minute, cfg.window),
    requests = limit(cfg.requests_per_minute, cfg.window),
    mutations = limit(cfg.mutations_per_minute, cfg.window),
    daily = limit(cfg.daily_calls, 86400),
  }
  return g
end

function Gov:roll(now)
  for _, l in pairs(self.limits) do
    if l.reset_at and now >= l.reset_at then
      l.remaining, l.reset_at = l.limit, nil
    end
  end
end

function Gov:available(name, now)
  local l = self.limits[name]
  if not l.limit then return math.huge end
  self:roll(now or self.clock())
  return l.remaining - l.reserved
end

-- Server facts about one limit: remaining r after this request, reset in t
-- seconds from `now`. Out-of-order replies within one window keep the lowest
-- remaining; a later reset means a new window.
function Gov:sync(name, r, t, now, lim)
  local l = self.limits[name]
  if lim and lim > 0 then l.limit = lim end
  if not l.limit then return end
  self:roll(now)
  local reset = t and now + t or nil
  if l.reset_at and reset and reset <= l.reset_at + 1 and now < l.reset_at then
    l.remaining = math.min(l.remaining, r)
    l.reset_at = math.min(l.reset_at, reset)
  else
    l.remaining = r
    l.reset_at = reset or l.reset_at
  end
end

-- A limit is spent until `at` (429 with retry_in_seconds).
function Gov:block(name, at)
  local l = self.limits[name]
  l.remaining = 0
  if not l.limit then l.limit = 0 end
  l.reset_at = math.max(l.reset_at or 0, at)
end

-- Cost model per mutation field: cost = a + b * column_values, fitted by
-- least squares over the requests seen (each weighted by its op count).
-- While every observation had the same column count the slope is unknown,
-- so ops with more columns are scaled up proportionally (never under).
-- Estimates are memoised per (field, column count) until the next learn:
-- a batch asks for the same few values thousands of times.
function Gov:estimate(field, ncols)
  ncols = ncols or 0
  local c = self.ecache[field]
  local v = c and c[ncols]
  if v then return v end
  v = self:estimate_now(field, ncols)
  if not c then c = {}; self.ecache[field] = c end
  c[ncols] = v
  return v
end

function Gov:estimate_now(field, ncols)
  local s = self.costs[field]
  local est
  if not s then -- a field never seen: assume the dearest one known
    local best = 0
    for _, o in pairs(self.costs) do best = math.max(best, o.Sy / o.W) end
    est = best > 0 and best or self.cfg.initial_op_cost
  else
    local xm, ym = s.Sx / s.W, s.Sy / s.W
    local var = s.Sxx / s.W - xm * xm
    if var > 0.25 then
      local b = math.max(0, (s.Sxy / s.W - xm * ym) / var)
      est = math.max(ym + b * (ncols - xm), s.ymin)
    else
      est = ym * math.max(1, (ncols + 1) / (xm + 1))
    end
  end
  return est * (1 + self.cfg.margin)
end

-- Learn from a request: items = {{field=, ncols=}, ...}, q = its cost.
function Gov:learn(items, q)
  if not q or q <= 0 or #items == 0 then return end
  local by, total = {}, 0
  for _, it in ipairs(items) do
    local e = by[it.field]
    if not e then e = { n = 0, c = 0, est = 0 }; by[it.field] = e end
    e.n, e.c = e.n + 1, e.c + (it.ncols or 0)
    local x = self:estimate(it.field, it.ncols)
    e.est, total = e.est + x, total + x
  end
  for field, e in pairs(by) do
    local share = total > 0 and q * e.est / total or q / #items
    local s = self.costs[field]
    if not s then s = { W = 0, Sx = 0, Sy = 0, Sxx = 0, Sxy = 0, ymin = math.huge }; self.costs[field] = s end
    local x, y, w = e.c / e.n, share / e.n, e.n
    s.W, s.Sx, s.Sy = s.W + w, s.Sx + w * x, s.Sy + w * y
    s.Sxx, s.Sxy = s.Sxx + w * x * x, s.Sxy + w * x * y
    s.ymin = math.min(s.ymin, y)
  end
  self.ecache = {}
end

function Gov:query_estimate(doc)
  return (self.qcosts[doc] or self.cfg.initial_query_cost) * (1 + self.cfg.margin)
end

-- How many of ops[first..] fit one request now. Returns n (>= 1), or 0 and
-- the time to look again. `nmut` tells whether the ops count as mutations.
function Gov:fit(ops, first, last, now, mutation)
  local cfg = self.cfg
  if self:available("daily", now) < 1 then return 0, nil, "daily" end
  local wake = math.huge
  local function wait_for(name)
    local l = self.limits[name]
    wake = math.min(wake, l.reset_at or (now + 1))
  end
  if self:available("requests", now) < 1 then wait_for("requests"); return 0, wake end
  local cap = cfg.complexity_per_request * (1 - cfg.margin)
  local budget = math.min(cap, self:available("complexity", now))
  local maxn = math.min(cfg.max_ops_per_request, last - first + 1)
  if mutation then
    local m = self:available("mutations", now)
    if m < 1 then wait_for("mutations"); return 0, wake end
    maxn = math.min(maxn, math.floor(m))
  end
  local n, sum = 0, 0
  while n < maxn do
    local op = ops[first + n]
    local e = op.est or self:estimate(op.field, op.ncols)
    if sum + e > budget then break end
    sum, n = sum + e, n + 1
  end
  if n == 0 then
    local e = ops[first].est or self:estimate(ops[first].field, ops[first].ncols)
    local l = self.limits.complexity
    -- an op dearer than a whole request goes alone once the budget is full
    if e > cap and self:available("complexity", now) >= math.min(l.limit or math.huge, cfg.complexity_per_request) * (1 - cfg.margin) then
      return 1, nil
    end
    wait_for("complexity")
    return 0, wake
  end
  return n, nil
end

-- Can a ready-made request (a retry, a query) of cost `est` go now?
function Gov:admit(est, nmut, now)
  if self:available("daily", now) < 1 then return false, nil, "daily" end
  local wake = math.huge
  local function need(name, amount)
    if self:available(name, now) < amount then
      local l = self.limits[name]
      wake = math.min(wake, l.reset_at or (now + 1))
      return false
    end
    return true
  end
  local full = math.min(self.limits.complexity.limit or math.huge, self.cfg.complexity_per_request)
  local ok = need("requests", 1)
  ok = need("complexity", math.min(est, full * (1 - self.cfg.margin))) and ok
  if nmut > 0 then ok = need("mutations", math.min(nmut, self.limits.mutations.limit or nmut)) and ok end
  if ok then return true end
  return false, wake
end

function Gov:reserve(req, now)
  for name, amount in pairs({ complexity = req.est, requests = 1, mutations = req.nmut, daily = 1 }) do
    local l = self.limits[name]
    if l.limit then
      l.reserved = l.reserved + amount
      if not l.reset_at then l.reset_at = now + l.window end -- a window starts with its first call
    end
  end
  req.reserved = true
end

function Gov:release(req)
  if not req.reserved then return end
  req.reserved = false
  for name, amount in pairs({ complexity = req.est, requests = 1, mutations = req.nmut, daily = 1 }) do
    local l = self.limits[name]
    if l.limit then
      l.reserved = math.max(0, l.reserved - amount)
      -- what the server did not tell us about, count ourselves
      if not req.synced or not req.synced[name] then l.remaining = l.remaining - amount end
    end
  end
end

-- RateLimit: "complexity";r=9000;t=40, "requests";r=..;t=..
-- RateLimit-Policy: "complexity";q=10000000;w=60, ...
function M.parse_ratelimit(h, policy)
  local out = {}
  for name, params in (h or ""):gmatch('"([%w_%-]+)";([^,]*)') do
    out[name] = { remaining = tonumber(params:match("r=(%-?[%d.]+)")), reset = tonumber(params:match("t=([%d.]+)")) }
  end
  for name, params in (policy or ""):gmatch('"([%w_%-]+)";([^,]*)') do
    out[name] = out[name] or {}
    out[name].limit = tonumber(params:match("q=([%d.]+)"))
    out[name].window = tonumber(params:match("w=([%d.]+)"))
  end
  return out
end

-- After a reply: release the reservation and believe the server.
function Gov:observe(req, resp, now, complexity)
  req.synced = {}
  local rl = M.parse_ratelimit(resp.headers and resp.headers["ratelimit"], resp.headers and resp.headers["ratelimit-policy"])
  for name, f in pairs(rl) do
    if self.limits[name] and f.remaining then
      self:sync(name, f.remaining, f.reset, now, f.limit)
      req.synced[name] = true
    end
  end
  if complexity and complexity.after then
    self:sync("complexity", complexity.after, complexity.reset_in_x_seconds, now)
    req.synced.complexity = true
    if req.items then self:learn(req.items, complexity.query)
    elseif req.doc_key and complexity.query then self.qcosts[req.doc_key] = complexity.query end
  end
  self:release(req)
end

-- ---------------------------------------------------------------------------
-- Documents

local CX_ALIAS = "mh_complexity"
local CX_FIELD = CX_ALIAS .. ":complexity{query before after reset_in_x_seconds}"

-- Put the complexity field into the operation's top selection set (after the
-- first "{" outside parentheses, strings and comments).
local function inject_complexity(doc)
  local i, n, depth = 1, #doc, 0
  local head = doc:match("^%s*(%a*)")
  if head == "fragment" or head == "subscription" then return doc, false end
  while i <= n do
    local c = doc:sub(i, i)
    if c == '"' then
      if doc:sub(i, i + 2) == '"""' then
        local e = doc:find('"""', i + 3, true); if not e then return doc, false end; i = e + 2
      else
        local j = i + 1
        while j <= n and doc:sub(j, j) ~= '"' do j = j + (doc:sub(j, j) == "\\" and 2 or 1) end
        i = j
      end
    elseif c == "#" then
      i = doc:find("\n", i, true) or n
    elseif c == "(" then depth = depth + 1
    elseif c == ")" then depth = depth - 1
    elseif c == "{" and depth == 0 then
      return doc:sub(1, i) .. CX_FIELD .. " " .. doc:sub(i + 1), true
    end
    i = i + 1
  end
  return doc, false
end
M.inject_complexity = inject_complexity

local function count_keys(v)
  if type(v) == "string" then
    local ok, t = pcall(cjson.decode, v)
    v = ok and t or nil
  end
  if type(v) ~= "table" then return 0 end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n
end

-- Build one aliased mutation document with typed variables (in C: see
-- native.build). ops is a list of prepared ops (see Job:prepare), spec the
-- client's compiled schema (client.spec); returns the request body,
-- deterministic: the same ops always give the same bytes, so a replay
-- matches. The document is
--   mutation($a_1:T,...){\nop1:field(a:$a_1,...){select}\n...\nmh_complexity:...}
-- with variables sorted by name.
function M.build_mutation(ops, spec, n)
  return native.build(spec, ops, n)
end

-- ---------------------------------------------------------------------------
-- Client

local Client = {}
Client.__index = Client
Client.__name = "monhost.graphql.client"
Client.__tostring = function(c) return "graphql client " .. c.cfg.url end

local OWN_KEYS = { token = true, engine = true, clock = true, sleep = true, schema = true, random = true }

function M.client(opts)
  opts = opts or {}
  local cfg = {}
  for k, v in pairs(M.defaults) do cfg[k] = v end
  for k, v in pairs(opts) do
    if M.defaults[k] == nil and not OWN_KEYS[k] and k ~= "daily_calls" and k ~= "ca_file" then
      error("graphql.client: unknown option " .. tostring(k), 2)
    end
    if not OWN_KEYS[k] then cfg[k] = v end
  end
  local types = {}
  for f, t in pairs(M.arg_types) do types[f] = t end
  if opts.schema then
    local fh = assert(io.open(opts.schema))
    local extra = assert(M.sdl_arg_types(fh:read("a")))
    fh:close()
    for f, t in pairs(extra) do types[f] = types[f] or t end
  end
  local engine = opts.engine
  if not engine then
    local token = opts.token or os.getenv("MONDAY_API_TOKEN")
    if not token or token == "" then
      error("graphql.client: no monday token (pass token= or set MONDAY_API_TOKEN)", 2)
    end
    log.add_secret(token)
    engine = native.engine { token = token, ca_file = cfg.ca_file, connect_timeout = cfg.connect_timeout,
      max_host_connections = cfg.concurrency, user_agent = "monhost" }
  end
  local clock = opts.clock or sys.clock
  local self = setmetatable({
    cfg = cfg, engine = engine, clock = clock, sleep = opts.sleep or sys.sleep,
    random = opts.random or math.random, types = types, spec = native.spec(types),
  }, Client)
  self.gov = M.governor(cfg, clock)
  return self
end

-- The knobs from monhost.yaml's `monday:` section (url, api_version,
-- timeout, concurrency, ca_file) and its `graphql:` sub-table (every other
-- key of M.defaults); keys the client does not know are ignored here.
function M.options_from_config(monday)
  local o = {}
  monday = monday or {}
  for k, v in pairs(monday) do if M.defaults[k] ~= nil or k == "ca_file" or k == "daily_calls" then o[k] = v end end
  for k, v in pairs(monday.graphql or {}) do o[k] = v end
  o.token = monday.token
  return o
end

function Client:close()
  if self.engine and self.engine.close then self.engine:close() end
end
Client.__close = Client.close

function Client:new_key()
  return native.random_hex(16)
end

local function headers_for(self, req)
  local h = { "API-Version: " .. self.cfg.api_version }
  if req.key then h[#h + 1] = "Idempotency-Key: " .. req.key end
  return h
end

local function backoff(self, attempt)
  local cap = math.min(self.cfg.backoff_cap, self.cfg.backoff_base * 2 ^ (attempt - 1))
  return self.random() * cap
end

-- Classify a finished HTTP exchange. Returns a table:
--   kind = "ok" (body parsed) | "retry" (same request again later)
--        | "split" (too complex: send its ops in smaller requests)
--        | "fail" (every op fails) | "stop" (end the job: daily limit, auth)
--   code, message, wait (seconds), executed (true/false/"unknown")
local RETRY_CODES = {
  RATE_LIMIT_EXCEEDED = true, maxConcurrencyExceeded = true, RESOURCE_LOCKED = true,
  IDEMPOTENCY_REQUEST_IN_PROGRESS = true, INTERNAL_SERVER_ERROR = true,
  COMPLEXITY_BUDGET_EXHAUSTED = true, ComplexityException = true,
}
M.RETRY_CODES = RETRY_CODES

local function first_error(body)
  local e = type(body) == "table" and type(body.errors) == "table" and body.errors[1]
  if type(e) ~= "table" then return nil end
  local ext = type(e.extensions) == "table" and e.extensions or {}
  return e, ext.code or e.error_code, ext
end

function M.classify(resp, mutation)
  local r = {}
  if resp.status == 0 then
    -- never reached monday, or the connection broke: it may have executed
    r.kind, r.code, r.message = "retry", "TRANSPORT", resp.error or "transport failure"
    r.executed = (resp.uploaded or 0) > 0 and "unknown" or false
    return r
  end
  local ok, body = pcall(cjson.decode, resp.body or "")
  if not ok or type(body) ~= "table" then body = nil end
  local e, code, ext = first_error(body)
  local after = tonumber(resp.headers and resp.headers["retry-after"])
  r.code = code or ("HTTP_" .. resp.status)
  r.message = e and tostring(e.message) or ("HTTP " .. resp.status)
  r.wait = tonumber(ext and ext.retry_in_seconds) or after
  r.body = body
  if code == "DAILY_LIMIT_EXCEEDED" or resp.status == 401 or resp.status == 403 then
    r.kind, r.executed = "stop", false
  elseif code == "COMPLEXITY_BUDGET_EXHAUSTED" or code == "ComplexityException" then
    r.kind, r.executed = "retry", false
  elseif code == "maxComplexityExceeded" or (r.message:find("exceeds max complexity", 1, true) and not (body and body.data)) then
    r.kind, r.executed = "split", false
    r.cost = tonumber(ext and ext.complexity) or tonumber(r.message:match("complexity of (%d+)"))
  elseif resp.status == 429 or resp.status == 423 or resp.status >= 500
      or (resp.status == 409 and code == "IDEMPOTENCY_REQUEST_IN_PROGRESS") then
    r.kind, r.executed = "retry", resp.status >= 500 and "unknown" or false
  elseif resp.status == 200 and not body then
    r.kind, r.code, r.message, r.executed = "retry", "BAD_RESPONSE", "reply is not complete JSON", "unknown"
  elseif resp.status == 200 and body and body.data ~= nil and body.data ~= cjson.null then
    r.kind = "ok"
  elseif resp.status == 200 and body and e and not (body.data and body.data ~= cjson.null)
      and RETRY_CODES[code] and not (e.path) then
    r.kind, r.executed = "retry", false
  else
    r.kind, r.executed = "fail", resp.status >= 400 and false or "unknown"
    if resp.status == 200 and body and body.data == nil then r.executed = false end
  end
  return r
end

-- ---------------------------------------------------------------------------
-- The job: lanes of ops, requests in flight, retries waiting.

local Job = {}
Job.__index = Job

local function new_job(client, opts)
  local j = setmetatable({
    c = client, cfg = client.cfg, gov = client.gov, opts = opts or {},
    lanes = {}, lane_order = {}, inflight = {}, nflight = 0, waiting = {},
    busy = {}, nbusy_mut = 0, queued = 0, done = 0, failed = 0, okn = 0, total = nil,
    started = client.clock(), requests = 0,
  }, Job)
  return j
end

-- Prepare a caller's op (in C: native.prepare): check it against the
-- schema (unknown field, unknown or missing argument, select), snapshot its
-- arguments as JSON (so retries send the same bytes), find its lane.
-- p = {i=, op=, field=, lane=, key=, ncols=, attempts=, enc=}
function Job:prepare(op, i)
  local p = native.prepare(self.c.spec, op, i, self.cfg.board_serial)
  if not p.ncols then p.ncols = count_keys(op.args.column_values) end -- a JSON string
  return p
end

function Job:enqueue(p)
  local lane = self.lanes[p.lane]
  if not lane then
    lane = { name = p.lane, q = {}, head = 1, tail = 0 } -- q[head..tail]
    self.lanes[p.lane] = lane
    self.lane_order[#self.lane_order + 1] = lane
  end
  lane.tail = lane.tail + 1
  lane.q[lane.tail] = p
  self.queued = self.queued + 1
end

-- put ops back at the front of their lanes, in input order
function Job:requeue(list)
  table.sort(list, function(a, b) return a.i > b.i end)
  for _, p in ipairs(list) do
    local lane = self.lanes[p.lane]
    lane.head = lane.head - 1
    if lane.head < 1 then table.insert(lane.q, 1, p); lane.head = 1; lane.tail = lane.tail + 1 else lane.q[lane.head] = p end
    self.queued = self.queued + 1
  end
end

function Job:lane_free(lane)
  if not self.cfg.board_serial then return true end
  if self.busy[lane.name] then return false end
  if lane.name == "?" then return self.nbusy_mut == 0 end -- unknown board: alone
  return not self.busy["?"]
end

function Job:finish_op(p, res)
  res.key = res.key or p.sent_key
  self.done = self.done + 1
  if res.ok then self.okn = self.okn + 1 else self.failed = self.failed + 1 end
  if self.opts.on_result then self.opts.on_result(p.i, res, p.op) end
  if self.bar then self.bar:add(1) end
  if type(self.opts.progress) == "function" then self.opts.progress(self.done, self.total) end
end

function Job:take_chunk(lane, now)
  local q, h = lane.q, lane.head
  local last = lane.tail
  local first = q[h]
  if first.key then -- a caller-chosen key: exactly the ops that share it
    local n = 0
    while h + n <= last and q[h + n].key == first.key do n = n + 1 end
    local est = 0
    for k = h, h + n - 1 do est = est + self.gov:estimate(q[k].field, q[k].ncols) end
    local okk, wake, why = self.gov:admit(est, n, now)
    if not okk then return nil, wake, why end
    return n
  end
  -- a request never takes more than max_ops_per_request: look no further
  local lim = math.min(last, h + self.cfg.max_ops_per_request - 1)
  for k = h, lim do if q[k].key then lim = k - 1; break end end
  local n, wake, why = self.gov:fit(q, h, lim, now, true)
  if n and self.split_cap and n > self.split_cap then n = self.split_cap end
  return n, wake, why
end

function Job:send(req, now)
  local c = self.c
  if not req.sent_once then
    req.sent_once = true
    if self.opts.before_send and req.ops then
      local ids = {}
      for k, p in ipairs(req.ops) do ids[k] = p.i end
      self.opts.before_send({ key = req.key, ops = ids, kind = req.kind, lane = req.lane, body = req.body })
    end
  end
  req.attempts = req.attempts + 1
  req.sent_at = now
  req.first_sent = req.first_sent or now
  self.gov:reserve(req, now)
  local id = c.engine:submit { url = c.cfg.url, body = req.body, headers = headers_for(c, req), timeout = c.cfg.timeout }
  self.inflight[id] = req
  self.nflight = self.nflight + 1
  if req.lane then
    if not self.busy[req.lane] then
      self.busy[req.lane] = true
      if req.kind == "mutation" then self.nbusy_mut = self.nbusy_mut + 1 end
    end
  end
  self.requests = self.requests + 1
end

function Job:free_lane(req)
  if req.lane and self.busy[req.lane] then
    self.busy[req.lane] = nil
    if req.kind == "mutation" then self.nbusy_mut = self.nbusy_mut - 1 end
  end
end

-- Build a request from the next chunk of a lane.
function Job:chunk_request(lane, n)
  local ops = {}
  local est = 0
  local q, head, gov = lane.q, lane.head, self.gov
  for k = 1, n do
    local p = q[head]
    q[head] = nil
    head = head + 1
    ops[k] = p
    est = est + gov:estimate(p.field, p.ncols)
  end
  lane.head = head
  if lane.head > lane.tail then lane.q, lane.head, lane.tail = {}, 1, 0 end
  self.queued = self.queued - n
  local body = native.build(self.c.spec, ops, n)
  local key = ops[1].key or self.c:new_key()
  for _, p in ipairs(ops) do p.sent_key = key; p.attempts = p.attempts + 1 end
  return {
    kind = "mutation", lane = lane.name, ops = ops, items = ops, body = body, key = key, -- items: {field=, ncols=} for learn
    est = est, nmut = n, attempts = 0, waited = 0,
  }
end

-- Try to start requests; returns the earliest time something could start.
function Job:dispatch(now)
  local wake = math.huge
  if self.stopped then return wake end
  -- retries and single requests first: they hold their lanes already
  local keep = {}
  for _, req in ipairs(self.waiting) do
    if self.stopped then keep[#keep + 1] = req
    elseif req.not_before > now or self.nflight >= self.cfg.concurrency then
      keep[#keep + 1] = req
      wake = math.min(wake, math.max(req.not_before, now + 0.001))
    else
      local okk, w, why = self.gov:admit(req.est, req.nmut, now)
      if okk then self:send(req, now)
      elseif why == "daily" then self:stop("DAILY_LIMIT_EXCEEDED", "daily call limit reached (known from earlier replies)"); keep[#keep + 1] = req
      else keep[#keep + 1] = req; wake = math.min(wake, w or now + 1) end
    end
  end
  self.waiting = keep
  for _, lane in ipairs(self.lane_order) do
    if self.stopped or self.nflight >= self.cfg.concurrency then break end
    if lane.head <= lane.tail and self:lane_free(lane) then
      local n, w, why = self:take_chunk(lane, now)
      if why == "daily" then
        self:stop("DAILY_LIMIT_EXCEEDED", "daily call limit reached (known from earlier replies)")
      elseif n and n > 0 then
        self:send(self:chunk_request(lane, n), now)
      else
        wake = math.min(wake, w or now + 1)
      end
    end
  end
  return wake
end

function Job:stop(code, message)
  if self.stopped then return end
  self.stopped = { code = code, message = message }
  log.error("monday job stopped: " .. message, { code = code })
end

-- A request is over (success or final failure).
function Job:request_done(req, resp, info)
  self:free_lane(req)
  if self.opts.on_request then
    self.opts.on_request({
      key = req.key, ops = req.ops and (function() local t = {} for k, p in ipairs(req.ops) do t[k] = p.i end return t end)(),
      status = resp and resp.status, attempts = req.attempts, complexity = info and info.complexity,
      request_id = info and info.request_id, elapsed = self.c.clock() - (req.first_sent or self.c.clock()),
      error = info and info.error, code = info and info.code,
    })
  end
end

function Job:fail_ops(req, cls, retryable)
  for _, p in ipairs(req.ops or {}) do
    self:finish_op(p, { ok = false, error = cls.message, code = cls.code, retryable = retryable,
      sent = cls.executed, key = req.key })
  end
end

function Job:handle(req, resp, now)
  local cls = M.classify(resp, req.kind == "mutation")
  local complexity, request_id
  if cls.body and type(cls.body.data) == "table" then
    complexity = cls.body.data[CX_ALIAS]
    if complexity == cjson.null then complexity = nil end
  end
  if cls.body and type(cls.body.extensions) == "table" then request_id = cls.body.extensions.request_id end
  request_id = request_id or (resp.headers and (resp.headers["x-request-id"] or resp.headers["request-id"]))
  self.gov:observe(req, resp, now, complexity)
  req.last = { status = resp.status, code = cls.code, complexity = complexity, request_id = request_id,
    headers = resp.headers, elapsed = resp.elapsed }
  if cls.code == "COMPLEXITY_BUDGET_EXHAUSTED" or cls.code == "ComplexityException" then
    self.gov:block("complexity", now + (cls.wait or 1))
  elseif cls.code == "RATE_LIMIT_EXCEEDED" then
    self.gov:block("requests", now + (cls.wait or 1))
  end
  if cls.kind == "ok" then
    self:request_done(req, resp, { complexity = complexity, request_id = request_id })
    if req.ops then return self:deliver(req, cls.body) end
    req.result = cls.body
    return
  elseif cls.kind == "retry" then
    local budget_wait = cls.code == "COMPLEXITY_BUDGET_EXHAUSTED" or cls.code == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    local exhausted = (not budget_wait and req.attempts >= self.cfg.max_attempts)
      or (now - req.first_sent) > self.cfg.max_wait
    if not exhausted then
      local delay = backoff(self.c, budget_wait and 1 or req.attempts)
      if cls.wait then delay = cls.wait + self.c.random() * self.cfg.backoff_base * 0.2 end
      req.not_before = now + delay
      log.debug("monday request retry", { code = cls.code, attempt = req.attempts, wait = delay, key = req.key })
      self.waiting[#self.waiting + 1] = req -- keeps its lane busy
      return
    end
    cls.message = cls.message .. " (gave up after " .. req.attempts .. " attempts)"
  elseif cls.kind == "split" then
    if req.ops and #req.ops > 1 and not req.ops[1].key then
      if cls.cost then self.gov:learn(req.items, cls.cost) end
      self:request_done(req, resp, { code = cls.code })
      for _, p in ipairs(req.ops) do p.attempts = p.attempts - 1 end
      -- halve at least, even if the learned cost says otherwise
      self.split_cap = math.max(1, math.floor(#req.ops / 2))
      return self:requeue(req.ops)
    end
  elseif cls.kind == "stop" then
    self:stop(cls.code, cls.message)
    cls.executed = false
  end
  self:request_done(req, resp, { error = cls.message, code = cls.code, request_id = request_id })
  if req.ops then
    self:fail_ops(req, cls, cls.kind == "retry" or cls.kind == "stop")
  else
    req.result, req.failure = cls.body, cls
  end
end

-- "op1", "op2", ...: made once
local ALIAS = setmetatable({}, { __index = function(t, k) local s = "op" .. k; t[k] = s; return s end })

-- Map data.opK / errors[path[1] = opK] to the ops of a request.
function Job:deliver(req, body)
  local errs = {}
  local general
  for _, e in ipairs(type(body.errors) == "table" and body.errors or {}) do
    local p1 = type(e.path) == "table" and e.path[1]
    local k = type(p1) == "string" and tonumber(p1:match("^op(%d+)$"))
    if k then errs[k] = errs[k] or e else general = general or e end
  end
  local again = {}
  for k, p in ipairs(req.ops) do
    local d = body.data[ALIAS[k]]
    local e = errs[k]
    if e then
      local ext = type(e.extensions) == "table" and e.extensions or {}
      local code = ext.code or "ERROR"
      local transient = (tonumber(ext.status_code) or 0) >= 500 or code == "INTERNAL_SERVER_ERROR"
      if transient and self.cfg.retry_op_errors and p.attempts < self.cfg.max_op_attempts and not p.key then
        again[#again + 1] = p
      else
        self:finish_op(p, { ok = false, error = tostring(e.message), code = code, retryable = transient,
          sent = true, details = ext.error_data, key = req.key })
      end
    elseif d == nil or (d == cjson.null and general) then
      local ge = general or { message = "no result for op" }
      local ext = type(ge.extensions) == "table" and ge.extensions or {}
      self:finish_op(p, { ok = false, error = tostring(ge.message), code = ext.code or "NO_RESULT",
        retryable = false, sent = "unknown", key = req.key })
    else
      self:finish_op(p, { ok = true, data = d, key = req.key })
    end
  end
  if #again > 0 then self:requeue(again) end
end

function Job:busy_work()
  return self.nflight > 0 or #self.waiting > 0 or self.queued > 0
end

-- One turn of the loop: start what may start, wait for replies or a wake-up.
function Job:step()
  local c = self.c
  local now = c.clock()
  local wake = self:dispatch(now)
  if self.nflight > 0 then
    local t = math.max(0, math.min(wake - now, 0.5))
    for _, resp in ipairs(c.engine:wait(t)) do
      local req = self.inflight[resp.id]
      self.inflight[resp.id] = nil
      self.nflight = self.nflight - 1
      self:handle(req, resp, c.clock())
    end
  elseif wake < math.huge and not self.stopped then
    local d = wake - now
    if d > 0 then c.sleep(math.min(d, 5)) end
  end
end

-- After a stop, everything not yet finished is reported as not sent.
function Job:drain_stopped()
  while self.nflight > 0 do
    for _, resp in ipairs(self.c.engine:wait(0.5)) do
      local req = self.inflight[resp.id]
      self.inflight[resp.id] = nil
      self.nflight = self.nflight - 1
      self:handle(req, resp, self.c.clock())
    end
  end
  local st = self.stopped
  for _, req in ipairs(self.waiting) do
    self:free_lane(req)
    for _, p in ipairs(req.ops or {}) do
      self:finish_op(p, { ok = false, code = st.code, error = st.message, retryable = true,
        sent = req.attempts > 0 and "unknown" or false, key = req.key })
    end
    if not req.ops then req.failure = { code = st.code, message = st.message } end
  end
  self.waiting = {}
  for _, lane in ipairs(self.lane_order) do
    for k = lane.head, lane.tail do
      self:finish_op(lane.q[k], { ok = false, code = st.code, error = st.message, retryable = true, sent = false })
    end
    lane.q, lane.head, lane.tail = {}, 1, 0
  end
  self.queued = 0
end

function Job:summary()
  return {
    ops = self.done, ok = self.okn, failed = self.failed, requests = self.requests,
    stopped = self.stopped and self.stopped.code, message = self.stopped and self.stopped.message,
    elapsed = self.c.clock() - self.started,
  }
end

-- mon:stream(next_op, on_result [, opts]) -> summary
-- next_op() returns the next op or nil (or pass an array); on_result(i, res,
-- op) is called as each op finishes (not in order). opts: before_send,
-- on_request, progress (true: a bar; or function(done, total)), total.
function Client:stream(iter, on_result, opts)
  opts = opts or {}
  if type(iter) == "table" then
    local arr, k = iter, 0
    iter = function() k = k + 1; return arr[k] end
  end
  local job = new_job(self, { on_result = on_result, before_send = opts.before_send,
    on_request = opts.on_request, progress = opts.progress })
  job.total = opts.total
  if opts.progress == true then job.bar = log.progress("monday", opts.total) end
  local n, exhausted = 0, false
  local forced_key = opts.idempotency_key
  while true do
    while not exhausted and not job.stopped and job.queued < self.cfg.buffer do
      local op = iter()
      if op == nil then exhausted = true; break end
      n = n + 1
      local p = job:prepare(op, n)
      if forced_key then p.key = forced_key end
      job:enqueue(p)
    end
    if job.stopped then job:drain_stopped(); break end
    if not job:busy_work() then
      if exhausted then break end
    else
      job:step()
    end
  end
  if job.bar then job.bar:done() end
  return job:summary()
end

-- mon:batch(ops [, opts]) -> results (one per op, in input order), summary
function Client:batch(ops, opts)
  opts = opts or {}
  local results = {}
  local user = opts.on_result
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.total = o.total or #ops
  local summary = self:stream(ops, function(i, res, op)
    results[i] = res
    if user then user(i, res, op) end
  end, o)
  return results, summary
end

-- mon:query(doc [, vars [, opts]]) -> data, errors, meta
-- opts.idempotency_key for a mutation document (one is made otherwise).
function Client:query(doc, vars, opts)
  opts = opts or {}
  if type(doc) ~= "string" then error("query: document must be a string", 2) end
  local mutation = doc:match("^%s*mutation") ~= nil
  local sent_doc, injected = doc, false
  if opts.complexity ~= false then sent_doc, injected = inject_complexity(doc) end
  local body = native.encode({ query = sent_doc, variables = vars })
  local job = new_job(self, {})
  local req = {
    kind = mutation and "mutation" or "query", lane = mutation and "?" or nil,
    body = body, key = mutation and (opts.idempotency_key or self:new_key()) or nil,
    est = self.gov:query_estimate(doc), nmut = 0, doc_key = doc,
    attempts = 0, waited = 0, not_before = 0,
  }
  job.waiting[1] = req
  while job.nflight > 0 or #job.waiting > 0 do
    if job.stopped then job:drain_stopped(); break end
    job:step()
  end
  local last = req.last or {}
  local meta = {
    status = last.status, complexity = last.complexity, request_id = last.request_id,
    rate_limit = M.parse_ratelimit(last.headers and last.headers["ratelimit"], last.headers and last.headers["ratelimit-policy"]),
    retry_after = last.headers and tonumber(last.headers["retry-after"]),
    attempts = req.attempts, elapsed = self.clock() - (req.first_sent or self.clock()), key = req.key,
  }
  local body_t = req.result
  local data = type(body_t) == "table" and body_t.data or nil
  if data == cjson.null then data = nil end
  if type(data) == "table" and injected then data[CX_ALIAS] = nil end
  local errors = type(body_t) == "table" and type(body_t.errors) == "table" and body_t.errors or nil
  if req.failure and not errors then
    errors = { { message = req.failure.message, extensions = { code = req.failure.code } } }
  end
  if errors and req.failure then meta.code = req.failure.code end
  return data, errors, meta
end

return M
