/* transform.c: monhost.transform, the native per-row loop of a compiled
 * mapping plan. scripts/monhost/mapping/plan.lua decides everything (which
 * columns, cleaning rules, value maps, defaults, sizes, the Lua functions of
 * the mapping) and hands the result to transform.new once per mapping; a
 * row then goes from the cursor's array to a finished record (cleaned row
 * for the mapping's functions, key, column_values JSON, subitems, hash) in
 * one C call. Lua is called back only for what the mapping wrote in Lua
 * (computed columns, item name, group, filter, custom cleaning functions)
 * and for the canonical customer (memoised in Lua). The output is
 * byte-for-byte what plan:transform_lua (the reference) produces;
 * tests/lua/mapping_native_spec.lua compares the two.
 *
 *   local t = transform.new(desc)                 -- desc: see plan.lua native_desc
 *   rec, errors = t:run(row, want_values, clear_empty)
 */
#include "monhost.h"
#include "colvals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSFORM "monhost.transform"
#define ORDER_TAG "\"monhost.order/1\""
#define ITEM_TAG "\"monhost.item/1\""

enum { S_TRIM, S_UPPER, S_LOWER, S_REPLACE, S_FN };
typedef struct { int op, ref; } Step;
typedef struct { int first, n; } Steps; /* a run in Transform.steps */

typedef struct {
  int name; /* refs below are indexes into the uservalue table */
  lua_Integer pos;
  Steps clean;
  int def; /* 0 = no default */
} Reader;

typedef struct { int name; lua_Integer pos; } Key;

enum { E_SOURCE, E_FN, E_CONST };
typedef struct {
  int kind, type;
  int source, fn, cnst, map, def, has_def;
  Steps clean;
  int id, errcol, fncol, fail, suffix;
  const char *jkey; /* "id": pre-escaped, kept alive by the refs */
  size_t jkeylen;
} Entry;

typedef struct {
  int size, name; /* name 0: size_name_fn */
  lua_Integer pos;
  const char *pre, *post;
  size_t prelen, postlen;
} Size;

typedef struct {
  int nreaders, nkeys, nentries, nsizes, nsteps;
  Reader *readers;
  Key *keys;
  Entry *entries;
  Size *sizes;
  Step *steps;
  int customer_col, canonical, item_fn, item_fail, group_fn, group_fail, size_name_fn;
  int accept, ctx, row, rec_mt, errmsg;
  int busy; /* the persistent buffers are in use (a mapping function called run) */
  MhBuf buf, hbuf;
} Transform;

/* ---- construction ---------------------------------------------------------- */

/* Store the value at the top of the stack in the refs table; returns its index. */
static int ref_top(lua_State *L, int refs) {
  int r = (int)lua_rawlen(L, refs) + 1;
  lua_rawseti(L, refs, r);
  return r;
}

/* desc[field] -> ref (0 when nil). */
static int ref_field(lua_State *L, int t, const char *field, int refs) {
  if (lua_getfield(L, t, field) == LUA_TNIL) { lua_pop(L, 1); return 0; }
  return ref_top(L, refs);
}

static lua_Integer int_field(lua_State *L, int t, const char *field) {
  lua_getfield(L, t, field);
  lua_Integer v = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

static const char *str_field(lua_State *L, int t, const char *field, size_t *n, int refs, int *ref) {
  if (lua_getfield(L, t, field) != LUA_TSTRING) luaL_error(L, "transform.new: %s must be a string", field);
  const char *s = lua_tolstring(L, -1, n);
  int r = ref_top(L, refs);
  if (ref) *ref = r;
  return s;
}

static void *alloc_array(lua_State *L, int refs, size_t n, size_t size) {
  void *p = lua_newuserdatauv(L, n ? n * size : 1, 0);
  memset(p, 0, n ? n * size : 1);
  ref_top(L, refs);
  return p;
}

/* Count the steps of the cleaning rule lists (desc.*.clean) to size the array. */
static int count_steps(lua_State *L, int list, const char *field) {
  int total = 0, n = (int)lua_rawlen(L, list);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    if (lua_getfield(L, -1, field) == LUA_TTABLE) total += (int)lua_rawlen(L, -1);
    lua_pop(L, 2);
  }
  return total;
}

/* The cleaning steps in the field "clean" of the table at top -> run. */
static Steps read_steps(lua_State *L, Transform *t, int refs) {
  Steps s = {t->nsteps, 0};
  if (lua_getfield(L, -1, "clean") == LUA_TTABLE) {
    int list = lua_gettop(L), n = (int)lua_rawlen(L, list);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, list, i);
      Step *st = &t->steps[t->nsteps++];
      lua_getfield(L, -1, "op");
      const char *op = lua_tostring(L, -1);
      if (!op) luaL_error(L, "transform.new: a cleaning step needs an op");
      if (!strcmp(op, "trim")) st->op = S_TRIM;
      else if (!strcmp(op, "upper")) st->op = S_UPPER;
      else if (!strcmp(op, "lower")) st->op = S_LOWER;
      else if (!strcmp(op, "replace")) { st->op = S_REPLACE; st->ref = ref_field(L, -2, "rep", refs); }
      else if (!strcmp(op, "fn")) { st->op = S_FN; st->ref = ref_field(L, -2, "fn", refs); }
      else luaL_error(L, "transform.new: unknown cleaning step '%s'", op);
      lua_pop(L, 2);
      s.n++;
    }
  }
  lua_pop(L, 1);
  return s;
}

static int t_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  Transform *t = lua_newuserdatauv(L, sizeof *t, 1);
  memset(t, 0, sizeof *t);
  luaL_setmetatable(L, TRANSFORM);
  lua_newtable(L);
  int refs = lua_gettop(L);
  lua_pushvalue(L, refs);
  lua_setiuservalue(L, 2, 1);

  lua_getfield(L, 1, "readers");
  int rl = lua_gettop(L);
  lua_getfield(L, 1, "entries");
  int el = lua_gettop(L);
  lua_getfield(L, 1, "keys");
  int kl = lua_gettop(L);
  lua_getfield(L, 1, "sizes");
  int sl = lua_gettop(L);
  for (int i = rl; i <= sl; i++) luaL_checktype(L, i, LUA_TTABLE);
  t->nreaders = (int)lua_rawlen(L, rl);
  t->nentries = (int)lua_rawlen(L, el);
  t->nkeys = (int)lua_rawlen(L, kl);
  t->nsizes = (int)lua_rawlen(L, sl);
  int nsteps = count_steps(L, rl, "clean") + count_steps(L, el, "clean");
  t->steps = alloc_array(L, refs, (size_t)nsteps, sizeof(Step));
  t->readers = alloc_array(L, refs, (size_t)t->nreaders, sizeof(Reader));
  t->entries = alloc_array(L, refs, (size_t)t->nentries, sizeof(Entry));
  t->keys = alloc_array(L, refs, (size_t)t->nkeys, sizeof(Key));
  t->sizes = alloc_array(L, refs, (size_t)t->nsizes, sizeof(Size));

  for (int i = 0; i < t->nreaders; i++) {
    Reader *r = &t->readers[i];
    lua_rawgeti(L, rl, i + 1);
    str_field(L, -1, "name", &(size_t){0}, refs, &r->name);
    r->pos = int_field(L, -1, "pos");
    r->clean = read_steps(L, t, refs);
    r->def = ref_field(L, -1, "default", refs);
    lua_pop(L, 1);
  }
  for (int i = 0; i < t->nkeys; i++) {
    lua_rawgeti(L, kl, i + 1);
    str_field(L, -1, "name", &(size_t){0}, refs, &t->keys[i].name);
    t->keys[i].pos = int_field(L, -1, "pos");
    lua_pop(L, 1);
  }
  for (int i = 0; i < t->nentries; i++) {
    Entry *e = &t->entries[i];
    lua_rawgeti(L, el, i + 1);
    size_t idlen;
    const char *id = str_field(L, -1, "id", &idlen, refs, &e->id);
    lua_getfield(L, -1, "type");
    const char *ty = lua_tostring(L, -1);
    e->type = ty ? mh_colvals_type(ty) : -1;
    if (e->type < 0) luaL_error(L, "transform.new: column %s: monhost cannot write a '%s' column", id, ty ? ty : "?");
    lua_pop(L, 1);
    lua_getfield(L, -1, "kind");
    const char *kind = luaL_optstring(L, -1, "");
    e->kind = !strcmp(kind, "source") ? E_SOURCE : !strcmp(kind, "fn") ? E_FN : E_CONST;
    lua_pop(L, 1);
    e->source = ref_field(L, -1, "source", refs);
    e->fn = ref_field(L, -1, "fn", refs);
    e->cnst = ref_field(L, -1, "const", refs);
    e->map = ref_field(L, -1, "map", refs);
    e->def = ref_field(L, -1, "default", refs);
    lua_getfield(L, -1, "has_default");
    e->has_def = lua_toboolean(L, -1);
    lua_pop(L, 1);
    e->clean = read_steps(L, t, refs);
    str_field(L, -1, "errcol", &(size_t){0}, refs, &e->errcol);
    str_field(L, -1, "fncol", &(size_t){0}, refs, &e->fncol);
    str_field(L, -1, "fail", &(size_t){0}, refs, &e->fail);
    str_field(L, -1, "suffix", &(size_t){0}, refs, &e->suffix);
    if (e->kind == E_SOURCE && !e->source) luaL_error(L, "transform.new: column %s has no source", id);
    /* the JSON key, escaped once */
    MhBuf *b = mh_buf_new(L);
    mh_json_string(L, b, id, idlen);
    mh_buf_addc(L, b, ':');
    lua_pushlstring(L, b->p, b->n);
    mh_buf_free(b);
    e->jkey = lua_tolstring(L, -1, &e->jkeylen);
    ref_top(L, refs);
    lua_pop(L, 2); /* box, entry */
  }
  for (int i = 0; i < t->nsizes; i++) {
    Size *s = &t->sizes[i];
    lua_rawgeti(L, sl, i + 1);
    str_field(L, -1, "size", &(size_t){0}, refs, &s->size);
    s->name = ref_field(L, -1, "name", refs);
    s->pos = int_field(L, -1, "pos");
    s->pre = str_field(L, -1, "pre", &s->prelen, refs, NULL);
    s->post = str_field(L, -1, "post", &s->postlen, refs, NULL);
    lua_pop(L, 1);
  }
  str_field(L, 1, "customer_column", &(size_t){0}, refs, &t->customer_col);
  str_field(L, 1, "item_fail", &(size_t){0}, refs, &t->item_fail);
  str_field(L, 1, "group_fail", &(size_t){0}, refs, &t->group_fail);
  t->canonical = ref_field(L, 1, "canonical", refs);
  t->item_fn = ref_field(L, 1, "item_name", refs);
  t->group_fn = ref_field(L, 1, "group", refs);
  t->size_name_fn = ref_field(L, 1, "size_name_fn", refs);
  t->accept = ref_field(L, 1, "accept", refs);
  t->ctx = ref_field(L, 1, "ctx", refs);
  t->row = ref_field(L, 1, "row", refs);
  t->rec_mt = ref_field(L, 1, "rec_mt", refs);
  t->errmsg = ref_field(L, 1, "errmsg", refs);
  if (!t->canonical || !t->ctx || !t->row || !t->rec_mt || !t->errmsg)
    luaL_error(L, "transform.new: canonical, ctx, row, rec_mt and errmsg are required");
  lua_settop(L, 2);
  return 1;
}

static int t_close(lua_State *L) {
  Transform *t = luaL_checkudata(L, 1, TRANSFORM);
  mh_buf_free(&t->buf);
  mh_buf_free(&t->hbuf);
  return 0;
}

/* ---- per-row helpers --------------------------------------------------------- */

static int is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_cntrl(int c) { return c < 0x20 || c == 0x7f; }

static int is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* plan.lua's blank(): nil, NULL, or text with only spaces */
static int is_blank(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  if (t == LUA_TNIL) return 1;
  if (t == LUA_TLIGHTUSERDATA) return lua_touserdata(L, idx) == NULL;
  if (t != LUA_TSTRING) return 0;
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  for (size_t i = 0; i < n; i++) if (!is_space((unsigned char)s[i])) return 0;
  return 1;
}

/* plan.lua's text(): a number as map-key text (10 and 10.0 -> "10"); pushes
 * the text, or the value itself when it is not a number. */
static void push_text(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TNUMBER) { lua_pushvalue(L, idx); return; }
  lua_Integer i;
  if (lua_isinteger(L, idx)) i = lua_tointeger(L, idx);
  else {
    lua_Number d = lua_tonumber(L, idx);
    if (!(d == floor(d) && lua_numbertointeger(d, &i))) {
      lua_pushvalue(L, idx);
      lua_tolstring(L, -1, NULL); /* tostring(): "%.14g" */
      return;
    }
  }
  char num[32];
  int len = snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)i);
  lua_pushlstring(L, num, (size_t)len);
}

/* Replace the string at the top with a rewritten copy. */
static void clean_trim(lua_State *L) {
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  int dirty = n && (is_space((unsigned char)s[0]) || is_space((unsigned char)s[n - 1]));
  for (size_t i = 0; !dirty && i < n; i++) dirty = is_cntrl((unsigned char)s[i]);
  if (!dirty) return;
  /* gsub("%c", "") then strip spaces at both ends */
  luaL_Buffer B;
  char *out = luaL_buffinitsize(L, &B, n);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) if (!is_cntrl((unsigned char)s[i])) out[o++] = s[i];
  size_t a = 0;
  while (a < o && is_space((unsigned char)out[a])) a++;
  while (o > a && is_space((unsigned char)out[o - 1])) o--;
  if (a) memmove(out, out + a, o - a);
  luaL_pushresultsize(&B, o - a);
  lua_replace(L, -2);
}

static void clean_case(lua_State *L, int upper) {
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  luaL_Buffer B;
  char *out = luaL_buffinitsize(L, &B, n);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (upper && c >= 'a' && c <= 'z') c -= 32;
    else if (!upper && c >= 'A' && c <= 'Z') c += 32;
    out[i] = (char)c;
  }
  luaL_pushresultsize(&B, n);
  lua_replace(L, -2);
}

/* Apply the cleaning steps to the value at the top (replaced in place). */
static void apply_steps(lua_State *L, const Transform *t, Steps run, int refs) {
  for (int k = 0; k < run.n; k++) {
    const Step *st = &t->steps[run.first + k];
    int ty = lua_type(L, -1);
    switch (st->op) {
    case S_TRIM: if (ty == LUA_TSTRING) clean_trim(L); break;
    case S_UPPER: if (ty == LUA_TSTRING) clean_case(L, 1); break;
    case S_LOWER: if (ty == LUA_TSTRING) clean_case(L, 0); break;
    case S_REPLACE:
      if (ty == LUA_TNIL) break;
      lua_rawgeti(L, refs, st->ref);
      if (ty == LUA_TSTRING) { /* v:match("^%s*(.-)%s*$") */
        size_t n;
        const char *s = lua_tolstring(L, -2, &n);
        while (n && is_space((unsigned char)s[0])) { s++; n--; }
        while (n && is_space((unsigned char)s[n - 1])) n--;
        lua_pushlstring(L, s, n);
      } else {
        luaL_tolstring(L, -2, NULL);
      }
      lua_gettable(L, -2);
      lua_remove(L, -2); /* the replace table */
      if (lua_isnil(L, -1)) lua_pop(L, 1);
      else if ((lua_isboolean(L, -1) && !lua_toboolean(L, -1)) || is_null(L, -1)) {
        lua_pop(L, 2);
        lua_pushnil(L);
      } else lua_replace(L, -2);
      break;
    case S_FN:
      lua_rawgeti(L, refs, st->ref);
      lua_insert(L, -2);
      lua_call(L, 1, 1);
      break;
    }
  }
}

/* The error table at the top goes to the end of the errors list at errs
 * (created on the first error). */
static void append_error(lua_State *L, int errs) {
  if (lua_isnil(L, errs)) {
    lua_newtable(L);
    lua_replace(L, errs);
  }
  lua_rawseti(L, errs, (lua_Integer)lua_rawlen(L, errs) + 1);
}

/* Push prefix .. errmsg(err) for the error value at the top (popped). */
static void push_failure(lua_State *L, const Transform *t, int refs, int prefix) {
  lua_rawgeti(L, refs, t->errmsg);
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  lua_rawgeti(L, refs, prefix);
  lua_insert(L, -2);
  lua_concat(L, 2);
}

/* The raw row value: row[pos] for an array row, row[name] for a keyed one.
 * array is 2 for a row without a metatable (as fetch_many makes them): a
 * raw read is then the same as row[pos], and cheaper. */
static int get_raw(lua_State *L, int row, int array, lua_Integer pos, int name, int refs) {
  if (array) {
    if (pos <= 0) { lua_pushnil(L); return LUA_TNIL; }
    return array == 2 ? lua_rawgeti(L, row, pos) : lua_geti(L, row, pos);
  } else {
    lua_rawgeti(L, refs, name);
    return lua_gettable(L, row);
  }
}

/* table.concat(key, sep) for the key parts (strings after text()). */
static void push_concat(lua_State *L, int key, int nkeys, const char *sep, MhBuf *b) {
  size_t start = b->n;
  for (int i = 1; i <= nkeys; i++) {
    if (lua_rawgeti(L, key, i) != LUA_TSTRING)
      luaL_error(L, "invalid value (at index %d) in table for 'concat'", i);
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (i > 1) mh_buf_add(L, b, sep, strlen(sep));
    mh_buf_add(L, b, s, n);
    lua_pop(L, 1);
  }
  lua_pushlstring(L, b->p + start, b->n - start);
  b->n = start;
}

/* ---- t:run(row, want_values, clear_empty) -> rec, errors --------------------- */

/* t:run's stack slots */
enum { ROW = 2, REFS, R, CTX, ERRS, CUST, KEY, VALS, JSON, NAME, GROUP, SUBS, FERRS };

/* Calls a name rule (the item name's or the group's) with the cleaned row
 * and ctx. Returns 1 with its non-empty string on the stack; else appends
 * the failure, under `column`, to the errors and returns 0 (nothing left). */
static int name_rule(lua_State *L, const Transform *t, int fn, int fail, const char *empty, const char *column) {
  lua_rawgeti(L, REFS, fn);
  lua_pushvalue(L, R);
  lua_pushvalue(L, CTX);
  int ok = lua_pcall(L, 2, 1, 0) == LUA_OK;
  if (ok && lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0) return 1;
  if (ok) { lua_pop(L, 1); lua_pushstring(L, empty); }
  else push_failure(L, t, REFS, fail);
  lua_createtable(L, 0, 2);
  lua_insert(L, -2);
  lua_setfield(L, -2, "message");
  lua_pushstring(L, column);
  lua_setfield(L, -2, "column");
  append_error(L, ERRS);
  return 0;
}

static int t_run(lua_State *L) {
  Transform *t = luaL_checkudata(L, 1, TRANSFORM);
  luaL_checktype(L, 2, LUA_TTABLE);
  int want = lua_toboolean(L, 3), clear = lua_toboolean(L, 4);
  lua_settop(L, 2);
  mh_check_interrupt(L);
  lua_getiuservalue(L, 1, 1);
  lua_rawgeti(L, REFS, t->row);
  lua_rawgeti(L, REFS, t->ctx);
  lua_pushnil(L); /* ERRS */
  int array = lua_rawgeti(L, ROW, 1) != LUA_TNIL;
  lua_pop(L, 1);
  if (array && !lua_getmetatable(L, ROW)) array = 2;
  else if (array) lua_pop(L, 1);

  /* the cleaned row the mapping's functions see: NULL is nil */
  for (int i = 0; i < t->nreaders; i++) {
    const Reader *rd = &t->readers[i];
    lua_rawgeti(L, REFS, rd->name);
    get_raw(L, ROW, array, rd->pos, rd->name, REFS);
    if (is_null(L, -1)) { lua_pop(L, 1); lua_pushnil(L); }
    if (rd->clean.n && !lua_isnil(L, -1)) apply_steps(L, t, rd->clean, REFS);
    if (rd->def && is_blank(L, -1)) { lua_pop(L, 1); lua_rawgeti(L, REFS, rd->def); }
    lua_rawset(L, R);
  }
  lua_pushvalue(L, R);
  lua_setfield(L, CTX, "row");
  lua_pushvalue(L, ROW);
  lua_setfield(L, CTX, "raw");
  lua_rawgeti(L, REFS, t->customer_col);
  if (lua_rawget(L, R) != LUA_TNIL) {
    lua_rawgeti(L, REFS, t->canonical);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    if (!lua_toboolean(L, -1)) { lua_pop(L, 1); lua_pushnil(L); }
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, CTX, "customer"); /* CUST stays on the stack */

  /* key: the raw source values as text */
  lua_createtable(L, t->nkeys, 0);
  for (int i = 0; i < t->nkeys; i++) {
    const Key *k = &t->keys[i];
    get_raw(L, ROW, array, k->pos, k->name, REFS);
    int ty = lua_type(L, -1);
    if (ty == LUA_TNIL || is_null(L, -1) || (ty == LUA_TSTRING && lua_rawlen(L, -1) == 0)) {
      lua_pop(L, 1);
      lua_createtable(L, 0, 2);
      lua_rawgeti(L, REFS, k->name);
      lua_setfield(L, -2, "column");
      lua_pushliteral(L, "key column is empty");
      lua_setfield(L, -2, "message");
      append_error(L, ERRS);
      lua_pushliteral(L, "");
    } else if (ty == LUA_TNUMBER) {
      push_text(L, -1);
      lua_remove(L, -2);
    }
    lua_rawseti(L, KEY, i + 1);
  }

  if (want) lua_createtable(L, 0, t->nentries); else lua_pushnil(L); /* VALS */
  lua_pushnil(L); /* JSON */
  lua_pushnil(L); /* NAME */
  lua_pushnil(L); /* GROUP */
  lua_pushnil(L); /* SUBS */
  lua_pushnil(L); /* FERRS: {entry index, message, ...} of invalid values */
  MhBuf *b = &t->buf, *hb = &t->hbuf;
  int owner = !t->busy;
  if (owner) t->busy = 1;
  else { b = mh_buf_new(L); hb = mh_buf_new(L); } /* a nested call: private buffers */

  /* column values, straight into the JSON */
  b->n = 0;
  mh_buf_addc(L, b, '{');
  int first = 1, nferr = 0;
  char errbuf[128];
  for (int j = 0; j < t->nentries; j++) {
    const Entry *e = &t->entries[j];
    if (e->kind == E_SOURCE) {
      lua_rawgeti(L, REFS, e->source);
      lua_rawget(L, R);
    } else if (e->kind == E_FN) {
      lua_rawgeti(L, REFS, e->fn);
      lua_pushvalue(L, R);
      lua_pushvalue(L, CTX);
      if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        lua_createtable(L, 0, 3);
        lua_insert(L, -2);
        push_failure(L, t, REFS, e->fail);
        lua_setfield(L, -2, "message");
        lua_rawgeti(L, REFS, e->fncol);
        lua_setfield(L, -2, "column");
        lua_rawgeti(L, REFS, e->id);
        lua_setfield(L, -2, "monday_column");
        append_error(L, ERRS);
        lua_pushnil(L);
      }
    } else if (e->cnst) {
      lua_rawgeti(L, REFS, e->cnst);
    } else {
      lua_pushnil(L);
    }
    if (is_null(L, -1)) { lua_pop(L, 1); lua_pushnil(L); }
    if (e->clean.n && !lua_isnil(L, -1)) apply_steps(L, t, e->clean, REFS);
    if (e->map && !lua_isnil(L, -1)) {
      lua_rawgeti(L, REFS, e->map);
      push_text(L, -2);
      if (lua_rawget(L, -2) != LUA_TNIL) lua_replace(L, -3);
      else lua_pop(L, 1);
      lua_pop(L, 1);
    }
    if (e->has_def && is_blank(L, -1)) {
      lua_pop(L, 1);
      if (e->def) lua_rawgeti(L, REFS, e->def); else lua_pushnil(L);
    }
    size_t mark = b->n;
    if (!first) mh_buf_addc(L, b, ',');
    mh_buf_add(L, b, e->jkey, e->jkeylen);
    const char *err = NULL;
    int r = mh_colvals_format(L, -1, e->type, b, want, &err, errbuf, sizeof errbuf);
    if (r == 0 && clear) {
      mh_colvals_clear(L, e->type, b, want);
      r = 1;
    }
    if (r == 1) {
      first = 0;
      if (want) {
        lua_rawgeti(L, REFS, e->id);
        lua_insert(L, -2);
        lua_rawset(L, VALS);
      }
    } else {
      b->n = mark;
      if (r < 0) {
        if (lua_isnil(L, FERRS)) { lua_newtable(L); lua_replace(L, FERRS); }
        lua_pushinteger(L, j);
        lua_rawseti(L, FERRS, ++nferr);
        lua_pushstring(L, err);
        lua_rawseti(L, FERRS, ++nferr);
      }
    }
    lua_pop(L, 1);
  }
  mh_buf_addc(L, b, '}');
  lua_pushlstring(L, b->p, b->n);
  lua_replace(L, JSON);
  for (int i = 1; i < nferr; i += 2) {
    lua_rawgeti(L, FERRS, i);
    const Entry *e = &t->entries[lua_tointeger(L, -1)];
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    lua_rawgeti(L, REFS, e->errcol);
    lua_setfield(L, -2, "column");
    lua_rawgeti(L, REFS, e->id);
    lua_setfield(L, -2, "monday_column");
    lua_rawgeti(L, FERRS, i + 1);
    lua_rawgeti(L, REFS, e->suffix);
    lua_concat(L, 2);
    lua_setfield(L, -2, "message");
    append_error(L, ERRS);
  }

  /* item name (the key's parts when the rule fails) and group */
  if (!name_rule(L, t, t->item_fn, t->item_fail, "the item name is empty", "item name")) {
    b->n = 0;
    push_concat(L, KEY, t->nkeys, " ", b);
  }
  lua_replace(L, NAME);
  if (name_rule(L, t, t->group_fn, t->group_fail, "the group name is empty", "group")) lua_replace(L, GROUP);

  /* the canonical text for the hash, item part first (docs/mappings.md) */
  hb->n = 0;
  mh_buf_add(L, hb, "[" ORDER_TAG ",", sizeof(ORDER_TAG) + 1);
  size_t n;
  const char *s = lua_tolstring(L, NAME, &n);
  mh_json_string(L, hb, s, n);
  mh_buf_addc(L, hb, ',');
  if (lua_isnil(L, GROUP)) mh_buf_add(L, hb, "null", 4);
  else { s = lua_tolstring(L, GROUP, &n); mh_json_string(L, hb, s, n); }
  mh_buf_addc(L, hb, ',');
  s = lua_tolstring(L, JSON, &n);
  mh_buf_add(L, hb, s, n);
  size_t item_end = hb->n;
  mh_buf_add(L, hb, ",[", 2);

  /* subitems: one per size with a quantity > 0, in column order */
  lua_newtable(L);
  lua_replace(L, SUBS);
  int nsubs = 0;
  for (int i = 0; i < t->nsizes; i++) {
    const Size *sz = &t->sizes[i];
    int ty = get_raw(L, ROW, array, sz->pos, sz->size, REFS);
    if (ty == LUA_TNUMBER) { /* the common case, an integer <= 0: no subitem */
      int isint;
      lua_Integer v = lua_tointegerx(L, -1, &isint);
      if (isint && v <= 0) { lua_pop(L, 1); continue; }
    }
    if (ty == LUA_TNIL || (ty == LUA_TLIGHTUSERDATA && is_null(L, -1))) { lua_pop(L, 1); continue; }
    int isnum = ty == LUA_TNUMBER;
    if (ty == LUA_TSTRING) isnum = lua_stringtonumber(L, lua_tostring(L, -1)) != 0;
    else if (isnum) lua_pushvalue(L, -1);
    if (!isnum) {
      lua_createtable(L, 0, 2);
      lua_rawgeti(L, REFS, sz->size);
      lua_setfield(L, -2, "column");
      lua_pushliteral(L, "size quantity is not a number: ");
      luaL_tolstring(L, -3, NULL);
      lua_concat(L, 2);
      lua_setfield(L, -2, "message");
      append_error(L, ERRS);
      lua_pop(L, 1);
      continue;
    }
    /* stack: q, n */
    char qs[64];
    int qlen;
    lua_Integer qi;
    if (lua_isinteger(L, -1)) {
      qi = lua_tointeger(L, -1);
      if (qi <= 0) { lua_pop(L, 2); continue; }
      qlen = snprintf(qs, sizeof qs, LUA_INTEGER_FMT, (LUAI_UACINT)qi);
    } else {
      lua_Number d = lua_tonumber(L, -1);
      if (!(d > 0)) { lua_pop(L, 2); continue; }
      if (d == floor(d) && lua_numbertointeger(d, &qi)) {
        lua_pop(L, 1);
        lua_pushinteger(L, qi);
        qlen = snprintf(qs, sizeof qs, LUA_INTEGER_FMT, (LUAI_UACINT)qi);
      } else {
        qlen = snprintf(qs, sizeof qs, "%.17g", (double)d);
      }
    }
    lua_remove(L, -2); /* q; n stays */
    lua_createtable(L, 0, 4);
    lua_insert(L, -2);
    lua_setfield(L, -2, "qty");
    lua_rawgeti(L, REFS, sz->size);
    lua_setfield(L, -2, "size");
    if (sz->name) lua_rawgeti(L, REFS, sz->name);
    else {
      lua_rawgeti(L, REFS, t->size_name_fn);
      lua_rawgeti(L, REFS, sz->size);
      lua_getfield(L, -3, "qty");
      lua_pushvalue(L, R);
      if (lua_pcall(L, 3, 1, 0) == LUA_OK) {
        luaL_tolstring(L, -1, NULL);
        lua_remove(L, -2);
      } else {
        lua_pop(L, 1);
        lua_pushliteral(L, "Size ");
        lua_rawgeti(L, REFS, sz->size);
        lua_concat(L, 2);
      }
    }
    s = lua_tolstring(L, -1, &n);
    if (nsubs) mh_buf_addc(L, hb, ',');
    mh_buf_addc(L, hb, '[');
    mh_json_string(L, hb, s, n);
    mh_buf_addc(L, hb, ',');
    lua_setfield(L, -2, "name");
    size_t jstart = hb->n;
    mh_buf_add(L, hb, sz->pre, sz->prelen);
    mh_buf_add(L, hb, qs, (size_t)qlen);
    mh_buf_add(L, hb, sz->post, sz->postlen);
    lua_pushlstring(L, hb->p + jstart, hb->n - jstart);
    lua_setfield(L, -2, "column_values_json");
    mh_buf_addc(L, hb, ']');
    lua_rawseti(L, SUBS, ++nsubs);
  }
  mh_buf_add(L, hb, "]]", 2);

  /* the record */
  lua_createtable(L, 0, 12);
  int rec = lua_gettop(L);
  lua_pushvalue(L, KEY);
  lua_setfield(L, rec, "key");
  b->n = 0;
  push_concat(L, KEY, t->nkeys, "|", b);
  lua_setfield(L, rec, "key_text");
  lua_pushvalue(L, NAME);
  lua_setfield(L, rec, "item_name");
  lua_pushvalue(L, GROUP);
  lua_setfield(L, rec, "group_name");
  lua_pushvalue(L, VALS);
  lua_setfield(L, rec, "column_values");
  lua_pushvalue(L, JSON);
  lua_setfield(L, rec, "column_values_json");
  lua_pushvalue(L, SUBS);
  lua_setfield(L, rec, "subitems");
  if (lua_isnil(L, ERRS)) lua_newtable(L); else lua_pushvalue(L, ERRS);
  lua_setfield(L, rec, "errors");
  lua_pushvalue(L, CUST);
  lua_setfield(L, rec, "customer");
  if (!want) {
    lua_rawgeti(L, REFS, t->rec_mt);
    lua_setmetatable(L, rec);
  }
  if (t->accept) {
    lua_rawgeti(L, REFS, t->accept);
    lua_pushvalue(L, R);
    lua_pushvalue(L, CTX);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK) {
      if (!lua_toboolean(L, -1)) { lua_pushboolean(L, 1); lua_setfield(L, rec, "filtered"); }
      lua_pop(L, 1);
    } else {
      lua_pushliteral(L, "filter failed: ");
      lua_rawgeti(L, REFS, t->errmsg);
      lua_pushvalue(L, -3);
      lua_call(L, 1, 1);
      lua_concat(L, 2);
      lua_createtable(L, 0, 2);
      lua_insert(L, -2);
      lua_setfield(L, -2, "message");
      lua_pushliteral(L, "filter");
      lua_setfield(L, -2, "column");
      lua_getfield(L, rec, "errors");
      lua_insert(L, -2);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
      lua_pop(L, 2); /* errors, the error value */
    }
  }
  mh_hash_pushhex(L, hb->p, hb->n);
  lua_setfield(L, rec, "hash");
  /* item hash: the same text with the item tag and without subitems */
  size_t tag = sizeof(ORDER_TAG) + 1; /* '[' + tag + ',' */
  b->n = 0;
  mh_buf_add(L, b, "[" ITEM_TAG ",", sizeof(ITEM_TAG) + 1);
  mh_buf_add(L, b, hb->p + tag, item_end - tag);
  mh_buf_addc(L, b, ']');
  mh_hash_pushhex(L, b->p, b->n);
  lua_setfield(L, rec, "item_hash");
  if (owner) t->busy = 0;
  lua_pushnil(L);
  lua_setfield(L, CTX, "row");
  lua_pushnil(L);
  lua_setfield(L, CTX, "raw");
  lua_pushvalue(L, rec);
  lua_pushvalue(L, ERRS);
  return 2;
}

static int t_tostring(lua_State *L) {
  Transform *t = luaL_checkudata(L, 1, TRANSFORM);
  lua_pushfstring(L, "transform (%d columns read, %d monday columns, %d sizes)", t->nreaders, t->nentries,
                  t->nsizes);
  return 1;
}

static const luaL_Reg methods[] = {
  {"run", t_run}, {"__close", t_close}, {"__tostring", t_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {{"new", t_new}, {NULL, NULL}};

int luaopen_monhost_transform(lua_State *L) {
  mh_newclass(L, TRANSFORM, methods);
  luaL_newlib(L, funcs);
  return 1;
}
