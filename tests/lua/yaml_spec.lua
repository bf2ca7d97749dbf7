-- monhost.yaml: libyaml into Lua values, typing of plain scalars, anchors,
-- merge keys, line numbers, and errors that name file:line:column.
local yaml = require "monhost.yaml"
local cjson = require "cjson"
local sh = require "sh"
local sys = require "monhost.sys"

local legacy = sh.reference .. "/legacy-pipeline/orders_unified_monday_mapping.yaml"

describe("the legacy mapping file", function()
  it("loads with its 37 exact matches, each with a monday column id", function()
    local doc = assert(yaml.load_file(legacy))
    eq(#doc.exact_matches, 37)
    eq(doc.exact_matches[1].source_field, "AAG ORDER NUMBER")
    eq(doc.exact_matches[1].target_column_id, "text_mkr5wya6")
    for i, m in ipairs(doc.exact_matches) do
      ok(type(m.source_field) == "string" and type(m.target_column_id) == "string",
        "exact match " .. i .. " has source_field and target_column_id")
    end
    eq(doc.metadata.version, "1.1", "a quoted number stays a string")
    eq(doc.metadata.total_source_fields, 183)
    eq(doc.exact_matches[3].sample_data.source, yaml.null, "null sample data is the null sentinel")
  end)

  it("reports the line of each key when asked", function()
    local doc, lines = assert(yaml.load_file(legacy, { lines = true }))
    eq(lines[doc].exact_matches, 15)
    eq(lines[doc.exact_matches][1], 16)
    eq(lines[doc.exact_matches[1]].target_column_id, 18)
  end)
end)

describe("scalars", function()
  it("types plain scalars by the YAML 1.2 core schema", function()
    local v = assert(yaml.load([[
int: 42
neg: -7
hex: 0x1F
float: 2.5
exp: 1e3
inf: .inf
yes_word: yes
t: true
f: FALSE
n1: ~
n2: null
n3:
lead0: 007
zero: 0
size: "2"
quoted_bool: "true"
str: !!str 12
text: hello world
]]))
    eq(math.type(v.int), "integer"); eq(v.int, 42)
    eq(v.neg, -7)
    eq(v.hex, 31)
    eq(v.float, 2.5)
    eq(v.exp, 1000.0)
    eq(v.inf, math.huge)
    eq(v.yes_word, "yes", "YAML 1.1 booleans are text")
    eq(v.t, true); eq(v.f, false)
    eq(v.n1, yaml.null); eq(v.n2, yaml.null); eq(v.n3, yaml.null)
    eq(v.lead0, "007", "leading zeros are kept as text")
    eq(v.zero, 0)
    eq(v.size, "2")
    eq(v.quoted_bool, "true")
    eq(v.str, "12")
    eq(v.text, "hello world")
  end)

  it("uses one null value shared with cjson", function()
    ok(yaml.null == cjson.null)
    eq(cjson.encode(assert(yaml.load("a: ~"))), '{"a":null}')
  end)

  it("keeps UTF-8 text intact", function()
    eq(assert(yaml.load("name: Café ☕ (AU)")).name, "Café ☕ (AU)")
  end)
end)

describe("anchors, aliases and merge keys", function()
  it("shares the anchored table and merges with <<", function()
    local v = assert(yaml.load([[
base: &base
  board: 9200517329
  group: new
list: &l [1, 2]
other: *l
customer:
  <<: *base
  group: override
]]))
    ok(v.list == v.other, "an alias is the same table")
    eq(v.customer.board, 9200517329)
    eq(v.customer.group, "override", "explicit keys win over merged ones")
  end)

  it("fails on an unknown alias with its position", function()
    local v, err = yaml.load("a: *nope\n", { name = "cfg.yaml" })
    eq(v, nil)
    matches(err, "^cfg%.yaml:1:4: unknown alias '%*nope'")
  end)
end)

describe("errors", function()
  it("name file:line:column for broken YAML", function()
    local dir = assert(sys.tmpdir("yaml"))
    local path = sh.write(dir .. "/broken.yaml", "ok: 1\nlist:\n  - a\n  b: [1, 2\n")
    local v, err = yaml.load_file(path)
    eq(v, nil)
    matches(err, "^" .. path:gsub("%p", "%%%0") .. ":%d+:%d+: ")
    local line = tonumber(err:match(":(%d+):%d+: "))
    ok(line >= 4, "the error is placed at or after the broken line: " .. err)
  end)

  it("reports a bad indentation at its line and column", function()
    local v, err = yaml.load("a: 1\n b: 2\n", { name = "x.yaml" })
    eq(v, nil)
    matches(err, "^x%.yaml:2:%d+: mapping values are not allowed")
  end)

  it("returns nil and a message for a missing file", function()
    local v, err = yaml.load_file("/nonexistent/monhost.yaml")
    eq(v, nil)
    matches(err, "/nonexistent/monhost%.yaml: No such file")
  end)

  it("raises on misuse", function()
    raises(function() yaml.load(nil) end, "bad argument #1")
    raises(function() yaml.load("a: 1", "notatable") end, "bad argument #2")
  end)
end)

describe("several documents", function()
  it("load_all returns each document in order", function()
    local docs = assert(yaml.load_all("---\na: 1\n---\nb: 2\n"))
    eq(docs, { { a = 1 }, { b = 2 } })
  end)

  it("an empty stream is null", function()
    eq(yaml.load(""), yaml.null)
  end)
end)
