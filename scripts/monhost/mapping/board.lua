-- mapping/board.lua: monday board metadata for mappings: column ids, titles,
-- types and (when pulled from the API) status/dropdown labels. Reads the
-- legacy pipeline's board_<ID>_metadata.json format, which `monhost board
-- pull` also writes, and the API's own {id, columns = {{id, title, type,
-- settings_str}}} shape.
local cjson = require "cjson.safe"
local colvals = require "monhost.colvals"

local M = {}

-- Types monhost cannot write: monday computes them or they link elsewhere.
M.READONLY = {
  mirror = true, lookup = true, formula = true, subtasks = true, item_id = true,
  pulse_id = true, last_updated = true, creation_log = true, auto_number = true,
  progress = true, button = true, board_relation = true, dependency = true,
  time_tracking = true, vote = true, name = true, item_assignees = true,
}

M.WRITABLE = colvals.types

-- Labels of a status or dropdown column from the API's settings_str.
function M.labels_from_settings(settings)
  if type(settings) == "string" then settings = cjson.decode(settings) end
  if type(settings) ~= "table" then return nil end
  local out = {}
  if type(settings.labels) == "table" then
    if settings.labels[1] ~= nil then -- dropdown: [{id=, name=}]
      for _, l in ipairs(settings.labels) do
        if type(l) == "table" and l.name then out[#out + 1] = l.name end
      end
    else -- status: {"0": "Working on it", ...}
      local idx = {}
      for k in pairs(settings.labels) do idx[#idx + 1] = tonumber(k) or k end
      table.sort(idx, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(idx) do
        local v = settings.labels[tostring(k)] or settings.labels[k]
        if type(v) == "string" and v ~= "" then out[#out + 1] = v end
      end
    end
  end
  return out
end

local function normalise(d, name)
  local b = { columns = {}, by_id = {}, by_title = {}, source = name }
  b.id = d.board_id or d.id
  b.id = b.id and math.tointeger(tonumber(b.id)) or b.id
  b.name = d.board_name or d.name
  b.parent_board_id = d.parent_board_id
  local cols = d.columns
  if type(cols) ~= "table" then return nil, (name or "board") .. ": no columns" end
  for _, c in ipairs(cols) do
    local col = {
      id = c.monday_id or c.id,
      title = c.monday_title or c.title,
      type = c.monday_type or c.type,
      labels = c.labels,
    }
    if not col.labels and c.settings_str then col.labels = M.labels_from_settings(c.settings_str) end
    if type(col.labels) ~= "table" then col.labels = nil end
    if type(col.id) == "string" and type(col.type) == "string" then
      col.readonly = M.READONLY[col.type] or false
      col.writable = M.WRITABLE[col.type] or (col.type == "color" or col.type == "numeric") or false
      b.columns[#b.columns + 1] = col
      b.by_id[col.id] = col
      if col.title then
        if b.by_title[col.title] then b.by_title[col.title] = false -- ambiguous title
        else b.by_title[col.title] = col end
      end
    end
  end
  return b
end

-- board.load(path | decoded table | already loaded board) -> board or nil, err
function M.load(x)
  if type(x) == "table" then
    if x.by_id then return x end
    return normalise(x, "board")
  end
  if type(x) ~= "string" then return nil, "board: expected a path or a table" end
  local f, err = io.open(x, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local d, jerr = cjson.decode(text)
  if not d then return nil, x .. ": " .. tostring(jerr) end
  return normalise(d, x)
end

-- Resolve a monday column by id or title; returns col or nil, reason.
function M.find(b, key)
  local c = b.by_id[key]
  if c then return c end
  c = b.by_title[key]
  if c then return c end
  if c == false then return nil, "title '" .. key .. "' is ambiguous on board " .. tostring(b.id) .. ": use the column id" end
  return nil, "no column '" .. key .. "' on board " .. tostring(b.id)
end

-- Best guess of a column's type from its id when no board is given
-- (text_mkr5wya6 -> text). check always uses the real board.
function M.guess_type(id)
  local p = id:match("^([%a_]-)_?[%w]*$")
  for _, t in ipairs { "long_text", "text", "numeric", "numbers", "date", "dropdown", "color", "status",
    "checkbox", "email", "link" } do
    if id:sub(1, #t + 1) == t .. "_" or id == t then
      return ({ numeric = "numbers", color = "status" })[t] or t
    end
  end
  return p and nil
end

-- Write a board file in the metadata format (used by `monhost board pull`).
function M.to_json(b)
  local cols = {}
  for i, c in ipairs(b.columns) do
    cols[i] = { monday_id = c.id, monday_title = c.title, monday_type = c.type, labels = c.labels }
  end
  return colvals.encode { board_id = b.id, board_name = b.name, parent_board_id = b.parent_board_id, columns = cols }
end

return M
