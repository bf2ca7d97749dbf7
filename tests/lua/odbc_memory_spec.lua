-- Streaming 1,000,000 rows through fetch_many keeps peak RSS under 64 MB
-- (a fresh process: this spec file runs alone). Heavy: skipped when
-- MONHOST_QUICK is set (make valgrind).
local odbc = require "monhost.odbc"
local sys = require "monhost.sys"
local dbs = require "db"

local N = 1000000
local SQL = {
  postgres = "SELECT g, 'order ' || g, g * 0.5, DATE '2024-01-01' + (g % 365) FROM generate_series(1, " .. N .. ") g",
  sqlite = "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < " .. N .. ") "
    .. "SELECT g, 'order ' || g, g * 0.5, date('2024-01-01', '+' || (g % 365) || ' days') FROM s",
}

describe("streaming memory", function()
  for _, kind in ipairs(dbs.kinds) do
    it(kind .. ": 1,000,000 rows through fetch_many stay under 64 MB peak RSS", function()
      if os.getenv("MONHOST_QUICK") then skip("MONHOST_QUICK") end
      -- AddressSanitizer's quarantine keeps freed blocks resident (256 MB by
      -- default), so RSS says nothing there; the plain build checks it
      if (os.getenv("MONHOST_BIN") or ""):find("asan", 1, true) then skip("RSS is meaningless under ASan") end
      local db <close> = assert(odbc.connect((dbs.fresh(kind))))
      local before = sys.peak_rss()
      local cur = assert(db:query(SQL[kind]))
      local n, sum = 0, 0
      while true do
        local batch = cur:fetch_many(1000)
        if #batch == 0 then break end
        n = n + #batch
        sum = sum + batch[#batch][1]
      end
      eq(n, N)
      ok(sum > 0)
      local peak = sys.peak_rss()
      ok(peak < 64 * 1024, string.format("peak RSS %d KiB (was %d before the query)", peak, before))
    end)
  end
end)
