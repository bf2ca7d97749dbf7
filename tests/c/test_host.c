/* C-level tests of the host's shared pieces: secret redaction, the null
 * sentinel shared by cjson/yaml, and the yaml primitive driven through the
 * Lua C API exactly as main.c preloads it. */
#include "harness.h"
#include "monhost.h"

int luaopen_monhost_yaml(lua_State *L);
int luaopen_cjson(lua_State *L);

static void test_redact(void) {
  char buf[256];
  CHECK_STR(mh_redact("nothing secret here", buf, sizeof buf), "nothing secret here",
            "redact leaves text without secrets alone");
  mh_add_secret("tok-123456");
  CHECK_STR(mh_redact("auth tok-123456 and tok-123456!", buf, sizeof buf),
            "auth [REDACTED] and [REDACTED]!", "redact replaces every occurrence");
  mh_add_secret("ab"); /* too short: would mangle ordinary text */
  CHECK_STR(mh_redact("abc", buf, sizeof buf), "abc", "secrets under 4 characters are ignored");
  char tiny[8];
  const char *r = mh_redact("tok-123456 tail", tiny, sizeof tiny);
  CHECK(strlen(r) < sizeof tiny, "redact never writes past the buffer");
}

static void test_yaml_via_lua(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "monhost.yaml", luaopen_monhost_yaml, 0);
  luaL_requiref(L, "cjson", luaopen_cjson, 0);
  lua_pop(L, 2);
  int rc = luaL_dostring(L,
    "local y = require 'monhost.yaml'\n"
    "local v = assert(y.load('a: &x [1, 2]\\nb: *x\\nc: ~\\n'))\n"
    "return v.a == v.b and #v.a == 2 and v.c == require('cjson').null");
  CHECK(rc == LUA_OK && lua_toboolean(L, -1), "yaml aliases share a table; null is cjson.null");
  lua_settop(L, 0);
  rc = luaL_dostring(L, "return select(2, require('monhost.yaml').load('a: [1\\n', {name='f.yaml'}))");
  CHECK(rc == LUA_OK && lua_isstring(L, -1) && strncmp(lua_tostring(L, -1), "f.yaml:", 7) == 0,
        "yaml errors start with the document name");
  lua_settop(L, 0);
  /* deep nesting must fail cleanly, not overflow the C stack */
  rc = luaL_dostring(L,
    "local ok, v, err = pcall(require('monhost.yaml').load, string.rep('[', 100000))\n"
    "return (not ok) or v == nil");
  CHECK(rc == LUA_OK && lua_toboolean(L, -1), "pathologically deep YAML is refused, not a crash");
  lua_close(L);
}

int main(void) {
  test_redact();
  test_yaml_via_lua();
  return DONE("test_host");
}
