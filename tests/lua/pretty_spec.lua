-- monhost.pretty: stable, readable printing for the REPL and test messages.
local pretty = require "monhost.pretty"
local cjson = require "cjson"

describe("pretty.format", function()
  it("prints nested tables with sorted keys, list items first", function()
    eq(pretty.format({ z = 1, a = { 3, 2 }, [2] = "two", [1] = "one", m = "x y" }),
      '{ "one", "two", a = { 3, 2 }, m = "x y", z = 1 }')
  end)

  it("quotes keys that are not identifiers and shows null", function()
    eq(pretty.format({ ["AAG ORDER NUMBER"] = "JOO-00505", v = cjson.null }),
      '{ ["AAG ORDER NUMBER"] = "JOO-00505", v = null }')
  end)

  it("marks cycles instead of recursing forever", function()
    local t = { name = "loop" }
    t.self = t
    eq(pretty.format(t), '{ name = "loop", self = <cycle> }')
  end)

  it("prints a table seen twice (not a cycle) in full both times", function()
    local shared = { 1 }
    eq(pretty.format({ a = shared, b = shared }), "{ a = { 1 }, b = { 1 } }")
  end)

  it("cuts long lists with a count of what was left out", function()
    local list = {}
    for i = 1, 120 do list[i] = i end
    local s = pretty.format(list, { max_items = 5 })
    matches(s, "^{ 1, 2, 3, 4, 5, %.%.%. %(115 more%) }$")
  end)

  it("breaks wide tables over lines with indentation", function()
    local t = {}
    for i = 1, 12 do t["column_" .. i] = string.rep("x", 10) end
    local s = pretty.format(t)
    matches(s, "^{\n  column_1 = \"xxxxxxxxxx\",\n  column_10 = ")
    matches(s, "\n}$")
  end)

  it("stops at the depth limit", function()
    eq(pretty.format({ a = { b = { c = { d = 1 } } } }, { depth = 2 }), "{ a = { b = {...} } }")
  end)

  it("keeps float and integer apart", function()
    eq(pretty.format({ 1, 1.0, 2.5 }), "{ 1, 1.0, 2.5 }")
  end)
end)
