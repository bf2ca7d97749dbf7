-- show_board.lua: print what is on the board (groups, items, subitems),
-- read through the GraphQL API like any client would.
--   monhost run examples/show_board.lua URL BOARD_ID [N_ITEMS]
local graphql = require "monhost.graphql"
local url, board, n = arg[1], arg[2], tonumber(arg[3] or "5")
local mon = graphql.client { url = url }
local data, errs = mon:query([[query ($b: [ID!]) { boards(ids: $b) { name items_count groups { id title }
  items_page(limit: 500) { items { name group { title } subitems { name column_values { id text } } } } } }]], { b = { board } })
if not data then error(require("cjson").encode(errs)) end
local b = data.boards[1]
print(("board %q: %d items"):format(b.name, b.items_count or #b.items_page.items))
local per = {}
for _, it in ipairs(b.items_page.items) do per[it.group.title] = (per[it.group.title] or 0) + 1 end
for _, g in ipairs(b.groups) do
  if per[g.title] then print(("  group %-32s %4d items"):format(g.title, per[g.title])) end
end
print("first items:")
for i, it in ipairs(b.items_page.items) do
  if i > n then break end
  local sizes = {}
  for _, s in ipairs(it.subitems or {}) do
    local qty
    for _, cv in ipairs(s.column_values or {}) do if cv.id == "numeric_mkra7j8e" then qty = cv.text end end
    sizes[#sizes + 1] = s.name:gsub("^Size ", "") .. "=" .. tostring(qty)
  end
  print(("  %-40s [%s]  %s"):format(it.name, it.group.title, table.concat(sizes, " ")))
end
