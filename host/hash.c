/* hash.c: monhost.hash, the canonical hash of what monhost would send to
 * monday for an order: item name, group, formatted column values and the
 * subitems (name and values, in order). The pipeline stores it and compares
 * it on the next run, so a change in an unmapped source column causes no
 * update while a mapping change does. XXH3-128 (Debian's libxxhash) over
 * canonical JSON text (see docs/mappings.md, "Hashing"): stable across runs, platforms
 * and Lua table iteration order.
 *
 *   hash.order{item_name=, group_name=, column_values=tbl | column_values_json=str,
 *              subitems={{name=, column_values=|column_values_json=}, ...}}
 *        -> hex (item + subitems), item_hex (item only)
 *   hash.canonical(order)  -> the canonical text hash.order hashes
 *   hash.value(v)          -> hex of the canonical JSON of any Lua value
 *   hash.bytes(s)          -> hex of the raw bytes */
#include "monhost.h"
#include "colvals.h"

#include <string.h>
#include <xxhash.h>

#define ORDER_TAG "\"monhost.order/1\""
#define ITEM_TAG "\"monhost.item/1\""

void mh_hash_pushhex(lua_State *L, const void *data, size_t n) {
  XXH128_hash_t h = XXH3_128bits(data, n);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h); /* big-endian: same text on every platform */
  static const char hex[] = "0123456789abcdef";
  char out[32];
  for (int i = 0; i < 16; i++) {
    out[2 * i] = hex[c.digest[i] >> 4];
    out[2 * i + 1] = hex[c.digest[i] & 15];
  }
  lua_pushlstring(L, out, sizeof out);
}

/* A string field as JSON; nil/NULL as null. */
static void put_text(lua_State *L, int t, const char *field, MhBuf *b) {
  int ty = lua_getfield(L, t, field);
  if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    mh_json_string(L, b, s, n);
  } else if (ty == LUA_TNIL || mh_isnull(L, -1)) {
    mh_buf_add(L, b, "null", 4);
  } else {
    luaL_error(L, "hash: %s must be a string, not a %s", field, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
}

/* column_values_json is trusted to be canonical (monhost.colvals writes it
 * so); a column_values table is made canonical here. */
static void put_values(lua_State *L, int t, MhBuf *b) {
  if (lua_getfield(L, t, "column_values_json") == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    mh_buf_add(L, b, s, n);
  } else {
    lua_pop(L, 1);
    if (lua_getfield(L, t, "column_values") == LUA_TNIL) mh_buf_add(L, b, "{}", 2);
    else if (lua_istable(L, -1)) mh_json_canon(L, -1, b, 0);
    else luaL_error(L, "hash: column_values must be a table");
  }
  lua_pop(L, 1);
}

/* Writes the item part; returns the buffer length at the end of it. */
static void put_order(lua_State *L, int t, MhBuf *b, size_t *item_end) {
  luaL_checktype(L, t, LUA_TTABLE);
  mh_buf_addc(L, b, '[');
  mh_buf_add(L, b, ORDER_TAG ",", sizeof(ORDER_TAG));
  size_t item_start = b->n;
  put_text(L, t, "item_name", b);
  mh_buf_addc(L, b, ',');
  put_text(L, t, "group_name", b);
  mh_buf_addc(L, b, ',');
  put_values(L, t, b);
  *item_end = b->n;
  (void)item_start;
  mh_buf_add(L, b, ",[", 2);
  int ty = lua_getfield(L, t, "subitems");
  if (ty == LUA_TTABLE) {
    int subs = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, subs);
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_rawgeti(L, subs, i) != LUA_TTABLE) luaL_error(L, "hash: subitem %d is not a table", (int)i);
      if (i > 1) mh_buf_addc(L, b, ',');
      mh_buf_addc(L, b, '[');
      put_text(L, -1, "name", b);
      mh_buf_addc(L, b, ',');
      put_values(L, lua_gettop(L), b);
      mh_buf_addc(L, b, ']');
      lua_pop(L, 1);
    }
  } else if (ty != LUA_TNIL) {
    luaL_error(L, "hash: subitems must be an array");
  }
  lua_pop(L, 1);
  mh_buf_add(L, b, "]]", 2);
}

static int h_order(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  MhBuf *b = mh_buf_new(L);
  size_t item_end;
  put_order(L, 1, b, &item_end);
  mh_hash_pushhex(L, b->p, b->n);
  /* item hash: the same text with the item tag and without subitems */
  size_t tag = sizeof(ORDER_TAG) + 1; /* '[' + tag + ',' */
  MhBuf *ib = mh_buf_new(L);
  mh_buf_addc(L, ib, '[');
  mh_buf_add(L, ib, ITEM_TAG ",", sizeof(ITEM_TAG));
  mh_buf_add(L, ib, b->p + tag, item_end - tag);
  mh_buf_addc(L, ib, ']');
  lua_pop(L, 1); /* the box; pushes below */
  mh_hash_pushhex(L, ib->p, ib->n);
  mh_buf_free(ib);
  mh_buf_free(b);
  return 2;
}

static int h_canonical(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  MhBuf *b = mh_buf_new(L);
  size_t item_end;
  put_order(L, 1, b, &item_end);
  lua_pushlstring(L, b->p, b->n);
  mh_buf_free(b);
  return 1;
}

static int h_value(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  MhBuf *b = mh_buf_new(L);
  mh_json_canon(L, 1, b, 0);
  mh_hash_pushhex(L, b->p, b->n);
  mh_buf_free(b);
  return 1;
}

static int h_bytes(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  mh_hash_pushhex(L, s, n);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"order", h_order}, {"canonical", h_canonical}, {"value", h_value}, {"bytes", h_bytes},
  {NULL, NULL}};

int luaopen_monhost_hash(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
