-- pipeline_spec.lua: the sync workflow end to end against the emulator, on
-- SQLite and on PostgreSQL: ORDERS_UNIFIED (generated) -> staging -> monday
-- -> ids written back -> sync state, the batch log, reruns, rejected
-- records and `monhost retry`, status, dry run, and the board lock.
local P = require "pipeline"
local cjson = require "cjson"
local mapping = require "monhost.mapping"

local GREYSON = "GREYSON CLOTHIERS"

-- What the board must hold for generated rows: computed here from the rows
-- themselves and the mapping, independently of the pipeline.
local function expected(env, opts)
  local plan = assert(mapping.load("greyson", { board = P.REF .. "board_9200517329_metadata.json",
    subitem_board = P.REF .. "board_9200771505_metadata.json", columns = mapping.source_columns(P.TSV),
    mappings_dir = "mappings" }))
  local gen = P.orders()
  local out = {}
  for row in gen.rows(env.cols, opts) do
    local sizes = {}
    for _, c in ipairs(env.cols) do
      if c.ordinal > 50 and c.ordinal < 212 and type(row[c.name]) == "number" and row[c.name] > 0 then
        sizes[c.name] = row[c.name]
      end
    end
    local rec = plan:transform(row)
    out[#out + 1] = { row = row, rec = rec, sizes = sizes,
      name = row["CUSTOMER STYLE"] .. " " .. row["CUSTOMER COLOUR DESCRIPTION"] .. " " .. row["AAG ORDER NUMBER"] }
  end
  return out
end

local function by(list, field)
  local t = {}
  for _, x in ipairs(list) do
    local k = x[field]
    t[k] = t[k] or {}
    table.insert(t[k], x)
  end
  return t
end

-- HTTP requests whose document creates items or subitems.
local function create_requests(env)
  local n = 0
  for _, e in ipairs(env.emu:log().requests) do
    local d = e.document or ""
    if d:find("create_item", 1, true) or d:find("create_subitem", 1, true) then n = n + 1 end
  end
  return n
end

local function mutations(env) return env.emu:stats().mutation_requests end

for _, dialect in ipairs { "sqlite", "postgres" } do
  describe(dialect, function()
    local env, skipped
    local function setup(orders, extra)
      local e, err = P.env { dialect = dialect, orders = orders, config = extra }
      if not e then skip(err) end
      env = e
      return e
    end
    after_each(function() if env then env:close(); env = nil end end)

    it("69 orders with 264 sizes become 69 items and 264 subitems, ids written back, staging cleared", function()
      local spec = { customer = GREYSON, count = 69, sizes_total = 264, seed = 7 }
      setup({ spec })
      local code, out, err = env:sync("--customer", "GREYSON", "--summary-json", env.dir .. "/summary.json")
      eq(code, 0, out .. err)
      local items, subitems, groups = env:board()
      local want = expected(env, { customer = GREYSON, count = 69, sizes_total = 264, seed = 7, start = 1 })
      eq(#items, 69)
      eq(#subitems, 264)
      local byname = by(items, "name")
      local subs_of = by(subitems, "parent_item_id")
      for _, w in ipairs(want) do
        local got = byname[w.name]
        ok(got and #got == 1, "exactly one item named " .. w.name)
        local it = got[1]
        eq(groups[it.group_id], w.rec.group_name, "group of " .. w.name)
        eq(it.column_values.text_mkr5wya6.text, w.row["AAG ORDER NUMBER"])
        eq(it.column_values.text_mkr5ej2x.text, w.row["PO NUMBER"])
        for col in pairs(cjson.decode(w.rec.column_values_json)) do
          ok(it.column_values[col] ~= nil, w.name .. ": column " .. col .. " set")
        end
        local subs = subs_of[it.id] or {}
        local n = 0
        for size, qty in pairs(w.sizes) do
          n = n + 1
          local found
          for _, s in ipairs(subs) do if s.name == "Size " .. size then found = s end end
          ok(found, w.name .. ": subitem Size " .. size)
          eq(found.column_values.dropdown_mkrak7qp.text, size)
          eq(tonumber(found.column_values.numeric_mkra7j8e.text), qty)
        end
        eq(#subs, n, w.name .. ": number of subitems")
      end
      -- ids written back: the sync state points at exactly these items
      eq(env:count("MON_SyncState"), 69)
      eq(env:count("MON_SyncState_Subitems"), 264)
      local ids = {}
      for row in env.db:rows("SELECT item_id, source_key FROM MON_SyncState") do ids[row[1]] = row[2] end
      for _, it in ipairs(items) do ok(ids[it.id], "item " .. it.id .. " in MON_SyncState") end
      for row in env.db:rows("SELECT subitem_id, item_id FROM MON_SyncState_Subitems") do
        local s
        for _, x in ipairs(subitems) do if x.id == row[1] then s = x end end
        ok(s and s.parent_item_id == row[2], "subitem " .. tostring(row[1]) .. " under its parent")
      end
      eq(env:count("STG_MON_CustMasterSchedule"), 0)
      eq(env:count("STG_MON_CustMasterSchedule_Subitems"), 0)
      eq(env:count("MON_BoardLock"), 0)
      local b = env.db:first("SELECT status, orders_selected, items_created, subitems_created, api_calls, customer FROM MON_BatchProcessing")
      eq({ b[1], b[2], b[3], b[4], b[6] }, { "SUCCESS", 69, 69, 264, "GREYSON" })
      ok(b[5] >= 3, "API calls logged")
      ok(create_requests(env) <= 4, "items and subitems in <= 4 requests, got " .. create_requests(env))
      local s = cjson.decode(P.read(env.dir .. "/summary.json"))
      eq({ s.orders, s.items_created, s.subitems_created, s.exit_code }, { 69, 69, 264, 0 })
    end)

    it("a second run creates nothing and sends no mutation", function()
      setup({ { customer = GREYSON, count = 20 } })
      eq((env:sync("--customer", "GREYSON")), 0)
      local before = mutations(env)
      local n1 = #(env:board())
      local code, out = env:sync("--all")
      eq(code, 0, out)
      eq(mutations(env), before)
      eq(#(env:board()), n1)
      matches(out, "0 orders")
    end)

    it("a record the board rejects fails alone; monhost retry syncs it after the fix", function()
      setup({ { customer = GREYSON, count = 69, sizes_total = 264 } })
      -- an item name over monday's 255 characters
      env.db:exec('UPDATE ' .. env.db:quote_ident("ORDERS_UNIFIED") .. ' SET ' .. env.db:quote_ident("CUSTOMER STYLE")
        .. ' = ? WHERE ' .. env.db:quote_ident("AAG ORDER NUMBER") .. ' = ?', string.rep("L", 250), "GRE-00005")
      local code, out, err = env:sync("--customer", "GREYSON")
      eq(code, 2, out .. err)
      matches(out, "FAILED item")
      local items = env:board()
      eq(#items, 68)
      eq(env:count("STG_MON_CustMasterSchedule"), 1)
      local row = env.db:first("SELECT state, error, key1 FROM STG_MON_CustMasterSchedule")
      eq(row[1], "FAILED")
      eq(row[3], "GRE-00005")
      matches(row[2], "ItemNameTooLong")
      eq(env:count("MON_SyncState"), 68)
      -- status shows it
      local scode, sout = env:run_cmd({ "status" })
      eq(scode, 0, sout)
      matches(sout, "1 failed")
      matches(sout, "ItemNameTooLong")
      -- a plain rerun does not touch it
      eq((env:sync("--customer", "GREYSON")), 0)
      eq(#(env:board()), 68)
      -- fix the source, retry
      env.db:exec('UPDATE ' .. env.db:quote_ident("ORDERS_UNIFIED") .. ' SET ' .. env.db:quote_ident("CUSTOMER STYLE")
        .. ' = ? WHERE ' .. env.db:quote_ident("AAG ORDER NUMBER") .. ' = ?', "GR5555", "GRE-00005")
      local rcode, rout, rerr = env:run_cmd({ "retry" })
      eq(rcode, 0, rout .. rerr)
      items = env:board()
      eq(#items, 69)
      eq(env:count("STG_MON_CustMasterSchedule"), 0)
      eq(env:count("STG_MON_CustMasterSchedule_Subitems"), 0)
      eq(env:count("MON_SyncState"), 69)
      eq(env:count("MON_SyncState_Subitems"), 264)
      local n = 0
      for _, it in ipairs(items) do if it.name:find("GRE-00005", 1, true) then n = n + 1 end end
      eq(n, 1)
    end)

    it("--dry-run prints the operations and changes nothing", function()
      setup({ { customer = GREYSON, count = 5 } })
      local code, out = env:sync("--customer", "GREYSON", "--dry-run")
      eq(code, 0, out)
      local ops = 0
      for _ in out:gmatch("mutation { create_item%(") do ops = ops + 1 end
      eq(ops, 5)
      ok(out:find("create_subitem(", 1, true), "subitem operations printed")
      matches(out, "dry run")
      eq(#(env:board()), 0)
      eq(mutations(env), 0)
      eq(env:count("STG_MON_CustMasterSchedule"), 0)
      eq(env:count("MON_SyncState"), 0)
      eq(env:count("MON_BatchProcessing"), 0)
    end)

    it("--all syncs every customer in its own batch; --po one order", function()
      setup({ { customer = GREYSON, count = 4 }, { customer = "JOHNNIE O", count = 3 }, { customer = "BOGGI MILANO", count = 2 } })
      local code, out = env:sync("--po", "JOH-00005")
      eq(code, 0, out)
      local items = env:board()
      eq(#items, 1)
      matches(items[1].name, "JOH%-00005")
      code, out = env:sync("--all")
      eq(code, 0, out)
      eq(#(env:board()), 9)
      ok(env:count("MON_BatchProcessing") >= 3, "a batch per customer")
    end)

    it("refuses a second run on a board that is locked by a live process", function()
      setup({ { customer = GREYSON, count = 2 } })
      -- this test process holds the lock (it is alive)
      local lock = require "monhost.pipeline.lock"
      local l = assert(lock.acquire(require("monhost.pipeline.common").strict(env.db), P.ITEMS_BOARD))
      local code, out, err = env:sync("--customer", "GREYSON")
      eq(code, 1)
      matches(err, "being synced by")
      eq(#(env:board()), 0)
      lock.release(env.db, l)
      eq((env:sync("--customer", "GREYSON")), 0)
      eq(#(env:board()), 2)
    end)

    it("writes a Prometheus textfile", function()
      setup({ { customer = GREYSON, count = 3 } })
      local f = env.dir .. "/monhost.prom"
      eq((env:sync("--customer", "GREYSON", "--metrics-file", f)), 0)
      local text = P.read(f)
      matches(text, "\nmonhost_sync_items_created 3\n")
      matches(text, "# TYPE monhost_sync_last_run_success gauge")
      matches(text, "\nmonhost_sync_last_run_exit_code 0\n")
    end)
  end)
end
