-- mapping.lua: per-customer mappings, ORDERS_UNIFIED rows -> monday items.
-- A mapping is a Lua file in mappings/ (or a legacy YAML file) that says
-- what goes where; this module loads it (following `extends`), checks it
-- against the board and the source column list, and compiles it once into a
-- plan whose transform is the per-row hot path. See docs/mappings.md.
--
--   local mapping = require "monhost.mapping"
--   local plan = assert(mapping.load("greyson", {board = "boards/9200517329.json",
--        subitem_board = ..., columns = cur:columns(), mappings_dir = "mappings"}))
--   local rec = plan:transform(row)
local loader = require "monhost.mapping.loader"
local compile = require "monhost.mapping.plan"
local board = require "monhost.mapping.board"
local source = require "monhost.mapping.source"
local customers = require "monhost.mapping.customers"

local M = {}

M.board = board.load          -- (path|table) -> board metadata, or nil, err
M.source_columns = source.load -- (path.tsv|array) -> {{name=, type=}...}
M.size_columns = source.size_columns

-- mapping.customers(path) -> canonicaliser: c(raw) -> canonical name;
-- c.aliases[canonical] -> {raw names}; c.lookup[UPPER raw] -> canonical.
M.customers = customers.load

-- The mappings directory: opts.mappings_dir, else ./mappings, else the one
-- installed next to the Lua library.
function M.dir(opts)
  return loader.dir(opts)
end

-- Names of the mappings in a directory (customer files; not default.lua,
-- customers.lua or files starting with "_").
function M.list(dir)
  return loader.list(dir or M.dir())
end

-- The merged spec of a mapping (what the files say, after `extends`), with
-- file:line for every entry. For tools (check, REPL); load() compiles it.
function M.spec(name_or_path, opts)
  return loader.load(name_or_path, opts or {})
end

-- Load and compile. Returns plan or nil, message (with file:line).
-- opts.strict: column problems (unknown or read-only monday column,
-- unknown source column) fail the load instead of dropping the column
-- with a warning in plan.problems.
function M.load(name_or_path, opts)
  opts = opts or {}
  local spec, err = loader.load(name_or_path, opts)
  if not spec then return nil, err end
  local ok, plan, perr = pcall(compile.compile, spec, opts)
  if not ok then return nil, tostring(plan) end
  return plan, perr
end

M.compile = compile.compile

return M
