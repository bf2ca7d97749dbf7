-- config_spec.lua: monhost.yaml loading: defaults, overrides, path
-- resolution, validation, the token rules and the environment.
local config = require "monhost.config"
local sys = require "monhost.sys"

local dir = sys.tmpdir("mhcfg")
local function write(name, text, mode)
  local p = dir .. "/" .. name
  local f = assert(io.open(p, "w"))
  f:write(text)
  f:close()
  if mode then os.execute(("chmod %s '%s'"):format(mode, p)) end
  return p
end
local function env(t) return function(k) return t[k] end end

describe("config", function()
  it("defaults without a file", function()
    local cfg = assert(config.load(nil, { getenv = env {} }))
    eq(cfg.boards.items, "9200517329")
    eq(cfg.batch.stage_size, config.DEFAULTS.batch.stage_size)
    eq(cfg.monday.token_env, "MONDAY_API_TOKEN")
    eq(cfg.retention_days, 30)
  end)

  it("a file overrides defaults, keeps the others, resolves paths against its directory", function()
    local p = write("a.yaml", "database:\n  dsn: ORDERS\nbatch:\n  stage_size: 50\nmappings_dir: maps\nboards:\n  items_metadata: b/items.json\n")
    local cfg = assert(config.load(p, { getenv = env {} }))
    eq(cfg.batch.stage_size, 50)
    eq(cfg.batch.fetch_size, config.DEFAULTS.batch.fetch_size)
    eq(cfg.mappings_dir, dir .. "/maps")
    eq(cfg.boards.items_metadata, dir .. "/b/items.json")
    eq(config.connstr(cfg), "DSN=ORDERS")
  end)

  it("the environment provides the token and may override the connection", function()
    local p = write("b.yaml", "database:\n  connection: \"Driver=SQLite3;Database=x.db\"\n")
    local cfg = assert(config.load(p, { getenv = env { MONDAY_API_TOKEN = "tok", MONHOST_DATABASE = "DSN=PROD" } }))
    eq(cfg.monday.token, "tok")
    eq(config.connstr(cfg), "DSN=PROD")
    cfg = assert(config.load(p, { getenv = env {} }))
    eq(config.connstr(cfg), "Driver=SQLite3;Database=x.db")
  end)

  it("refuses a token in a world-readable file, accepts it in a private one", function()
    local p = write("c.yaml", "monday:\n  token: secret123\n", "644")
    local cfg, err = config.load(p, { getenv = env {} })
    eq(cfg, nil)
    matches(err, "readable by every user")
    ok(not err:find("secret123", 1, true), "the token is not in the message")
    os.execute(("chmod 600 '%s'"):format(p))
    cfg = assert(config.load(p, { getenv = env {} }))
    eq(cfg.monday.token, "secret123")
  end)

  it("rejects unknown settings and bad values with the file name", function()
    local _, err = config.load(write("d.yaml", "databse:\n  dsn: X\n"), { getenv = env {} })
    matches(err, "d.yaml")
    matches(err, "unknown setting \"databse\"")
    _, err = config.load(write("e.yaml", "batch:\n  stage_size: 0\n"), { getenv = env {} })
    matches(err, "batch.stage_size must be a positive integer")
    _, err = config.load(write("f.yaml", "log:\n  format: xml\n"), { getenv = env {} })
    matches(err, "log.format")
    _, err = config.load(write("g.yaml", "boards:\n  items: abc\n"), { getenv = env {} })
    matches(err, "boards.items must be a board id")
    _, err = config.load(dir .. "/missing.yaml", { getenv = env {} })
    matches(err, "no such file")
  end)

  it("$MONHOST_CONFIG names the file when --config is not given", function()
    local p = write("h.yaml", "retention_days: 7\n")
    local cfg = assert(config.load(nil, { getenv = env { MONHOST_CONFIG = p } }))
    eq(cfg.retention_days, 7)
  end)

  it("reports a missing database clearly", function()
    local cfg = assert(config.load(nil, { getenv = env {} }))
    local cs, err = config.connstr(cfg)
    eq(cs, nil)
    matches(err, "no database configured")
  end)

  it("the example monhost.yaml loads", function()
    local cfg = assert(config.load("examples/monhost.yaml", { getenv = env {} }))
    eq(cfg.boards.subitems, "9200771505")
  end)
end)

os.execute("rm -rf '" .. dir .. "'")
