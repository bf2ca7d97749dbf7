-- sh: run shell commands from specs and get their output and exit status.
local M = {}

-- quote one argument for sh
function M.q(s)
  s = tostring(s)
  if s:match("^[%w%._/=:,+-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- join argv into a command line
function M.join(argv)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = M.q(a) end
  return table.concat(parts, " ")
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- M.run(cmd_or_argv [, {stdin = text}]) -> stdout, stderr, exit code
function M.run(cmd, opts)
  opts = opts or {}
  if type(cmd) == "table" then cmd = M.join(cmd) end
  local errf = os.tmpname()
  local inf
  if opts.stdin then
    inf = os.tmpname()
    local f = assert(io.open(inf, "wb"))
    f:write(opts.stdin)
    f:close()
    cmd = cmd .. " <" .. inf
  end
  local p = assert(io.popen(cmd .. " 2>" .. errf, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = slurp(errf)
  os.remove(errf)
  if inf then os.remove(inf) end
  return out, err, code
end

M.slurp = slurp

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- the monhost binary under test (make check passes the sanitizer build)
M.monhost = os.getenv("MONHOST_BIN") or "./monhost"

-- the reference material shared with the project (read-only)
M.reference = "../shared/reference"

return M
