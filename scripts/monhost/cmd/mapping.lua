-- cmd/mapping.lua: `monhost mapping convert ...` (legacy YAML -> Lua) and
-- `monhost mapping show NAME` (the compiled plan: columns, sizes, select).
local legacy = require "monhost.mapping.legacy"

local M = {}

local USAGE = [[
usage: monhost mapping convert MAPPING.yaml [--customers customer_mapping.yaml]
                               [--subitems subitem-field-mapping.yaml]
                               [--board ID] [--subitem-board ID] [-o OUT.lua]
       monhost mapping convert customer_mapping.yaml [-o customers.lua]
       monhost mapping list [DIR]

convert writes an equivalent Lua mapping (stdout, or OUT.lua) and lists on
stderr, with YAML line numbers, everything it could not convert. With
--customers and -o, the alias table is written next to OUT.lua as
customers.lua. Exit status 0, or 1 on errors (2 on usage).
]]

local function write(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  f:write(text)
  f:close()
  return true
end

local function convert(args)
  local input, out, opts = nil, nil, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-o" or a == "--output" then out = args[i + 1]; i = i + 1
    elseif a == "--customers" then opts.customers = args[i + 1]; i = i + 1
    elseif a == "--subitems" then opts.subitems = args[i + 1]; i = i + 1
    elseif a == "--board" then opts.board = args[i + 1]; i = i + 1
    elseif a == "--subitem-board" then opts.subitem_board = args[i + 1]; i = i + 1
    elseif a:sub(1, 1) == "-" then io.stderr:write("monhost mapping convert: unknown option " .. a .. "\n" .. USAGE); return 2
    elseif not input then input = a
    else io.stderr:write(USAGE); return 2 end
    i = i + 1
  end
  if not input or (opts.board == nil and args.__missing) then io.stderr:write(USAGE); return 2 end
  for _, k in ipairs { "customers", "subitems", "board", "subitem_board" } do
    if opts[k] == nil and args[k] then opts[k] = args[k] end
  end
  -- the customer alias table alone
  local yaml = require "monhost.yaml"
  local doc = yaml.load_file(input)
  if type(doc) == "table" and doc.customers and not doc.exact_matches then
    local text, n = legacy.customers_to_lua(input)
    if not text then io.stderr:write("monhost: " .. tostring(n) .. "\n"); return 1 end
    if out then
      local ok, err = write(out, text)
      if not ok then io.stderr:write("monhost: " .. err .. "\n"); return 1 end
      io.stderr:write(("wrote %s (%d customers)\n"):format(out, n))
    else
      io.write(text)
    end
    return 0
  end
  local m, err = legacy.parse(input, { subitems = opts.subitems })
  if not m then io.stderr:write("monhost: " .. tostring(err) .. "\n"); return 1 end
  local aliases
  if opts.customers then
    if out then
      local dir = out:match("^(.*)/[^/]*$") or "."
      local text, n = legacy.customers_to_lua(opts.customers)
      if not text then io.stderr:write("monhost: " .. tostring(n) .. "\n"); return 1 end
      local cpath = dir .. "/customers.lua"
      local ok, werr = write(cpath, text)
      if not ok then io.stderr:write("monhost: " .. werr .. "\n"); return 1 end
      io.stderr:write(("wrote %s (%d customers)\n"):format(cpath, n))
      aliases = "customers"
    else
      aliases = opts.customers
    end
  end
  local text = legacy.to_lua(m, { aliases = aliases, board = opts.board, subitem_board = opts.subitem_board })
  if out then
    local ok, werr = write(out, text)
    if not ok then io.stderr:write("monhost: " .. werr .. "\n"); return 1 end
    io.stderr:write(("wrote %s (%d columns, %d cleaning rules, %d value maps)\n"):format(out, #m.columns, #m.clean,
      (function() local n = 0 for _, c in ipairs(m.columns) do if c.map then n = n + 1 end end return n end)()))
  else
    io.write(text)
  end
  for _, n in ipairs(m.notes) do io.stderr:write(("%s:%s: note: %s\n"):format(input, tostring(n.line), n.what)) end
  for _, n in ipairs(m.sub_notes or {}) do io.stderr:write(("%s:%s: note: %s\n"):format(opts.subitems, tostring(n.line), n.what)) end
  for _, u in ipairs(m.unconverted) do
    io.stderr:write(("%s:%s: not converted: %s\n"):format(input, tostring(u.line), u.what))
  end
  return 0
end

function M.main(cmd, ...)
  local args = { ... }
  if cmd == "convert" then return convert(args) end
  if cmd == "list" then
    local mapping = require "monhost.mapping"
    for _, n in ipairs(mapping.list(args[1] or mapping.dir())) do print(n) end
    return 0
  end
  io.stderr:write(USAGE)
  return (cmd == nil or cmd == "help" or cmd == "--help") and 0 or 2
end

return M
