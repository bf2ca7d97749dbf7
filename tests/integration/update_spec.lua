-- The update step (scripts/monhost/pipeline/update.lua) against the monday
-- emulator: orders are created by the real create flow (scripts/sync.lua),
-- then ORDERS_UNIFIED is edited and the update step must send exactly the
-- changes, only once, and keep failed ones pending. SQLite throughout;
-- the core scenario also on PostgreSQL. MONHOST_QUICK=1: smaller boards.
local CH = require "changes"
local cjson = require "cjson"

local quick = os.getenv("MONHOST_QUICK")
local N = quick and 200 or 1000
local DATE_COL = "date_mkr57811" -- CUSTOMER EX FACTORY DATE <- EX FACTORY DATE
local QTY_COL = "numeric_mkra7j8e"
local ORDER_STATUS = "color_mkr5j5pp"

local env
local function setup(dialect, count)
  local e, why = CH.env { dialect = dialect or "sqlite",
    orders = { { customer = "GREYSON CLOTHIERS", count = count or 40, sizes_total = (count or 40) * 3 } } }
  if not e then skip(why) end
  env = e
  CH.sync(env, "--customer", "GREYSON")
  return e
end
after_each(function() if env then env:close(); env = nil end end)

local function values_of(m)
  return cjson.decode(m.vars.column_values)
end

local function keys_of(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- first row of a query
local function row(sql, ...)
  for r in env.db:rows(sql, ...) do return r end
end

local function item_of(key1)
  local r = row("SELECT item_id, row_hash FROM MON_SyncState WHERE key1 = ?", key1)
  return r[1], r[2]
end

local function core(dialect, count)
  setup(dialect, count)
  -- finalize recorded what the creates sent, with source fingerprints
  eq(env:count("MON_SyncState_Values"), count, "finalize records the created values")
  eq(env:count("MON_SyncState_Values", "src_hash IS NOT NULL"), count, "and the source fingerprints")
  -- first update run after the creates: nothing sent, nothing transformed
  local seq = CH.seq(env)
  local ctx = CH.update(env)
  eq(#CH.mutations(env, seq), 0, "nothing changed since the creates")
  eq(ctx.stats.update_checked, count)
  eq(ctx.stats.update_suspects or 0, 0, "the created orders' fingerprints match the scan's")
  eq(env:count("MON_SyncState_Values"), count, "confirmed values kept for every synced order")
  eq(env:count("MON_SyncState_Values", "src_hash IS NOT NULL"), count, "a source fingerprint for every order")

  -- one date on 5 orders
  local keys = CH.orders(env)
  local five = { keys[3], keys[7], keys[11], keys[19], keys[count] }
  CH.set(env, "EX FACTORY DATE", "2031-03-04", five)
  seq = CH.seq(env)
  ctx = CH.update(env)
  local muts = CH.mutations(env, seq)
  eq(#muts, 5, "exactly one mutation per changed order")
  local items = {}
  for _, m in ipairs(muts) do
    eq(m.field, "change_multiple_column_values")
    eq(keys_of(values_of(m)), { DATE_COL }, "only the changed column is sent")
    eq(values_of(m)[DATE_COL].date, "2031-03-04")
    items[m.vars.item_id] = true
  end
  for _, k in ipairs(five) do
    local id = item_of(k)
    ok(items[id], "the changed order's item was updated: " .. k)
    local it = CH.item(env, id)
    eq(it.column_values[DATE_COL].text, "2031-03-04", "the board has the new date")
  end
  eq(ctx.stats.updates, 5)

  -- a new size on one order
  local target = keys[5]
  local empty
  for r in env.db:rows('SELECT "XXXL", "XS" FROM ' .. CH.T(env) .. ' WHERE "AAG ORDER NUMBER" = ?', target) do
    empty = (r[1] == cjson.null) and "XXXL" or (r[2] == cjson.null and "XS") or nil
  end
  assert(empty, "the generated order has a free size")
  CH.set(env, empty, 24, target)
  seq = CH.seq(env)
  CH.update(env)
  muts = CH.mutations(env, seq)
  eq(#muts, 1, "one mutation for one new size")
  eq(muts[1].field, "create_subitem")
  eq(muts[1].vars.item_name, "Size " .. empty)
  local parent = item_of(target)
  eq(muts[1].vars.parent_item_id, parent)
  local nsub = tonumber(env:scalar("SELECT COUNT(*) FROM MON_SyncState_Subitems WHERE source_key LIKE ? AND size_label = ?",
    target .. "|%", empty))
  eq(nsub, 1, "the new subitem is in the sync state")

  -- nothing changed: no mutation at all
  seq = CH.seq(env)
  ctx = CH.update(env)
  eq(#CH.mutations(env, seq), 0, "a no-change run sends nothing")
  eq(ctx.stats.update_unchanged, count)
  eq(ctx.stats.update_suspects, 0, "a no-change run transforms nothing: every fingerprint matched")
end

describe("update: change detection", function()
  it("5 changed dates -> 5 single-column updates; a new size -> one create_subitem; no change -> 0 mutations (SQLite)", function()
    core("sqlite", N)
  end)

  it("the same on PostgreSQL", function()
    core("postgres", quick and 40 or 200)
  end)

  it("after a mapping change, one full pass re-checks every order and sends only real changes (PostgreSQL)", function()
    -- more suspects than update.SUSPECTS_FULL_PASS: the sync reads them in
    -- one pass over its second connection while it writes on the first
    local n = 1050
    setup("postgres", n)
    local keys = CH.orders(env)
    -- a mapping change invalidates every stored fingerprint
    assert(env.db:exec("UPDATE MON_SyncState_Values SET plan_fp = 'an older mapping'"))
    CH.set(env, "EX FACTORY DATE", "2032-02-03", keys[9])
    local seq = CH.seq(env)
    CH.sync(env, "--customer", "GREYSON")
    local muts = CH.mutations(env, seq)
    eq(#muts, 1, "only the order that really changed")
    eq(muts[1].field, "change_multiple_column_values")
    eq(keys_of(values_of(muts[1])), { DATE_COL })
    eq(env:count("MON_SyncState_Values", "plan_fp = 'an older mapping'"), 0, "every fingerprint recorded again")
    -- and the next run is a no-change run
    seq = CH.seq(env)
    local ctx = CH.update(env)
    eq(#CH.mutations(env, seq), 0)
    eq(ctx.stats.update_suspects or 0, 0)
    eq(ctx.stats.update_checked, n)
  end)

  it("a change in a column the mapping does not use causes no update", function()
    setup("sqlite", 20)
    CH.update(env)
    local keys = CH.orders(env)
    CH.set(env, "MAKE OR BUY", "BUY", { keys[1], keys[2] })
    local seq = CH.seq(env)
    local ctx = CH.update(env)
    eq(#CH.mutations(env, seq), 0)
    eq(ctx.stats.update_unchanged, 20)
  end)

  it("the first change after the create flow diffs against the values created", function()
    -- no update run in between: the values are those finalize recorded, and
    -- only the changed column is sent
    setup("sqlite", 10)
    local keys = CH.orders(env)
    CH.set(env, "EX FACTORY DATE", "2031-05-06", keys[2])
    local seq = CH.seq(env)
    CH.update(env)
    local muts = CH.mutations(env, seq)
    eq(#muts, 1)
    eq(muts[1].field, "change_multiple_column_values")
    ok(values_of(muts[1])[DATE_COL], "the changed date is sent")
    eq(CH.item(env, item_of(keys[2])).column_values[DATE_COL].text, "2031-05-06")
  end)

  it("--dry-run prints column: old -> new and the operations, and sends nothing", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    local old = CH.item(env, item_of(keys[4])).column_values[DATE_COL].text
    CH.set(env, "EX FACTORY DATE", "2031-07-08", keys[4])
    local seq = CH.seq(env)
    local ctx, out = CH.update(env, { dry_run = true })
    eq(#CH.mutations(env, seq), 0, "dry run sends nothing")
    matches(out, "CUSTOMER EX FACTORY DATE %(" .. DATE_COL .. "%): " .. old:gsub("%-", "%%-") .. " %-> 2031%-07%-08")
    eq(#ctx.dry_ops, 1)
    eq(ctx.dry_ops[1].field, "change_multiple_column_values")
    -- and the real run afterwards still sends it
    CH.update(env)
    eq(#CH.mutations(env, seq), 1)
  end)
end)

describe("update: failures", function()
  it("a failed update stays pending with the old hash and is retried by the next run", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    local id, hash0 = item_of(keys[6])
    local before = CH.item(env, id).column_values[DATE_COL].text
    CH.set(env, "EX FACTORY DATE", "2032-01-02", keys[6])
    env.emu:config { faults = { next = { "alias_error" } } }
    local ctx = CH.update(env, { graphql = { retry_op_errors = false } })
    eq(ctx.stats.updates_failed, 1)
    eq(#ctx.failures, 1)
    local _, hash1 = item_of(keys[6])
    eq(hash1, hash0, "the stored hash is still the old one")
    local r = row("SELECT error, attempts, src_hash FROM MON_SyncState_Values WHERE source_key LIKE ?", keys[6] .. "|%")
    matches(r[1], "INTERNAL_SERVER_ERROR")
    eq(math.tointeger(r[2]), 1)
    eq(r[3], cjson.null, "no fingerprint: the next run looks at it again")
    eq(CH.item(env, id).column_values[DATE_COL].text, before, "the board was not changed")
    -- next run: sent again and recorded
    local seq = CH.seq(env)
    ctx = CH.update(env)
    local muts = CH.mutations(env, seq)
    eq(#muts, 1)
    eq(keys_of(values_of(muts[1])), { DATE_COL })
    eq(CH.item(env, id).column_values[DATE_COL].text, "2032-01-02")
    local _, hash2 = item_of(keys[6])
    ok(hash2 ~= hash0, "the new hash is stored once monday confirmed")
    r = row("SELECT error, attempts FROM MON_SyncState_Values WHERE source_key LIKE ?", keys[6] .. "|%")
    eq(r[1], cjson.null)
    eq(math.tointeger(r[2]), 0)
    seq = CH.seq(env)
    CH.update(env)
    eq(#CH.mutations(env, seq), 0, "and then it is done")
  end)

  it("a part that failed is retried alone; the parts monday confirmed are not sent again", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    -- two changes on one order: a date and a quantity (two operations)
    local size
    for r in env.db:rows("SELECT size_label FROM MON_SyncState_Subitems WHERE source_key LIKE ?", keys[3] .. "|%") do size = r[1] end
    CH.set(env, "EX FACTORY DATE", "2032-02-03", keys[3])
    CH.set(env, size, 300, keys[3])
    -- the first alias of the next request fails
    env.emu:config { faults = { next = { "alias_error" } } }
    CH.update(env, { graphql = { retry_op_errors = false } })
    local seq = CH.seq(env)
    CH.update(env)
    local muts = CH.mutations(env, seq)
    eq(#muts, 1, "only the failed part is sent again")
    local subs = tonumber(env:scalar("SELECT qty FROM MON_SyncState_Subitems WHERE source_key LIKE ? AND size_label = ?",
      keys[3] .. "|%", size))
    eq(subs, 300)
    eq(CH.item(env, item_of(keys[3])).column_values[DATE_COL].text, "2032-02-03")
  end)
end)

describe("update: subitems, groups, cancellations, missing orders", function()
  local function a_size(key)
    for r in env.db:rows("SELECT size_label, subitem_id, qty FROM MON_SyncState_Subitems WHERE source_key LIKE ? ORDER BY size_label",
      key .. "|%") do return r[1], r[2], math.tointeger(r[3]) end
  end

  it("a changed quantity updates the subitem; a quantity dropped to 0 zeroes it and keeps it", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    local size, sid = a_size(keys[1])
    CH.set(env, size, 18, keys[1])
    local seq = CH.seq(env)
    CH.update(env)
    local muts = CH.mutations(env, seq)
    eq(#muts, 1)
    eq(muts[1].vars.item_id, sid)
    eq(values_of(muts[1]), { [QTY_COL] = "18" })
    eq(CH.item(env, sid).column_values[QTY_COL].text, "18")
    -- to NULL: zero, keep
    CH.set(env, size, cjson.null, keys[1])
    seq = CH.seq(env)
    local ctx = CH.update(env)
    muts = CH.mutations(env, seq)
    eq(#muts, 1)
    eq(values_of(muts[1]), { [QTY_COL] = "0" })
    eq(ctx.stats.subitems_zeroed, 1)
    local it = CH.item(env, sid)
    ok(it and it.state == "active", "the subitem is kept")
    eq(it.column_values[QTY_COL].text, "0")
    seq = CH.seq(env)
    CH.update(env)
    eq(#CH.mutations(env, seq), 0, "a zeroed subitem is not zeroed again")
    -- and back: the same subitem gets the quantity again (no second subitem)
    CH.set(env, size, 6, keys[1])
    seq = CH.seq(env)
    CH.update(env)
    muts = CH.mutations(env, seq)
    eq(#muts, 1)
    eq(muts[1].field, "change_multiple_column_values")
    eq(muts[1].vars.item_id, sid)
  end)

  it("with changes.zero = \"delete\" the subitem is deleted", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    local size, sid = a_size(keys[2])
    CH.set(env, size, 0, keys[2])
    local seq = CH.seq(env)
    local ctx = CH.update(env, { changes = { zero = "delete" } })
    local muts = CH.mutations(env, seq)
    eq(#muts, 1)
    eq(muts[1].field, "delete_item")
    eq(muts[1].vars.item_id, sid)
    eq(ctx.stats.subitems_deleted, 1)
    ok(not CH.item(env, sid), "gone from the board")
    eq(tonumber(env:scalar("SELECT COUNT(*) FROM MON_SyncState_Subitems WHERE subitem_id = ?", sid)), 0)
  end)

  it("a changed group moves the item, creating the group", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    CH.set(env, "AAG SEASON", "2031 WINTER", keys[5])
    local seq = CH.seq(env)
    local ctx = CH.update(env)
    local c = CH.count_fields(CH.mutations(env, seq))
    eq(c.move_item_to_group, 1)
    eq(c.create_group, 1)
    eq(ctx.stats.items_moved, 1)
    local id = item_of(keys[5])
    local _, _, groups = env:board()
    eq(groups[CH.item(env, id).group_id], "GREYSON 2031 WINTER")
    eq(row("SELECT group_name FROM MON_SyncState WHERE item_id = ?", id)[1], "GREYSON 2031 WINTER")
  end)

  it("cancelled orders are reported by default and get the mapping's status when it says so", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    assert(env.db:exec('UPDATE ' .. CH.T(env) .. ' SET "ORDER TYPE" = ? WHERE 1 = 1', "ACTIVE"))
    CH.update(env)
    CH.set(env, "ORDER TYPE", "CANCELLED", keys[8])
    local seq = CH.seq(env)
    local ctx = CH.update(env)
    eq(ctx.stats.orders_cancelled, 1)
    eq(ctx.cancelled[1].key:match("^[^|]+"), keys[8])
    -- the mapped ORDER TYPE column changes like any column; nothing else is sent
    eq(CH.count_fields(CH.mutations(env, seq)), { change_multiple_column_values = 1 })
    -- a mapping that sets a status on cancellation
    CH.set(env, "ORDER TYPE", "CANCELLED", keys[9])
    seq = CH.seq(env)
    ctx = CH.update(env, { changes = { cancelled = { column = ORDER_STATUS, value = "CANCELLED" } } })
    local muts = CH.mutations(env, seq)
    local set
    for _, m in ipairs(muts) do
      local v = values_of(m)
      if v[ORDER_STATUS] then set = m end
    end
    ok(set, "the status column was set")
    eq(CH.item(env, item_of(keys[9])).column_values[ORDER_STATUS].text, "CANCELLED")
    seq = CH.seq(env)
    CH.update(env, { changes = { cancelled = { column = ORDER_STATUS, value = "CANCELLED" } } })
    eq(#CH.mutations(env, seq), 0, "done once")
  end)

  it("orders gone from ORDERS_UNIFIED are reported, or archived once when the rule says so", function()
    setup("sqlite", 10)
    CH.update(env)
    local keys = CH.orders(env)
    assert(env.db:exec('DELETE FROM ' .. CH.T(env) .. ' WHERE "AAG ORDER NUMBER" = ?', keys[2]))
    local seq = CH.seq(env)
    local ctx = CH.update(env)
    eq(ctx.stats.orders_missing, 1)
    eq(ctx.missing[1].key:match("^[^|]+"), keys[2])
    eq(#CH.mutations(env, seq), 0, "default: report only")
    ctx = CH.update(env, { changes = { missing = "archive" } })
    local muts = CH.mutations(env, seq)
    eq(#muts, 1)
    eq(muts[1].field, "archive_item")
    local id = item_of(keys[2])
    eq(muts[1].vars.item_id, id)
    seq = CH.seq(env)
    ctx = CH.update(env, { changes = { missing = "archive" } })
    eq(#CH.mutations(env, seq), 0, "archived once")
    eq(ctx.stats.orders_missing, 1, "still reported")
    eq(ctx.stats.orders_missing_new, 0)
  end)

  it("the step runs inside scripts/sync.lua once installed after finalize", function()
    setup("sqlite", 5)
    local script = env.dir .. "/sync_update.lua"
    local f = assert(io.open(script, "w"))
    f:write('require("monhost.pipeline.update").install(require "monhost.pipeline")\n',
      'os.exit(require("monhost.pipeline.runner").main({ ... }), true)\n')
    f:close()
    local keys = CH.orders(env)
    CH.set(env, "EX FACTORY DATE", "2033-01-01", keys[1])
    local code, out = env:run_cmd({ "run", script, "--config", env.config_path, "--quiet", "--customer", "GREYSON" })
    eq(code, 0, out)
    matches(out, "1 updated")
    eq(CH.item(env, item_of(keys[1])).column_values[DATE_COL].text, "2033-01-01")
  end)
end)
