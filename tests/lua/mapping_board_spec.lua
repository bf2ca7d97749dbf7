-- monhost board pull against the local monday emulator (127.0.0.1 only):
-- the written file is in the metadata format, and mappings load from it.
local sys = require "monhost.sys"
local fx = require "mapping_fixtures"
local mapping = require "monhost.mapping"

describe("monhost board pull", function()
  it("writes boards/ID.json that check and mapping.load accept", function()
    if os.getenv("MONHOST_QUICK") then skip("MONHOST_QUICK: no emulator") end
    if not fx.have_reference() then skip("reference files not present") end
    local node = io.popen("command -v node"):read("a")
    if node == "" then skip("node not installed") end
    local tmp = assert(sys.tmpdir("monhost-board"))
    local pid = assert(sys.spawn({ "tests/emulator/start", "--port", "0" },
      { stdout = tmp .. "/url", stderr = tmp .. "/err" }))
    local url
    for _ = 1, 200 do -- up to 20 s for the emulator to listen
      local f = io.open(tmp .. "/url")
      url = f and f:read("l")
      if f then f:close() end
      if url and url:match("^http") then break end
      sys.sleep(0.1)
    end
    local ok_, err = pcall(function()
      ok(url and url:match("^http://127%.0%.0%.1:"), "emulator did not start")
      local sh = require "sh"
      local out = tmp .. "/boards/9200517329.json"
      local _, e, code = sh.run("MONDAY_API_TOKEN=test-token " .. sh.join { sh.monhost, "board", "pull", "9200517329",
        "--url", url .. "/v2", "-o", out })
      eq(code, 0, e)
      matches(e, "wrote .* board 9200517329 %(Customer Master Schedule%), 84 columns")
      local b = assert(mapping.board(out))
      eq(b.id, 9200517329)
      eq(b.by_id.dropdown_mkr518fc.type, "dropdown")
      eq(b.by_id.formula_mkre54dj.readonly, true)
      local plan = assert(mapping.load("default", fx.opts { board = out }))
      eq(#plan.entries, 43)
      eq(#plan.problems, 0)
      local o2, _, c2 = fx.run { "check", "mappings/", "--board", out, "--subitem-board", fx.SUBBOARD, "--columns", fx.COLUMNS, "-q" }
      eq(c2, 0, o2)
    end)
    sys.kill(pid, 15)
    for _ = 1, 50 do
      if sys.wait(pid, true) then break end
      sys.sleep(0.1)
    end
    if not ok_ then error(err, 0) end
  end)
end)
