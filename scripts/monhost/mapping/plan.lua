-- mapping/plan.lua: compiles a merged mapping spec into a plan: monday
-- columns resolved against the board (ids, types, read-only), source columns
-- resolved to positions, cleaning rules and value maps turned into closures,
-- size columns found, the native formatters built. All of that happens once
-- per mapping; plan:transform(row) then does only per-row work.
local colvals = require "monhost.colvals"
local hash = require "monhost.hash"
local native = require "monhost.transform"
local cjson = require "cjson"
local boardmod = require "monhost.mapping.board"
local source = require "monhost.mapping.source"
local customers = require "monhost.mapping.customers"
local loader = require "monhost.mapping.loader"

local NULL = cjson.null
local M = {}
local Plan = {}
Plan.__index = Plan

M.DEFAULT_SIZES = { after = "INFOR COLOUR CODE", before = "TOTAL QTY" }

local function where(at)
  if not at then return "" end
  return (at.file or "?") .. ":" .. tostring(at.line or "?")
end
M.where = where

-- ---- cleaning -----------------------------------------------------------------

local function trim_clean(v)
  if type(v) ~= "string" then return v end
  -- most values are already clean: one scan instead of three substitutions
  if not v:find("%c") and not v:find("^%s") and not v:find("%s$") then return v end
  return (v:gsub("%c", ""):gsub("^%s+", ""):gsub("%s+$", ""))
end

local CLEAN_OPS = {
  trim = trim_clean,
  trim_and_clean = trim_clean,
  upper = function(v) return type(v) == "string" and v:upper() or v end,
  lower = function(v) return type(v) == "string" and v:lower() or v end,
}
M.CLEAN_OPS = CLEAN_OPS

-- What each compiled cleaning closure does, as steps the native transform
-- runs itself ({op = "trim"|"upper"|"lower"|"replace", rep =}); a function
-- written in a mapping is the step {op = "fn", fn = f}, called back.
local CLEAN_STEPS = setmetatable({
  [trim_clean] = { { op = "trim" } },
  [CLEAN_OPS.upper] = { { op = "upper" } },
  [CLEAN_OPS.lower] = { { op = "lower" } },
}, { __mode = "k" })

local function steps_of(f)
  if not f then return nil end
  return CLEAN_STEPS[f] or { { op = "fn", fn = f } }
end

-- A cleaning rule -> function(v) -> v, or nil, message.
local function compile_clean(rule)
  if rule == nil or rule == false then return nil end
  if type(rule) == "function" then return rule end
  if type(rule) == "string" then
    local f = CLEAN_OPS[rule]
    if not f then return nil, "unknown cleaning operation '" .. rule .. "' (trim, upper, lower, {replace=})" end
    return f
  end
  if type(rule) ~= "table" then return nil, "a cleaning rule is a name, a table or a function" end
  local steps = {}
  for _, r in ipairs(rule) do
    local f, err = compile_clean(r)
    if not f then return nil, err end
    steps[#steps + 1] = f
  end
  for _, k in ipairs { "trim", "upper", "lower" } do
    if rule[k] then steps[#steps + 1] = CLEAN_OPS[k] end
  end
  if rule.replace ~= nil then
    if type(rule.replace) ~= "table" then return nil, "replace must be a table {FIND = REPLACEMENT}" end
    local rep = rule.replace
    local f = function(v)
      if v == nil then return v end
      local r = rep[type(v) == "string" and v:match("^%s*(.-)%s*$") or tostring(v)]
      if r == nil then return v end
      if r == false or r == NULL then return nil end
      return r
    end
    CLEAN_STEPS[f] = { { op = "replace", rep = rep } }
    steps[#steps + 1] = f
  end
  if #steps == 1 then return steps[1] end
  local chain = function(v)
    for i = 1, #steps do v = steps[i](v) end
    return v
  end
  local desc = {}
  for _, f in ipairs(steps) do
    for _, st in ipairs(steps_of(f)) do desc[#desc + 1] = st end
  end
  CLEAN_STEPS[chain] = desc
  return chain
end
M.compile_clean = compile_clean

local function blank(v)
  return v == nil or v == NULL or (type(v) == "string" and not v:find("%S"))
end

-- Size names and map keys are text: 10 -> "10", 10.0 -> "10".
local function text(v)
  if type(v) == "number" then
    local i = math.tointeger(v)
    return i and string.format("%d", i) or tostring(v)
  end
  return v
end

-- "{CUSTOMER STYLE} {AAG ORDER NUMBER}" -> function(r, ctx); {customer} is
-- the canonical customer.
local function compile_template(tpl)
  local names = {}
  for n in tpl:gmatch("{([^}]+)}") do names[#names + 1] = n end
  return function(r, ctx)
    return (tpl:gsub("{([^}]+)}", function(n)
      local v = n == "customer" and ctx.customer or r[n]
      return v == nil and "" or tostring(text(v))
    end):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
  end, names
end

-- Run a mapping function on probe rows and record the columns it reads, so
-- select_columns includes them and check can flag unknown names.
local function probe(fn, ctx)
  local seen = {}
  for _, val in ipairs { "1", false } do
    local proxy = setmetatable({}, { __index = function(_, k)
      if type(k) == "string" then seen[k] = true end
      if val then return val end
      return nil
    end })
    pcall(fn, proxy, ctx)
  end
  return seen
end

-- ---- compile ------------------------------------------------------------------

function M.compile(spec, opts)
  opts = opts or {}
  local problems = {}
  for _, p in ipairs(spec.problems or {}) do problems[#problems + 1] = p end
  local function problem(severity, at, msg, extra)
    local p = { severity = severity, at = at, message = msg }
    for k, v in pairs(extra or {}) do p[k] = v end
    problems[#problems + 1] = p
    return p
  end

  -- board metadata
  local board, bsub
  if opts.board then
    local err
    board, err = boardmod.load(opts.board)
    if not board then error("board metadata: " .. tostring(err), 0) end
  end
  if opts.subitem_board then
    local err
    bsub, err = boardmod.load(opts.subitem_board)
    if not bsub then error("subitem board metadata: " .. tostring(err), 0) end
  end

  -- source columns
  local cols, colindex
  if opts.columns then
    local err
    cols, err = source.load(opts.columns)
    if not cols then error("source columns: " .. tostring(err), 0) end
    colindex = {}
    for i, c in ipairs(cols) do colindex[c.name] = i end
  end
  local function known_source(name) return colindex == nil or colindex[name] ~= nil end

  local plan = setmetatable({
    name = spec.name,
    spec = spec,
    source_table = spec.source or "ORDERS_UNIFIED",
    board_id = spec.board or (board and board.id),
    subitem_board_id = spec.subitem_board or (bsub and bsub.id),
    board = board,
    subitem_board = bsub,
    source_columns = cols,
    problems = problems,
    filter = type(spec.where) == "string" and spec.where or nil,
    accept = spec.filter and spec.filter.fn or nil,
  }, Plan)
  if board and spec.board and board.id and tostring(board.id) ~= tostring(spec.board) then
    problem("error", spec.board_at, ("mapping is for board %s but the board metadata is for board %s"):format(
      tostring(spec.board), tostring(board.id)))
  end

  -- needed source columns, in first-use order
  local needed, needed_list = {}, {}
  local function need(name, at, what)
    if type(name) ~= "string" then return end
    if not known_source(name) then
      problem("error", at, ("unknown source column '%s'%s"):format(name, what and (" (" .. what .. ")") or ""),
        { kind = "source", column = name })
      return false
    end
    if not needed[name] then needed[name] = true; needed_list[#needed_list + 1] = name end
    return true
  end

  -- key
  local key = spec.key or {}
  if type(key) == "string" then key = { key } end
  if #key == 0 then problem("error", spec.key_at or { file = spec.file }, "the mapping has no key columns") end
  for _, k in ipairs(key) do need(k, spec.key_at, "key") end
  plan.key_columns = key

  -- customers
  plan.customer_column = spec.customer_column or "CUSTOMER NAME"
  need(plan.customer_column, spec.customer_column_at, "customer column")
  local canon
  local alias_src = opts.customers or spec.aliases
  if alias_src then
    local path = alias_src
    if type(alias_src) == "string" and not alias_src:find("[/.]") then
      path = loader.resolve(alias_src, opts, spec.dir) or alias_src
    elseif type(alias_src) == "string" and not alias_src:find("^/") and spec.dir and
      not io.open(alias_src) then
      path = spec.dir .. "/" .. alias_src
    end
    local err
    canon, err = customers.load(path)
    if not canon then problem("error", spec.aliases_at, "customer aliases: " .. tostring(err)) end
  end
  canon = canon or customers.new({}, "none")
  plan.canonical = canon
  if spec.customers then
    plan.customers = type(spec.customers) == "table" and spec.customers or { spec.customers }
  elseif spec.customer then
    local list, seen = {}, {}
    for _, c in ipairs(type(spec.customer) == "table" and spec.customer or { spec.customer }) do
      for _, a in ipairs(canon.aliases[c] or { c }) do
        if not seen[a] then seen[a] = true; list[#list + 1] = a end
      end
      if not canon.aliases[c] and canon.source ~= "none" then
        problem("warning", spec.customer_at, "customer '" .. c .. "' is not a canonical name in the alias table")
      end
    end
    plan.customers = list
  end
  plan.customer = spec.customer

  -- source-level cleaning and defaults
  local clean_fn, default_of = {}, {}
  for col, e in pairs(spec.clean or {}) do
    if e then
      local f, err = compile_clean(e.rule)
      if not f and err then problem("error", e.at, col .. ": " .. err) end
      if f then clean_fn[col] = f end
      if colindex and not colindex[col] then
        problem("error", e.at, ("unknown source column '%s' (clean)"):format(col), { kind = "source", column = col })
      end
    end
  end
  for col, e in pairs(spec.defaults or {}) do
    default_of[col] = e.value
    if colindex and not colindex[col] then
      problem("error", e.at, ("unknown source column '%s' (defaults)"):format(col), { kind = "source", column = col })
    end
  end

  local ctx = { plan = plan, helpers = loader.helpers }
  plan._ctx = ctx

  -- columns
  local entries = {}
  local targets = {}
  for t in pairs(spec.columns or {}) do targets[#targets + 1] = t end
  table.sort(targets, function(a, b) return tostring(a) < tostring(b) end)
  for _, target in ipairs(targets) do
    local e = spec.columns[target]
    if e then
      local col, why
      if board then
        col, why = boardmod.find(board, target)
      else
        local ty = boardmod.guess_type(target)
        col = ty and { id = target, title = target, type = ty, writable = true } or nil
        why = "cannot tell the type of '" .. target .. "' without the board metadata"
      end
      local ok = true
      if not col then
        problem("error", e.at, "unknown monday column: " .. why, { kind = "target", column = target })
        ok = false
      elseif col.readonly or not col.writable then
        problem("error", e.at, ("monday column %s (%s) is a %s column: %s"):format(col.id, col.title or "?", col.type,
          col.readonly and "read-only, monday computes it" or "monhost cannot write this type"),
          { kind = "target", column = target })
        ok = false
      end
      if e.source then ok = need(e.source, e.at, "for " .. target) ~= false and ok end
      if ok then
        local clean, err = compile_clean(e.clean)
        if err then problem("error", e.at, target .. ": " .. err) end
        local map
        if e.map then
          map = {}
          for k, v in pairs(e.map) do map[text(k)] = v end
        end
        entries[#entries + 1] = {
          id = col.id, type = col.type, title = col.title, col = col, source = e.source, fn = e.fn,
          const = e.const, map = map, clean = clean, default = e.default, at = e.at, map_at = e.map_at,
        }
      end
    end
  end
  -- one entry per monday column: a file that extends another overrides it
  -- whether it names the column by id or by title; twice in one file is an error
  local rank = {}
  for i, f in ipairs(spec.files or {}) do rank[f] = i end
  local by_id, uniq = {}, {}
  for _, e in ipairs(entries) do
    local prev = by_id[e.id]
    if not prev then
      by_id[e.id] = e
      uniq[#uniq + 1] = e
    else
      local rp, re = rank[prev.at and prev.at.file] or 0, rank[e.at and e.at.file] or 0
      if rp == re then
        problem("error", e.at, ("monday column %s is set twice (also at %s)"):format(e.id, where(prev.at)))
      elseif re > rp then
        for i, u in ipairs(uniq) do if u == prev then uniq[i] = e end end
        by_id[e.id] = e
      end
    end
  end
  entries = uniq
  -- canonical order: sorted by monday column id
  table.sort(entries, function(a, b) return a.id < b.id end)
  plan.entries = entries

  -- item name and group
  local item = spec.item_name or { template = "{CUSTOMER STYLE} {CUSTOMER COLOUR DESCRIPTION} {AAG ORDER NUMBER}" }
  local group = spec.group
  local function fn_of(x, what)
    if not x then return nil end
    if x.fn then return x.fn, x.at end
    local f, names = compile_template(x.template)
    for _, n in ipairs(names) do if n ~= "customer" then need(n, x.at, what) end end
    return f, x.at
  end
  plan.item_name_fn, plan.item_name_at = fn_of(item, "item name")
  plan.group_fn, plan.group_at = fn_of(group, "group")
  if not plan.group_fn then
    problem("error", { file = spec.file }, "the mapping has no group rule")
  end

  -- columns read by functions (probed) and declared with `uses`
  local fns = {}
  for _, e in ipairs(entries) do if e.fn then fns[#fns + 1] = { e.fn, e.at, "column " .. e.id } end end
  if item and item.fn then fns[#fns + 1] = { item.fn, item.at, "item name" } end
  if group and group.fn then fns[#fns + 1] = { group.fn, group.at, "group" } end
  if spec.filter and spec.filter.fn then fns[#fns + 1] = { spec.filter.fn, spec.filter.at, "filter" } end
  ctx.customer = "PROBE"
  for _, f in ipairs(fns) do
    local reads = probe(f[1], ctx)
    local names = {}
    for n in pairs(reads) do names[#names + 1] = n end
    table.sort(names)
    for _, n in ipairs(names) do need(n, f[2], f[3]) end
  end
  ctx.customer = nil
  for _, u in ipairs(type(spec.uses) == "table" and spec.uses or {}) do need(u, spec.uses_at, "uses") end
  -- cleaning and defaults of columns nobody reads cost nothing per row
  for col in pairs(clean_fn) do if not needed[col] then clean_fn[col] = nil end end

  -- subitems
  local sub = spec.subitems
  local sizes = {}
  if sub then
    local sz = sub.sizes or M.DEFAULT_SIZES
    if sz.after or sz.before then
      if not cols then
        error("the mapping's subitems need the source column list to find the size columns " ..
          "(pass columns = cur:columns() or the TSV)", 0)
      end
      local list, err = source.size_columns(cols, sz.after or M.DEFAULT_SIZES.after, sz.before or M.DEFAULT_SIZES.before)
      if not list then problem("error", sub.at, err) else sizes = list end
    else
      for _, n in ipairs(sz) do sizes[#sizes + 1] = n end
    end
    for _, n in ipairs(sizes) do need(n, sub.at, "size column") end
    local function sub_col(key, what)
      if not key then problem("error", sub.at, "subitems need " .. what); return nil end
      if not bsub then
        local ty = boardmod.guess_type(key)
        return ty and { id = key, type = ty } or nil
      end
      local c, why = boardmod.find(bsub, key)
      if not c then problem("error", sub.at, "subitems " .. what .. ": " .. why, { kind = "target", column = key }) end
      return c
    end
    local size_col = sub_col(sub.size_column, "size_column")
    local qty_col = sub_col(sub.qty_column, "qty_column")
    if size_col and qty_col then
      local fcols = { { id = size_col.id, type = size_col.type, role = "size" },
        { id = qty_col.id, type = qty_col.type, role = "qty" } }
      for id, v in pairs(type(sub.columns) == "table" and sub.columns or {}) do
        local c = sub_col(id, "column " .. id)
        if c then fcols[#fcols + 1] = { id = c.id, type = c.type, const = v } end
      end
      table.sort(fcols, function(a, b) return a.id < b.id end)
      local f = colvals.new(fcols)
      local SENT = "987654321987654321"
      local pre, post = {}, {}
      for i, size in ipairs(sizes) do
        local vals = {}
        for j, c in ipairs(fcols) do
          vals[j] = c.role == "size" and size or c.role == "qty" and SENT or c.const
        end
        local json = f:format(vals)
        local a, b = json:find('"' .. SENT .. '"', 1, true)
        pre[i], post[i] = json:sub(1, a), json:sub(b)
      end
      plan.size_pre, plan.size_post = pre, post
      plan.subitem_formatter, plan.subitem_columns = f, fcols
      plan.size_column_id, plan.qty_column_id = size_col.id, qty_col.id
    end
    local nm = sub.name or "Size %s"
    if type(nm) == "string" then
      plan.size_names = {}
      for i, s in ipairs(sizes) do plan.size_names[i] = nm:format(s) end
    else
      plan.size_name_fn = nm
    end
  end
  plan.sizes = sizes

  -- select list: needed columns in table order (or first-use order)
  local select = {}
  if colindex then
    local sorted = {}
    for _, n in ipairs(needed_list) do sorted[#sorted + 1] = n end
    table.sort(sorted, function(a, b) return colindex[a] < colindex[b] end)
    select = sorted
  else
    select = needed_list
  end
  plan.select_columns = select
  local pos = {}
  for i, n in ipairs(select) do pos[n] = i end
  plan.position = pos

  -- per-row readers: the needed non-size columns, cleaned, defaulted
  local is_size = {}
  for _, s in ipairs(sizes) do is_size[s] = true end
  local rnames, rpos, rclean, rdef = {}, {}, {}, {}
  for _, n in ipairs(select) do
    if not is_size[n] or clean_fn[n] or default_of[n] ~= nil then
      local i = #rnames + 1
      rnames[i], rpos[i], rclean[i], rdef[i] = n, pos[n], clean_fn[n] or false, default_of[n]
      if rdef[i] == nil then rdef[i] = false end
    end
  end
  plan._readers = { names = rnames, pos = rpos, clean = rclean, default = rdef, n = #rnames }
  local spos = {}
  for i, s in ipairs(sizes) do spos[i] = pos[s] end
  plan._size_pos = spos

  -- the items formatter
  local fcols = {}
  for i, e in ipairs(entries) do fcols[i] = { id = e.id, type = e.type == "color" and "status" or e.type } end
  plan.formatter = colvals.new(fcols)
  plan.clear_empty = spec.empty == "clear"
  plan.changes = spec.changes -- update rules for the update step (docs/changes.md)
  plan._row, plan._vals = {}, {}
  plan._native = M.native(plan)

  if opts.strict then
    local errs = {}
    for _, p in ipairs(problems) do
      if p.severity == "error" then errs[#errs + 1] = where(p.at) .. ": " .. p.message end
    end
    if #errs > 0 then error(table.concat(errs, "\n"), 0) end
  end
  for _, p in ipairs(problems) do
    if p.severity == "error" then
      plan.warnings = (plan.warnings or 0) + 1
    end
  end
  return plan
end

-- ---- per row ------------------------------------------------------------------

-- rec.column_values is built on first use from the JSON: the pipeline sends
-- column_values_json, and building ~20 nested tables per row that nobody
-- reads was a third of the transform's time. One shared metatable, no
-- per-record state (a weak side table cost more in GC than it saved).
local REC = { __index = function(rec, k)
  if k ~= "column_values" then return nil end
  local v = cjson.decode(rawget(rec, "column_values_json"))
  rawset(rec, "column_values", v)
  return v
end }

local function errmsg(e)
  if type(e) == "string" then return (e:gsub("^[^:]*:%d+: ", "")) end
  return tostring(e)
end
M.REC, M.errmsg = REC, errmsg

-- The native transform (host/transform.c) of a compiled plan: the same
-- per-row work as Plan:transform_lua below, in one C call per row. It
-- reads the plan's fields once, here: a plan changed after compile needs
-- plan._native = M.native(plan).
function M.native(plan)
  local rd = plan._readers
  local readers = {}
  for i = 1, rd.n do
    readers[i] = { name = rd.names[i], pos = rd.pos[i], clean = steps_of(rd.clean[i]),
      default = rd.default[i] or nil }
  end
  local keys = {}
  for i, k in ipairs(plan.key_columns) do keys[i] = { name = k, pos = plan.position[k] or 0 } end
  local entries = {}
  for j, e in ipairs(plan.entries) do
    entries[j] = {
      id = e.id, type = e.type == "color" and "status" or e.type,
      kind = e.source and "source" or e.fn and "fn" or "const",
      source = e.source, fn = e.fn, const = e.const, clean = steps_of(e.clean), map = e.map,
      default = e.default, has_default = e.default ~= nil,
      errcol = e.source or e.title or e.id, fncol = e.title or e.id,
      fail = "mapping function failed at " .. where(e.at) .. ": ",
      suffix = " (monday column " .. (e.title or e.id) .. ")",
    }
  end
  local sizes = {}
  if #plan.sizes > 0 and plan.size_pre then
    for i, s in ipairs(plan.sizes) do
      sizes[i] = { size = s, pos = plan._size_pos[i] or 0, name = plan.size_names and plan.size_names[i],
        pre = plan.size_pre[i], post = plan.size_post[i] }
    end
  end
  return native.new {
    readers = readers, keys = keys, entries = entries, sizes = sizes,
    customer_column = plan.customer_column, canonical = plan.canonical,
    item_name = plan.item_name_fn, item_fail = "item name rule failed at " .. where(plan.item_name_at) .. ": ",
    group = plan.group_fn, group_fail = "group rule failed at " .. where(plan.group_at) .. ": ",
    size_name_fn = plan.size_name_fn, accept = plan.accept,
    ctx = plan._ctx, row = plan._row, rec_mt = M.REC, errmsg = M.errmsg,
  }
end

-- plan:transform(row) -> rec, errors. row: keyed by source column name, or
-- an array in plan.select_columns order (detected by row[1] ~= nil). NULL
-- is cjson.null (== odbc.null); functions in the mapping see it as nil.
function Plan:transform(row)
  return self._native:run(row, self.eager_values, self.clear_empty)
end

-- The reference implementation in Lua: the same records byte for byte
-- (tests/lua/mapping_native_spec.lua compares them); kept as the readable
-- definition of what transform does.
function Plan:transform_lua(row)
  local array = rawget(row, 1) ~= nil
  local rd = self._readers
  local names, pos, cleans, defs = rd.names, rd.pos, rd.clean, rd.default
  local r = self._row
  local errors
  for i = 1, rd.n do
    local v
    if array then v = row[pos[i]] else v = row[names[i]] end
    if v == NULL then v = nil end
    local c = cleans[i]
    if c and v ~= nil then v = c(v) end
    if defs[i] and blank(v) then v = defs[i] end
    r[names[i]] = v
  end
  local ctx = self._ctx
  ctx.row, ctx.raw = r, row
  local cust = r[self.customer_column]
  ctx.customer = cust ~= nil and self.canonical(cust) or nil

  -- key: the raw source values as text (what the database compares)
  local key = {}
  for i, k in ipairs(self.key_columns) do
    local v
    if array then v = row[self.position[k]] else v = row[k] end
    if v == nil or v == NULL or v == "" then
      errors = errors or {}
      errors[#errors + 1] = { column = k, message = "key column is empty" }
      v = ""
    end
    key[i] = text(v)
  end

  -- column values
  local vals, entries = self._vals, self.entries
  for j = 1, #entries do
    local e = entries[j]
    local v
    if e.source then v = r[e.source]
    elseif e.fn then
      local ok, res = pcall(e.fn, r, ctx)
      if ok then v = res else
        errors = errors or {}
        errors[#errors + 1] = { column = e.title or e.id, monday_column = e.id,
          message = "mapping function failed at " .. where(e.at) .. ": " .. errmsg(res) }
      end
    else v = e.const end
    if v == NULL then v = nil end
    if e.clean and v ~= nil then v = e.clean(v) end
    if e.map and v ~= nil then
      local m = e.map[text(v)]
      if m ~= nil then v = m end
    end
    if e.default ~= nil and blank(v) then v = e.default end
    vals[j] = v
  end
  local json, values, ferrs = self.formatter:format(vals, self.eager_values, self.clear_empty)

  if ferrs then
    errors = errors or {}
    local byid = {}
    for _, e in ipairs(entries) do byid[e.id] = e end
    for _, fe in ipairs(ferrs) do
      local e = byid[fe.column]
      errors[#errors + 1] = { column = e.source or e.title or fe.column, monday_column = fe.column,
        message = fe.message .. " (monday column " .. (e.title or fe.column) .. ")" }
    end
  end

  -- item name and group
  local ok, name = pcall(self.item_name_fn, r, ctx)
  if not ok or type(name) ~= "string" or name == "" then
    errors = errors or {}
    errors[#errors + 1] = { column = "item name", message = ok and "the item name is empty" or
      ("item name rule failed at " .. where(self.item_name_at) .. ": " .. errmsg(name)) }
    name = table.concat(key, " ")
  end
  local gok, group = pcall(self.group_fn, r, ctx)
  if not gok or type(group) ~= "string" or group == "" then
    errors = errors or {}
    errors[#errors + 1] = { column = "group", message = gok and "the group name is empty" or
      ("group rule failed at " .. where(self.group_at) .. ": " .. errmsg(group)) }
    group = nil
  end

  -- subitems: one per size with a quantity > 0, in column order
  local subs = {}
  local sizes = self.sizes
  if #sizes > 0 and self.size_pre then
    local spos, pre, post, names_ = self._size_pos, self.size_pre, self.size_post, self.size_names
    for i = 1, #sizes do
      local q
      if array then q = row[spos[i]] else q = row[sizes[i]] end
      if q ~= nil and q ~= NULL then
        local n = math.type(q) == "integer" and q or tonumber(q)
        if n == nil then
          errors = errors or {}
          errors[#errors + 1] = { column = sizes[i], message = "size quantity is not a number: " .. tostring(q) }
        elseif n > 0 then
          n = math.tointeger(n) or n
          local qs = math.type(n) == "integer" and string.format("%d", n) or string.format("%.17g", n)
          local sname
          if names_ then sname = names_[i] else
            local sok, res = pcall(self.size_name_fn, sizes[i], n, r)
            sname = sok and tostring(res) or ("Size " .. sizes[i])
          end
          subs[#subs + 1] = { size = sizes[i], name = sname, qty = n, column_values_json = pre[i] .. qs .. post[i] }
        end
      end
    end
  end

  local rec = {
    key = key, key_text = table.concat(key, "|"), item_name = name, group_name = group,
    column_values = values, column_values_json = json, subitems = subs, errors = errors or {},
    customer = ctx.customer,
  }
  if not values then setmetatable(rec, REC) end
  if self.accept then
    local fok, keep = pcall(self.accept, r, ctx)
    if fok and not keep then rec.filtered = true end
    if not fok then
      rec.errors[#rec.errors + 1] = { column = "filter", message = "filter failed: " .. errmsg(keep) }
    end
  end
  rec.hash, rec.item_hash = hash.order(rec)
  ctx.row, ctx.raw = nil, nil
  return rec, errors
end

-- The GraphQL operation the pipeline would send for rec (for the REPL and
-- docs): the create_item mutation with its variables; group_id is looked up
-- by name on the board at run time.
function Plan:operation(rec, group_id)
  local q = "mutation ($board: ID!, $group: String, $name: String!, $values: JSON) {\n" ..
    "  create_item(board_id: $board, group_id: $group, item_name: $name, column_values: $values," ..
    " create_labels_if_missing: true) { id }\n}"
  local vars = { board = tostring(self.board_id), group = group_id or ("<id of group '" .. tostring(rec.group_name) .. "'>"),
    name = rec.item_name, values = rec.column_values_json }
  local subs = {}
  for _, s in ipairs(rec.subitems or {}) do
    subs[#subs + 1] = { parent_item_id = "<new item id>", item_name = s.name, column_values = s.column_values_json }
  end
  return q, vars, subs
end

-- Source values next to what each monday column gets (REPL :row).
function Plan:explain(row, rec)
  rec = rec or self:transform(row)
  local array = rawget(row, 1) ~= nil
  local lines = {}
  for _, e in ipairs(self.entries) do
    local src
    if e.source then
      src = array and row[self.position[e.source]] or (not array and row[e.source]) or nil
    end
    lines[#lines + 1] = {
      source = e.source or (e.fn and ("function at " .. where(e.at))) or "constant",
      source_value = src, column = e.id, title = e.title, type = e.type,
      value = rec.column_values and rec.column_values[e.id],
    }
  end
  return lines, rec
end

M.Plan = Plan
return M
