-- monhost.hash: the canonical hash of what would be sent for an order.
local hash = require "monhost.hash"
local colvals = require "monhost.colvals"

local function order(over)
  local o = {
    item_name = "JWHD100120 WHITE JOO-00505",
    group_name = "JOHNNIE O SPRING SUMMER 2026",
    column_values = { text_mkr5wya6 = "JOO-00505", dropdown_mkr5s5n3 = { labels = { "WOMENS" } },
      date_mkr5zp5 = { date = "2025-05-20" }, numeric_mkr5cact = "28.86" },
    subitems = {
      { name = "Size S", column_values = { dropdown_mkrak7qp = { labels = { "S" } }, numeric_mkra7j8e = "12" } },
      { name = "Size M", column_values = { dropdown_mkrak7qp = { labels = { "M" } }, numeric_mkra7j8e = "24" } },
    },
  }
  for k, v in pairs(over or {}) do o[k] = v end
  return o
end

describe("hash.order", function()
  it("is 128-bit hex, and the item hash differs from the order hash", function()
    local h, ih = hash.order(order())
    matches(h, "^%x+$")
    eq(#h, 32)
    eq(#ih, 32)
    ok(h ~= ih)
  end)
  it("does not depend on table insertion order", function()
    local a = order()
    local keys = {}
    for k in pairs(a.column_values) do keys[#keys + 1] = k end
    -- build the same values in two opposite insertion orders, with extra keys removed
    local function build(list)
      local t = {}
      for _, k in ipairs(list) do t["pad" .. k] = true end
      for _, k in ipairs(list) do t[k] = a.column_values[k] end
      for _, k in ipairs(list) do t["pad" .. k] = nil end
      return t
    end
    table.sort(keys)
    local fwd = build(keys)
    local rev = {}
    for i = #keys, 1, -1 do rev[#rev + 1] = keys[i] end
    local bwd = build(rev)
    eq(hash.order(order { column_values = fwd }), hash.order(order { column_values = bwd }))
    eq(hash.value(fwd), hash.value(bwd))
  end)
  it("is the same for the formatter's JSON and for the values as a table", function()
    local f = colvals.new { { id = "date_mkr5zp5", type = "date" }, { id = "dropdown_mkr5s5n3", type = "dropdown" },
      { id = "numeric_mkr5cact", type = "numbers" }, { id = "text_mkr5wya6", type = "text" } }
    local json, vals = f:format({ "2025-05-20", "WOMENS", "28.86", "JOO-00505" }, true)
    local o = order()
    local by_json = order { column_values = nil, column_values_json = json, subitems = o.subitems }
    eq(hash.order(by_json), hash.order(order { column_values = vals }))
    eq(hash.order(by_json), hash.order(o))
  end)
  it("changes with every field: name, group, each value, each subitem", function()
    local base = hash.order(order())
    local seen = { [base] = "base" }
    local function differs(what, o)
      local h = hash.order(o)
      ok(not seen[h], what .. " gives the same hash as " .. tostring(seen[h]))
      seen[h] = what
    end
    differs("name", order { item_name = "X" })
    differs("group", order { group_name = "JOHNNIE O FALL WINTER 2026" })
    local nog = order()
    nog.group_name = nil
    differs("no group", nog)
    for k in pairs(order().column_values) do
      local o = order()
      o.column_values[k] = "changed"
      differs("value " .. k, o)
      local o2 = order()
      o2.column_values[k] = nil
      differs("without " .. k, o2)
    end
    local o = order()
    o.subitems[2].column_values.numeric_mkra7j8e = "25"
    differs("subitem qty", o)
    o = order()
    o.subitems[1].name = "Size XS"
    differs("subitem name", o)
    o = order()
    o.subitems[3] = { name = "Size L", column_values = {} }
    differs("one more subitem", o)
    differs("no subitems", order { subitems = {} })
  end)
  it("depends on subitem order", function()
    local o = order()
    o.subitems[1], o.subitems[2] = o.subitems[2], o.subitems[1]
    ok(hash.order(o) ~= hash.order(order()))
    -- the item hash ignores subitems
    eq(select(2, hash.order(o)), select(2, hash.order(order())))
  end)
  it("is stable across runs and platforms: a fixed canonical text and value", function()
    local o = { item_name = "A", group_name = "G", column_values = { b = "1", a = { labels = { "M" } } },
      subitems = { { name = "Size M", column_values = { z = "1" } } } }
    eq(hash.canonical(o), '["monhost.order/1","A","G",{"a":{"labels":["M"]},"b":"1"},[["Size M",{"z":"1"}]]]')
    -- XXH3-128 of that text, big-endian hex: the same on every machine
    eq(hash.order(o), hash.bytes(hash.canonical(o)))
  end)
  it("rejects values it cannot hash", function()
    raises(function() hash.order { item_name = {}, group_name = "g" } end, "item_name")
    raises(function() hash.order { item_name = "x", column_values = { f = print } } end, "cannot encode")
    raises(function() hash.order("x") end, "table expected")
  end)
end)

describe("hash.row (the update scan's source fingerprint)", function()
  local NULL = require("cjson").null
  local function le64(v) return string.pack("<i8", v) end
  it("hashes the documented encoding: type byte, fixed little-endian body", function()
    local bytes = "I" .. le64(42) .. "S" .. le64(3) .. "abc" .. "N" .. "N" .. "T" .. "F"
      .. "D" .. string.pack("<d", 2.5) .. "J" .. le64(7) .. '{"a":1}'
    eq(hash.row({ 42, "abc", NULL, nil, true, false, 2.5, { a = 1 } }, 8), hash.bytes(bytes))
  end)
  it("tells types and positions apart, and agrees where the JSON would", function()
    local h = hash.row
    ok(h { 1 } ~= h { "1" }, "integer vs text")
    ok(h { "a", "b" } ~= h { "b", "a" }, "order")
    ok(h { "ab", "" } ~= h { "a", "b" }, "lengths are part of it")
    eq(h({ 3 }), h({ 3.0 }), "an integral float is its integer")
    eq(h({ NULL, "x" }), h({ nil, "x" }, 2), "nil and NULL")
    ok(h({ "x" }, 2) ~= h({ "x" }, 1), "a trailing NULL counts")
    eq(h({ 0.0 }), h({ -0.0 }))
  end)
  it("matches between calls whatever ran in between (the buffer is reused)", function()
    local r = { ("x"):rep(100000), 1, "y" }
    local a = hash.row(r)
    hash.row({ ("z"):rep(300000) })
    hash.row({})
    eq(hash.row(r), a)
  end)
  it("rejects what is not a row", function()
    raises(function() hash.row("x") end, "table expected")
    raises(function() hash.row({}, -1) end, "row length")
    raises(function() hash.row({ print }) end, "cannot encode")
  end)
end)
