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
 *   hash.row(r [, n])      -> hex of a row's values r[1..n] (the source
 *                             fingerprint of the update scan; see h_row)
 *   hash.bytes(s)          -> hex of the raw bytes */
#include "monhost.h"
#include "colvals.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
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

/* hash.row: the update scan's per-row fingerprint, on its hot path (one
 * call per synced order of a no-change run). Each value is written to a
 * reused buffer as a type byte and a fixed-size little-endian body, then
 * hashed once: no JSON text, no number formatting, no allocation per row.
 *   nil / NULL 'N'; false 'F'; true 'T';
 *   integer, or a float with an exact int64 value: 'I' + 8 bytes (so 3 and
 *     3.0 agree, like the canonical JSON);
 *   other float 'D' + the 8 bytes of the IEEE double (NaN made canonical);
 *   string 'S' + 8-byte length + the bytes;
 *   anything else 'J' + 8-byte length + its canonical JSON (hash.value's).
 * Stable across runs and platforms; not the same digest as hash.value. */
static void put_le64(char *o, uint64_t v) {
  for (int i = 0; i < 8; i++) o[i] = (char)(unsigned char)(v >> (8 * i));
}

/* One value at idx of Lua type t (lua_rawgeti's result: no lua_type call
 * on the hot path). */
static void row_value(lua_State *L, MhBuf *rb, int idx, int t) {
  char *o;
  switch (t) {
  case LUA_TNIL: *mh_buf_room(L, rb, 1) = 'N'; return;
  case LUA_TBOOLEAN: *mh_buf_room(L, rb, 1) = lua_toboolean(L, idx) ? 'T' : 'F'; return;
  case LUA_TNUMBER: {
    int isint;
    lua_Integer i = lua_tointegerx(L, idx, &isint);
    if (!isint) {
      /* a float: integral values take the integer's form */
      lua_Number d = lua_tonumber(L, idx);
      if (!lua_numbertointeger(d, &i) || (lua_Number)i != d) {
        uint64_t bits;
        if (d != d) d = (lua_Number)NAN;
        memcpy(&bits, &d, 8);
        o = mh_buf_room(L, rb, 9);
        o[0] = 'D';
        put_le64(o + 1, bits);
        return;
      }
    }
    o = mh_buf_room(L, rb, 9);
    o[0] = 'I';
    put_le64(o + 1, (uint64_t)i);
    return;
  }
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    o = mh_buf_room(L, rb, 9 + n);
    o[0] = 'S';
    put_le64(o + 1, (uint64_t)n);
    memcpy(o + 9, s, n);
    return;
  }
  case LUA_TLIGHTUSERDATA: /* NULL (cjson.null): most size columns */
    if (lua_touserdata(L, idx) == NULL) { *mh_buf_room(L, rb, 1) = 'N'; return; }
    /* another light userdata cannot be hashed: canonical JSON raises */
    /* FALLTHROUGH */
  default: {
    MhBuf *b = mh_buf_new(L);
    mh_json_canon(L, idx, b, 0);
    o = mh_buf_room(L, rb, 9 + b->n);
    o[0] = 'J';
    put_le64(o + 1, (uint64_t)b->n);
    memcpy(o + 9, b->p, b->n);
    mh_buf_free(b);
    lua_pop(L, 1);
  }
  }
}

#define ROW_SPAN 64 /* values pushed before the stack is cut back once */

static int h_row(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_opt(L, luaL_checkinteger, 2, (lua_Integer)lua_rawlen(L, 1));
  luaL_argcheck(L, n >= 0, 2, "row length must be >= 0");
  lua_settop(L, 2);
  luaL_checkstack(L, ROW_SPAN + 4, "hash.row");
  MhBuf *rb = (MhBuf *)lua_touserdata(L, lua_upvalueindex(1));
  rb->n = 0;
  for (lua_Integer i = 1; i <= n;) {
    int k = 0;
    for (; k < ROW_SPAN && i <= n; k++, i++) {
      int t = lua_rawgeti(L, 1, i);
      row_value(L, rb, 3 + k, t);
    }
    lua_settop(L, 2);
  }
  mh_hash_pushhex(L, rb->p ? (const void *)rb->p : (const void *)"", rb->n);
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
  mh_buf_new(L); /* hash.row's reused buffer, freed with the module */
  lua_pushcclosure(L, h_row, 1);
  lua_setfield(L, -2, "row");
  return 1;
}
