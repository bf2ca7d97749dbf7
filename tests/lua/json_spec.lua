-- cjson is built in (linked statically) and shares its null with SQL/YAML.
local cjson = require "cjson"

describe("cjson", function()
  it("round-trips nested values, UTF-8 and escapes", function()
    local v = { name = "Café \"quoted\" \\ back\nslash ☕", list = { 1, 2.5, true, cjson.null },
                nested = { a = { b = { c = "deep" } } } }
    local back = cjson.decode(cjson.encode(v))
    eq(back, v)
  end)

  -- Debian's lua-cjson 2.1.0 decodes every number as a float (see
  -- docs/architecture.md); values up to 14 significant digits are exact.
  it("round-trips 14-digit numbers exactly", function()
    local n = cjson.decode(cjson.encode({ 92005173291234 }))[1]
    eq(math.tointeger(n), 92005173291234)
    eq(cjson.encode({ 10000000 }), "[10000000]")
  end)

  it("is available as cjson.safe too, returning errors instead of raising", function()
    local safe = require "cjson.safe"
    local v, err = safe.decode("{bad")
    eq(v, nil)
    ok(err and #err > 0)
    raises(function() cjson.decode("{bad") end)
  end)
end)
