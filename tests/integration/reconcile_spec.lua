-- `monhost reconcile` against the emulator: a board filled by the create
-- flow, then edited by hand (a changed value, a deleted item, a duplicate,
-- an item of no order) and a sync state that lost a row (as after the
-- legacy tool). Each is reported as what it is, and --fix repairs it.
local CH = require "changes"
local cjson = require "cjson"

local DATE_COL = "date_mkr57811"
local ORDER_NO = "text_mkr5wya6"

local env
after_each(function() if env then env:close(); env = nil end end)

local function row(sql, ...)
  for r in env.db:rows(sql, ...) do return r end
end

local function reconcile(...)
  local json = env.dir .. "/reconcile.json"
  os.remove(json)
  local argv = { "reconcile", "--json", json }
  for _, a in ipairs { ... } do argv[#argv + 1] = a end
  local code, out, err = env:run_cmd(argv)
  if code == 1 then error("reconcile failed: " .. err) end
  local f = io.open(json)
  local rep = f and cjson.decode(f:read("a"))
  if f then f:close() end
  return code, rep, out, err
end

local function gql(ctx, doc, vars)
  local data, errors = ctx.mon:query(doc, vars)
  assert(data and not errors, errors and cjson.encode(errors))
  return data
end

describe("reconcile", function()
  it("reports hand edits, missing items, duplicates, orphans and orders to adopt, and fixes them", function()
    local e, why = CH.env { dialect = "sqlite", orders = { { customer = "GREYSON CLOTHIERS", count = 8, sizes_total = 24 } } }
    if not e then skip(why) end
    env = e
    CH.sync(env, "--customer", "GREYSON")
    CH.update(env)
    local code, rep, out = reconcile()
    eq(code, 0, "a freshly synced board is clean: " .. out)
    eq(rep.items, 8)
    eq(#rep.drift, 0)

    local ctx = CH.context(env)
    local keys = CH.orders(env)
    local function item(k) return row("SELECT item_id, source_key FROM MON_SyncState WHERE key1 = ?", k) end
    -- 1. a hand edit
    local edited = item(keys[1])
    gql(ctx, "mutation ($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, column_values: $v) { id } }",
      { b = CH.ITEMS_BOARD, i = edited[1], v = cjson.encode { [DATE_COL] = { date = "2001-01-01" } } })
    -- 2. an item deleted by hand
    local deleted = item(keys[2])
    gql(ctx, "mutation ($i: ID) { delete_item(item_id: $i) { id } }", { i = deleted[1] })
    -- 3. a duplicate of an order (what the legacy tool left on re-runs)
    local orig = CH.item(env, item(keys[3])[1])
    local vals = {}
    for id, cv in pairs(orig.column_values) do
      if id:match("^text_") then vals[id] = cv.text end
      if id:match("^dropdown_") then vals[id] = { labels = { cv.text } } end
    end
    local dup = gql(ctx, "mutation ($b: ID!, $n: String!, $v: JSON) { create_item(board_id: $b, item_name: $n, column_values: $v, create_labels_if_missing: true) { id } }",
      { b = CH.ITEMS_BOARD, n = orig.name, v = cjson.encode(vals) }).create_item.id
    -- 4. an item of no order
    local orphan = gql(ctx, "mutation ($b: ID!, $n: String!, $v: JSON) { create_item(board_id: $b, item_name: $n, column_values: $v) { id } }",
      { b = CH.ITEMS_BOARD, n = "HAND MADE", v = cjson.encode { [ORDER_NO] = "NOPE-1" } }).create_item.id
    -- 5. an order on the board that the sync state does not know
    local lost = item(keys[4])
    assert(env.db:exec("DELETE FROM MON_SyncState WHERE source_key = ?", lost[2]))
    assert(env.db:exec("DELETE FROM MON_SyncState_Subitems WHERE source_key = ?", lost[2]))

    code, rep, out = reconcile()
    eq(code, 2, out)
    eq(#rep.drift, 1, out)
    eq(rep.drift[1].item_id, edited[1])
    eq(rep.drift[1].diffs[1].column, DATE_COL)
    eq(rep.drift[1].diffs[1].board, "2001-01-01")
    eq(#rep.gone, 1)
    eq(rep.gone[1].item_id, deleted[1])
    eq(#rep.duplicates, 1)
    eq(rep.duplicates[1].keep, item(keys[3])[1], "the synced item is kept")
    eq(rep.duplicates[1].extra, { dup })
    eq(#rep.orphans, 1)
    eq(rep.orphans[1].item_id, orphan)
    eq(#rep.adoptable, 1)
    eq(rep.adoptable[1].item_id, lost[1])
    matches(out, "drift item " .. edited[1])

    -- dry run of the fixes changes nothing
    code, rep, out = reconcile("--fix", "all", "--dry-run")
    matches(out, "would fix adopt: 1")
    eq(#rep.adoptable, 1)
    eq(CH.item(env, dup).state, "active")

    code, rep, out = reconcile("--fix", "all")
    eq(code, 2, "the orphan is left to the user: " .. out)
    matches(out, "fixed: adopt 1, forget 1, relink 0, drift 1, duplicates 1")
    ok(not CH.item(env, dup), "the duplicate is archived")
    eq(row("SELECT item_id FROM MON_SyncState WHERE source_key = ?", lost[2])[1], lost[1], "adopted")
    ok(tonumber(env:scalar("SELECT COUNT(*) FROM MON_SyncState_Subitems WHERE source_key = ?", lost[2])) > 0,
      "its subitems adopted too")
    eq(env:count("MON_SyncState", "source_key = ?", deleted[2]), 0, "the deleted item's order is forgotten")

    -- the next sync re-creates the deleted order; the update step repairs the drift
    -- (sync runs the update step itself; a second update run must add nothing)
    local seq = CH.seq(env)
    CH.sync(env, "--customer", "GREYSON")
    CH.update(env)
    local muts = {}
    for _, m in ipairs(CH.mutations(env, seq)) do
      if m.field ~= "create_item" and m.field ~= "create_subitem" then muts[#muts + 1] = m end
    end
    -- the adopted order's values were recorded before it lost its row: equal, nothing to send
    eq(#muts, 1, "the drifted item gets monhost's values, once")
    eq(muts[1].field, "change_multiple_column_values")
    eq(muts[1].vars.item_id, edited[1])
    ok(CH.item(env, edited[1]).column_values[DATE_COL].text ~= "2001-01-01", "the hand edit is overwritten")
    code, rep, out = reconcile()
    eq(#rep.drift + #rep.gone + #rep.duplicates + #rep.adoptable + #rep.relink, 0, out)
    eq(#rep.orphans, 1)
  end)
end)
