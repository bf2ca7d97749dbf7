-- cmd/board.lua: `monhost board pull BOARD_ID [-o FILE]` writes the board's
-- metadata (column ids, titles, types and status/dropdown labels) in the
-- board_<ID>_metadata.json format that mappings and `monhost check` read.
local board = require "monhost.mapping.board"

local M = {}

local USAGE = [[
usage: monhost board pull BOARD_ID [-o FILE] [--url URL]

Fetches the board's columns from monday (token from $MONDAY_API_TOKEN) and
writes FILE (default boards/BOARD_ID.json). --url overrides the API URL
(monhost.yaml's monday.url otherwise).
]]

local QUERY = "query ($ids: [ID!]) { boards(ids: $ids) { id name columns { id title type settings_str } } }"

function M.pull(id, opts)
  local graphql = require "monhost.graphql"
  local o = { url = opts.url }
  local ok, config = pcall(require, "monhost.config")
  if ok and not opts.url and io.open("monhost.yaml") then
    local cfg = config.load("monhost.yaml")
    if cfg then
      for k, v in pairs(graphql.options_from_config(cfg.monday)) do o[k] = v end
    end
  end
  local mon = graphql.client(o)
  local data, errs = mon:query(QUERY, { ids = { tostring(id) } })
  mon:close()
  if not data then
    local msg = type(errs) == "table" and (errs[1] and errs[1].message or require("cjson").encode(errs)) or tostring(errs)
    return nil, "monday: " .. msg
  end
  local b = data.boards and data.boards[1]
  if not b then return nil, "monday: no board " .. tostring(id) end
  local parsed, err = board.load(b)
  if not parsed then return nil, err end
  return parsed
end

function M.main(cmd, ...)
  local args = { ... }
  if cmd ~= "pull" or not args[1] then
    io.stderr:write(USAGE)
    return (cmd == nil or cmd == "help") and 0 or 2
  end
  local id, out, url = args[1], nil, nil
  local i = 2
  while i <= #args do
    if args[i] == "-o" then out = args[i + 1]; i = i + 1
    elseif args[i] == "--url" then url = args[i + 1]; i = i + 1
    else io.stderr:write("monhost board: unknown argument " .. args[i] .. "\n" .. USAGE); return 2 end
    i = i + 1
  end
  if not tostring(id):match("^%d+$") then io.stderr:write("monhost board: BOARD_ID must be a number\n"); return 2 end
  local b, err = M.pull(id, { url = url })
  if not b then io.stderr:write("monhost board: " .. tostring(err) .. "\n"); return 1 end
  out = out or ("boards/" .. id .. ".json")
  local dir = out:match("^(.*)/[^/]*$")
  if dir then require("monhost.sys").mkdir(dir) end
  local f, ferr = io.open(out, "wb")
  if not f then io.stderr:write("monhost board: " .. tostring(ferr) .. "\n"); return 1 end
  f:write(board.to_json(b), "\n")
  f:close()
  local labelled = 0
  for _, c in ipairs(b.columns) do if c.labels then labelled = labelled + 1 end end
  io.stderr:write(("wrote %s: board %s (%s), %d columns, %d with labels\n"):format(out, tostring(b.id),
    tostring(b.name), #b.columns, labelled))
  return 0
end

return M
