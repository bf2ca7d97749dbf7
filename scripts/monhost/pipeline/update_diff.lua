-- pipeline/update_diff.lua: the pure half of the update step (no database,
-- no network): the change rules, the plan fingerprint, the diff between
-- what monday confirmed and what the mapping produces now, the operations
-- that carry it, and the readable --dry-run text. pipeline/update.lua does
-- the I/O around it. See docs/changes.md.
local cjson = require "cjson"
local hash = require "monhost.hash"

local NULL = cjson.null
local M = {}

-- Change rules; a mapping overrides them with `changes = {...}` (plan.changes
-- or plan.spec.changes) and a script with ctx.changes.
--   zero      "zero": a size whose quantity dropped to 0/NULL keeps its
--             subitem with quantity 0 (no production history is lost);
--             "delete": the subitem is deleted.
--   missing   what to do with an order that left ORDERS_UNIFIED:
--             "report" | "archive" | {column = ID, value = V} (a status)
--   cancelled the same for an order the cancel_when rule matches
--   cancel_when {column = NAME, values = {...}} on the source row, or
--             function(get) -> true, with columns = {NAME...} it reads
--   fast      use the source fingerprint to skip unchanged rows (default
--             true; false transforms every synced row on every run)
M.DEFAULTS = {
  zero = "zero",
  missing = "report",
  cancelled = "report",
  cancel_when = { column = "ORDER TYPE", values = { "CANCELLED" } },
  fast = true,
}

local function check_action(name, a)
  if a == "report" or a == "archive" then return a end
  if type(a) == "table" and type(a.column) == "string" and a.value ~= nil then return a end
  error(("changes.%s must be \"report\", \"archive\" or {column = ID, value = V}"):format(name), 0)
end

function M.rules(plan, over)
  local r = {}
  for k, v in pairs(M.DEFAULTS) do r[k] = v end
  local from_plan = plan and (plan.changes or (plan.spec and plan.spec.changes))
  for _, src in ipairs { from_plan or {}, over or {} } do
    for k, v in pairs(src) do
      if M.DEFAULTS[k] == nil and k ~= "columns" then error("changes: unknown rule " .. tostring(k), 0) end
      r[k] = v
    end
  end
  if r.zero ~= "zero" and r.zero ~= "delete" then error("changes.zero must be \"zero\" or \"delete\"", 0) end
  r.missing = check_action("missing", r.missing)
  r.cancelled = check_action("cancelled", r.cancelled)
  -- the source columns the cancel rule reads
  local cw = r.cancel_when
  r.cancel_columns = {}
  if type(cw) == "table" then
    if type(cw.column) ~= "string" then error("changes.cancel_when needs column = NAME", 0) end
    r.cancel_columns = { cw.column }
    local set = {}
    for _, v in ipairs(cw.values or {}) do set[tostring(v)] = true end
    r.is_cancelled = function(get)
      local v = get(cw.column)
      return v ~= nil and set[tostring(v)] == true
    end
  elseif type(cw) == "function" then
    r.cancel_columns = (from_plan and from_plan.columns) or (over and over.columns) or {}
    r.is_cancelled = cw
  elseif cw ~= false and cw ~= nil then
    error("changes.cancel_when must be {column=, values=}, a function or false", 0)
  end
  return r
end

-- Short status tags kept in MON_SyncState_Values.status.
function M.status_tag(kind, action)
  local a = action == "report" and "R" or action == "archive" and "A" or "S"
  return (kind == "missing" and "MISSING/" or "CANCEL/") .. a
end

local function read_file(p)
  local f = p and io.open(p, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Fingerprint of everything besides the source row that decides what
-- would be sent: mapping files, aliases, board columns, select list, sizes,
-- rules. A change of any of them invalidates every stored source hash, so
-- the next run transforms every order once and sends only real changes.
function M.plan_fp(plan, rules, extra_columns)
  local parts = { "monhost.plan/2", tostring(plan.name), tostring(plan.board_id), tostring(plan.subitem_board_id) }
  for _, f in ipairs(plan.spec and plan.spec.files or {}) do parts[#parts + 1] = read_file(f) end
  parts[#parts + 1] = table.concat(plan.select_columns or {}, "\31")
  parts[#parts + 1] = table.concat(extra_columns or {}, "\31")
  for _, e in ipairs(plan.entries or {}) do parts[#parts + 1] = e.id .. ":" .. tostring(e.type) end
  parts[#parts + 1] = table.concat(plan.sizes or {}, "\31")
  parts[#parts + 1] = table.concat(plan.size_names or {}, "\31")
  local canon = plan.canonical
  if type(canon) == "table" and type(canon.aliases) == "table" then parts[#parts + 1] = hash.value(canon.aliases) end
  parts[#parts + 1] = rules.zero
  local cw = rules.cancel_when
  parts[#parts + 1] = type(cw) == "table" and hash.value(cw) or tostring(type(cw))
  parts[#parts + 1] = package.monhost and tostring(package.monhost.version) or ""
  return hash.bytes(table.concat(parts, "\30"))
end

-- Deep equality of decoded JSON values.
local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then
    if type(a) == "number" and type(b) == "string" then return tostring(a) == b end
    if type(b) == "number" and type(a) == "string" then return tostring(b) == a end
    return false
  end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
M.same = same

local function decode(s)
  if s == nil or s == NULL or s == "" then return nil end
  local ok, t = pcall(cjson.decode, s)
  if ok and type(t) == "table" then return t end
  return nil
end
M.decode = decode

-- monday's clear value of a column type.
function M.clear_value(ty)
  if ty == "text" or ty == "numbers" or ty == "numeric" then return "" end
  return NULL
end

-- Changed columns: old (decoded table, or nil = unknown: every value is
-- sent) vs new (decoded). types: column id -> type (for clearing). Returns
-- {id = new value} and the sorted list of ids, or nil when nothing changed.
function M.diff_values(old, new, types)
  local out, ids = {}, {}
  for k, v in pairs(new) do
    if old == nil or not same(old[k], v) then out[k] = v; ids[#ids + 1] = k end
  end
  if old then
    for k, v in pairs(old) do
      -- a value that became empty is cleared (already-clear values are not)
      if new[k] == nil and v ~= NULL and v ~= "" then
        out[k] = M.clear_value(types and types[k]); ids[#ids + 1] = k
      end
    end
  end
  if #ids == 0 then return nil end
  table.sort(ids)
  return out, ids
end

-- A value as a person reads it (dry run, logs).
function M.show(v)
  if v == nil or v == NULL then return "(empty)" end
  if type(v) == "string" then return v == "" and "(empty)" or cjson.encode(v) end
  if type(v) == "table" then
    if v.date then return tostring(v.date) .. (v.time and (" " .. tostring(v.time)) or "") end
    if v.labels then return table.concat(v.labels, ", ") end
    if v.label then return tostring(v.label) end
    if v.text and next(v, next(v)) == nil then return cjson.encode(v.text) end
  end
  return cjson.encode(v)
end

-- The readable diff of one order (list of lines).
function M.render(ch, titles)
  local L = {}
  local head = ("~ %s (item %s)"):format(ch.name, tostring(ch.item_id))
  L[#L + 1] = head
  if ch.name_change then L[#L + 1] = ("    name: %s -> %s"):format(M.show(ch.name_change[1]), M.show(ch.name_change[2])) end
  for _, id in ipairs(ch.ids or {}) do
    if id ~= "name" then
      local t = titles and titles[id]
      L[#L + 1] = ("    %s: %s -> %s%s"):format(t and (t .. " (" .. id .. ")") or id,
        ch.unknown_old and "?" or M.show(ch.old and ch.old[id]), M.show(ch.values[id]),
        ch.unknown_old and "  (synced values unknown: every column is sent)" or "")
    end
  end
  if ch.move then L[#L + 1] = ("    group: %s -> %s"):format(M.show(ch.move[1]), M.show(ch.move[2])) end
  for _, s in ipairs(ch.subs or {}) do
    if s.op == "create" then
      L[#L + 1] = ("    + subitem %s: qty %s"):format(s.name, tostring(s.qty))
    elseif s.op == "update" then
      local parts = {}
      for _, id in ipairs(s.ids) do
        parts[#parts + 1] = ("%s %s -> %s"):format(id == s.qty_id and "qty" or id,
          M.show(s.old and s.old[id]), M.show(s.values[id]))
      end
      L[#L + 1] = ("    ~ subitem %s: %s"):format(s.name, table.concat(parts, ", "))
    elseif s.op == "zero" then
      L[#L + 1] = ("    - subitem %s: qty %s -> 0 (kept)"):format(s.name, tostring(s.old_qty))
    elseif s.op == "delete" then
      L[#L + 1] = ("    - subitem %s: qty %s -> deleted"):format(s.name, tostring(s.old_qty))
    end
  end
  return L
end

return M
