/* yaml.c: monhost.yaml, YAML documents into Lua values through libyaml's
 * event parser. Anchors and aliases share one Lua table; `<<` merge keys are
 * applied. Plain scalars are typed by the YAML 1.2 core schema (see
 * docs/architecture.md: null, true/false, integers, floats; everything else,
 * and every quoted scalar, is a string). Errors name file:line:column.
 *
 *   yaml.load(text [, {name=, lines=true}]) -> value [, lines] | nil, msg
 *   yaml.load_file(path [, opts])            -> value [, lines] | nil, msg
 *   yaml.load_all(text [, opts])             -> {doc, ...}      | nil, msg
 *   yaml.null                                 (== cjson.null == odbc.null)
 *
 * With lines=true a second table maps each mapping/sequence table to
 * {[key] = line} so tools (mapping convert) can cite the source line. */
#include "monhost.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
  yaml_parser_t parser;
  const char *name;
  int anchors; /* stack index of anchor -> value table */
  int lines;   /* stack index of lines table, or 0 */
  int depth;   /* nesting of collections: bounded so hostile input cannot
                  overflow the C stack */
  char err[512];
} Ctx;

static int set_err(Ctx *c, const char *what, yaml_mark_t m) {
  snprintf(c->err, sizeof c->err, "%s:%zu:%zu: %s", c->name, m.line + 1, m.column + 1, what);
  return 0;
}

static int next_event(Ctx *c, yaml_event_t *ev) {
  if (!yaml_parser_parse(&c->parser, ev)) {
    yaml_parser_t *p = &c->parser;
    char msg[400];
    if (p->context)
      snprintf(msg, sizeof msg, "%s %s", p->problem ? p->problem : "syntax error", p->context);
    else
      snprintf(msg, sizeof msg, "%s", p->problem ? p->problem : "syntax error");
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR) { m.line = 0; m.column = p->problem_offset; }
    return set_err(c, msg, m);
  }
  return 1;
}

static int match_int(const char *s, lua_Integer *out) {
  const char *p = s;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  int base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && !neg && p == s) {
    base = p[1] == 'x' ? 16 : 8;
    p += 2;
  } else if (p[0] == '0' && p[1] != '\0') {
    return 0; /* "007": keep as text, leading zeros are data (codes, sizes) */
  }
  if (!*p) return 0;
  for (const char *q = p; *q; q++) {
    int ok = base == 16 ? ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F'))
                        : base == 8 ? (*q >= '0' && *q <= '7') : (*q >= '0' && *q <= '9');
    if (!ok) return 0;
  }
  errno = 0;
  unsigned long long v = strtoull(p, NULL, base);
  if (errno == ERANGE || v > (unsigned long long)LUA_MAXINTEGER + (neg ? 1u : 0u)) return 0;
  *out = neg ? (lua_Integer)(0 - v) : (lua_Integer)v;
  return 1;
}

static int match_float(const char *s, double *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
    *out = *s == '-' ? -HUGE_VAL : HUGE_VAL;
    return 1;
  }
  if (p == s && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))) {
    *out = NAN;
    return 1;
  }
  /* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
   * but, as for integers, "007" and "00.5" stay text */
  if (p[0] == '0' && p[1] >= '0' && p[1] <= '9') return 0;
  int digits = 0;
  while (*p >= '0' && *p <= '9') { p++; digits++; }
  if (*p == '.') { p++; while (*p >= '0' && *p <= '9') { p++; digits++; } }
  if (!digits) return 0;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p) return 0;
  *out = strtod(s, NULL);
  return 1;
}

static void push_scalar(lua_State *L, yaml_event_t *ev) {
  const char *v = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (tag && strncmp(tag, "tag:yaml.org,2002:", 18) == 0) {
    const char *t = tag + 18;
    if (!strcmp(t, "str")) { lua_pushlstring(L, v, len); return; }
    plain = 1; /* !!int, !!float, !!bool, !!null: resolve the text */
  } else if (tag && strcmp(tag, "!") != 0) {
    lua_pushlstring(L, v, len); /* unknown local tags: the text */
    return;
  } else if (tag) {
    plain = 0; /* the non-specific "!" tag forces a string */
  }
  if (!plain || strlen(v) != len) { lua_pushlstring(L, v, len); return; }
  lua_Integer i;
  double d;
  if (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
    mh_pushnull(L);
  else if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
    lua_pushboolean(L, 1);
  else if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
    lua_pushboolean(L, 0);
  else if (match_int(v, &i))
    lua_pushinteger(L, i);
  else if (match_float(v, &d))
    lua_pushnumber(L, d);
  else
    lua_pushlstring(L, v, len);
}

static void remember_anchor(lua_State *L, Ctx *c, const yaml_char_t *anchor) {
  if (!anchor) return;
  lua_pushstring(L, (const char *)anchor);
  lua_pushvalue(L, -2);
  lua_rawset(L, c->anchors);
}

static int parse_node(lua_State *L, Ctx *c, yaml_event_t *ev);

/* Merge key: copy entries of the table at -1 (or of each table in a
 * sequence of tables) into `into` where the key is not set yet. */
static void merge_into(lua_State *L, int into) {
  int src = lua_gettop(L);
  int n = (int)lua_rawlen(L, src);
  lua_rawgeti(L, src, 1);
  int is_list = n > 0 && lua_istable(L, -1);
  lua_pop(L, 1);
  for (int k = 1; k <= (is_list ? n : 1); k++) {
    if (is_list) lua_rawgeti(L, src, k); else lua_pushvalue(L, src);
    int t = lua_gettop(L);
    if (lua_istable(L, t)) {
      lua_pushnil(L);
      while (lua_next(L, t)) {
        lua_pushvalue(L, -2);
        if (lua_rawget(L, into) == LUA_TNIL) {
          lua_pop(L, 1);
          lua_pushvalue(L, -2);
          lua_pushvalue(L, -2);
          lua_rawset(L, into);
        } else {
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
}

static void record_line(lua_State *L, Ctx *c, int tbl, int key, size_t line) {
  if (!c->lines) return;
  lua_pushvalue(L, tbl);
  if (lua_rawget(L, c->lines) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, tbl);
    lua_pushvalue(L, -2);
    lua_rawset(L, c->lines);
  }
  lua_pushvalue(L, key);
  lua_pushinteger(L, (lua_Integer)line + 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

#define MAX_DEPTH 256

static int parse_collection(lua_State *L, Ctx *c, yaml_event_t *start) {
  if (++c->depth > MAX_DEPTH) return set_err(c, "nesting deeper than 256 levels", start->start_mark);
  int is_map = start->type == YAML_MAPPING_START_EVENT;
  yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
  lua_newtable(L);
  int tbl = lua_gettop(L);
  remember_anchor(L, c, is_map ? start->data.mapping_start.anchor : start->data.sequence_start.anchor);
  int idx = 0;
  for (;;) {
    yaml_event_t ev;
    if (!next_event(c, &ev)) return 0;
    if (ev.type == end) { yaml_event_delete(&ev); break; }
    size_t line = ev.start_mark.line;
    int is_merge = is_map && ev.type == YAML_SCALAR_EVENT &&
                   ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                   !strcmp((const char *)ev.data.scalar.value, "<<");
    yaml_mark_t keymark = ev.start_mark;
    if (!parse_node(L, c, &ev)) return 0; /* consumes ev */
    if (!is_map) {
      lua_pushinteger(L, ++idx);
      record_line(L, c, tbl, lua_gettop(L), line);
      lua_pop(L, 1);
      lua_rawseti(L, tbl, idx);
      continue;
    }
    if (!next_event(c, &ev)) return 0;
    if (!parse_node(L, c, &ev)) return 0;
    if (is_merge) {
      merge_into(L, tbl);
      lua_pop(L, 2);
      continue;
    }
    if (mh_isnull(L, -2)) return set_err(c, "a null mapping key is not supported", keymark);
    record_line(L, c, tbl, lua_gettop(L) - 1, line);
    lua_rawset(L, tbl);
  }
  c->depth--;
  return 1;
}

/* Parse the node that starts with `ev` (taking ownership), push its value. */
static int parse_node(lua_State *L, Ctx *c, yaml_event_t *ev) {
  int ok = 1;
  luaL_checkstack(L, 8, "YAML nesting too deep");
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    push_scalar(L, ev);
    remember_anchor(L, c, ev->data.scalar.anchor);
    break;
  case YAML_ALIAS_EVENT:
    lua_pushstring(L, (const char *)ev->data.alias.anchor);
    if (lua_rawget(L, c->anchors) == LUA_TNIL) {
      char msg[300];
      snprintf(msg, sizeof msg, "unknown alias '*%s'", (const char *)ev->data.alias.anchor);
      ok = set_err(c, msg, ev->start_mark);
    }
    break;
  case YAML_SEQUENCE_START_EVENT:
  case YAML_MAPPING_START_EVENT: {
    yaml_event_t start = *ev; /* anchor pointer stays owned by ev until delete */
    ok = parse_collection(L, c, &start);
    break;
  }
  default:
    ok = set_err(c, "unexpected YAML event", ev->start_mark);
  }
  yaml_event_delete(ev);
  return ok;
}

/* Parse all documents; pushes an array of them. Returns 0 on error. */
static int parse_stream(lua_State *L, Ctx *c, int first_only) {
  lua_newtable(L);
  int docs = lua_gettop(L), n = 0;
  for (;;) {
    yaml_event_t ev;
    if (!next_event(c, &ev)) return 0;
    yaml_event_type_t t = ev.type;
    if (t == YAML_STREAM_END_EVENT) { yaml_event_delete(&ev); break; }
    if (t != YAML_DOCUMENT_START_EVENT) { yaml_event_delete(&ev); continue; }
    yaml_event_delete(&ev);
    if (!next_event(c, &ev)) return 0;
    if (!parse_node(L, c, &ev)) return 0;
    lua_rawseti(L, docs, ++n);
    if (!next_event(c, &ev)) return 0; /* DOCUMENT-END */
    yaml_event_delete(&ev);
    if (first_only) break;
  }
  return 1;
}

static int load_common(lua_State *L, const char *text, size_t len, const char *name, int opts, int all) {
  Ctx c;
  memset(&c, 0, sizeof c);
  c.name = name;
  int want_lines = 0;
  if (opts && lua_istable(L, opts)) {
    lua_getfield(L, opts, "lines");
    want_lines = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (!yaml_parser_initialize(&c.parser)) return luaL_error(L, "libyaml: out of memory");
  yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
  lua_newtable(L);
  c.anchors = lua_gettop(L);
  if (want_lines) {
    lua_newtable(L);
    c.lines = lua_gettop(L);
  }
  int ok = parse_stream(L, &c, !all);
  yaml_parser_delete(&c.parser);
  if (!ok) {
    lua_pushnil(L);
    lua_pushstring(L, c.err);
    return 2;
  }
  if (!all) {
    lua_rawgeti(L, -1, 1); /* first document; an empty stream is null */
    if (lua_isnil(L, -1)) { lua_pop(L, 1); mh_pushnull(L); }
  }
  if (want_lines) {
    lua_pushvalue(L, c.lines);
    return 2;
  }
  return 1;
}

static const char *opt_name(lua_State *L, int opts, const char *dflt) {
  const char *name = dflt;
  if (lua_istable(L, opts)) {
    lua_getfield(L, opts, "name");
    if (lua_isstring(L, -1)) name = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays referenced by the opts table */
  }
  return name;
}

static int y_load(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  return load_common(L, text, len, opt_name(L, 2, "(string)"), 2, 0);
}

static int y_load_all(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  return load_common(L, text, len, opt_name(L, 2, "(string)"), 2, 1);
}

static int y_load_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  FILE *f = fopen(path, "rb");
  if (!f) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, n);
  fclose(f);
  luaL_pushresult(&b);
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  return load_common(L, text, len, path, 2, 0);
}

static const luaL_Reg funcs[] = {
  {"load", y_load}, {"load_all", y_load_all}, {"load_file", y_load_file}, {NULL, NULL}};

int luaopen_monhost_yaml(lua_State *L) {
  luaL_newlib(L, funcs);
  mh_pushnull(L);
  lua_setfield(L, -2, "null");
  lua_pushstring(L, yaml_get_version_string());
  lua_setfield(L, -2, "libyaml_version");
  return 1;
}
