/* colvals.c: monhost.colvals, the native formatter that turns a transformed
 * order row into the column_values JSON monday expects for create_item and
 * change_multiple_column_values, per column type. It is the per-row hot
 * path, so a formatter is compiled once per board column list and then fed
 * arrays of values. Policy (which columns, read-only types, value maps)
 * stays in Lua (scripts/monhost/mapping.lua); this file only knows monday's
 * value shapes and how to validate the inputs.
 *
 *   local colvals = require "monhost.colvals"
 *   local f = colvals.new{ {id = "text_x", type = "text"}, ... }
 *   json, values, errors = f:format(array [, want_values [, clear_empty]])
 *   colvals.value(type, v)  -> monday value as Lua | nil (empty) | nil, msg
 *   colvals.encode(v)       -> canonical JSON text of a Lua value
 *   colvals.types           -> {type = true} the column types it formats
 *
 * Empty rule: nil, NULL, "" (and false for checkbox) are "empty": omitted
 * from the JSON, or with clear_empty sent as monday's clear value ("" for
 * text and numbers, null for the JSON-valued types). */
#include "monhost.h"
#include "colvals.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFBOX "monhost.colvals.buf"
#define FORMATTER "monhost.colvals"

/* ---- growable buffer ---------------------------------------------------- */

static int buf_gc(lua_State *L) {
  MhBuf *b = luaL_checkudata(L, 1, BUFBOX);
  mh_buf_free(b);
  return 0;
}

MhBuf *mh_buf_new(lua_State *L) {
  MhBuf *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  b->n = b->cap = 0;
  if (luaL_newmetatable(L, BUFBOX)) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return b;
}

void mh_buf_free(MhBuf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

void mh_buf_reserve(lua_State *L, MhBuf *b, size_t need) {
  if (b->n + need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < b->n + need) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) luaL_error(L, "not enough memory");
  b->p = p;
  b->cap = cap;
}

void mh_buf_add(lua_State *L, MhBuf *b, const char *s, size_t n) {
  mh_buf_reserve(L, b, n);
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

void mh_buf_addc(lua_State *L, MhBuf *b, char c) {
  if (b->n >= b->cap) mh_buf_reserve(L, b, 1);
  b->p[b->n++] = c;
}

#define ADDLIT(L, b, s) mh_buf_add(L, b, s, sizeof(s) - 1)

/* ---- canonical JSON ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
  else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
  else return 0;
  if (n < len) return 0;
  unsigned cp = c & (0x3F >> (len - 1));
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void mh_json_string(lua_State *L, MhBuf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  mh_buf_reserve(L, b, n + 2);
  mh_buf_addc(L, b, '"');
  size_t run = 0; /* start of the pending run of bytes copied verbatim */
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) { i++; continue; }
    size_t ul = c >= 0x80 ? utf8_len(s + i, n - i) : 0;
    if (ul > 1) { i += ul; continue; }
    mh_buf_add(L, b, str + run, i - run);
    char esc[8];
    switch (c) {
    case '"': ADDLIT(L, b, "\\\""); break;
    case '\\': ADDLIT(L, b, "\\\\"); break;
    case '\n': ADDLIT(L, b, "\\n"); break;
    case '\r': ADDLIT(L, b, "\\r"); break;
    case '\t': ADDLIT(L, b, "\\t"); break;
    case '\b': ADDLIT(L, b, "\\b"); break;
    case '\f': ADDLIT(L, b, "\\f"); break;
    default:
      if (c < 0x20) {
        snprintf(esc, sizeof esc, "\\u%04x", c);
        mh_buf_add(L, b, esc, 6);
      } else {
        ADDLIT(L, b, "\xEF\xBF\xBD"); /* invalid UTF-8 byte -> U+FFFD */
      }
    }
    i++;
    run = i;
  }
  mh_buf_add(L, b, str + run, n - run);
  mh_buf_addc(L, b, '"');
}

int mh_json_number(lua_State *L, int idx, char *out, size_t outsz) {
  if (lua_isinteger(L, idx))
    return snprintf(out, outsz, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
  double d = (double)lua_tonumber(L, idx);
  if (!isfinite(d)) return -1;
  if (d == floor(d) && fabs(d) < 9007199254740992.0)
    return snprintf(out, outsz, "%.0f", d == 0 ? 0.0 : d); /* no "-0" */
  for (int prec = 15; prec <= 17; prec++) {
    int len = snprintf(out, outsz, "%.*g", prec, d);
    if (strtod(out, NULL) == d) return len;
  }
  return snprintf(out, outsz, "%.17g", d);
}

static int cmp_keys(const void *a, const void *b) {
  const char *const *x = a, *const *y = b;
  /* keys are stored as "len:bytes" pointers below; compare bytewise */
  size_t lx, ly;
  memcpy(&lx, *x, sizeof lx);
  memcpy(&ly, *y, sizeof ly);
  int c = memcmp(*x + sizeof lx, *y + sizeof ly, lx < ly ? lx : ly);
  return c ? c : (lx < ly ? -1 : lx > ly);
}

/* Is the table at idx a non-empty sequence 1..n with no other keys? */
static lua_Integer seq_len(lua_State *L, int idx) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n == 0) return 0;
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (++count > n) { lua_pop(L, 1); return 0; }
  }
  return count == n ? n : 0;
}

void mh_json_canon(lua_State *L, int idx, MhBuf *b, int depth) {
  idx = lua_absindex(L, idx);
  char num[64];
  switch (lua_type(L, idx)) {
  case LUA_TNIL: ADDLIT(L, b, "null"); return;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) ADDLIT(L, b, "true"); else ADDLIT(L, b, "false");
    return;
  case LUA_TNUMBER: {
    int len = mh_json_number(L, idx, num, sizeof num);
    if (len < 0) luaL_error(L, "cannot encode inf or nan as JSON");
    mh_buf_add(L, b, num, (size_t)len);
    return;
  }
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    mh_json_string(L, b, s, n);
    return;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) { ADDLIT(L, b, "null"); return; }
    break;
  case LUA_TTABLE: {
    if (depth > 32) luaL_error(L, "table nested too deeply (or a cycle) for JSON");
    luaL_checkstack(L, 6, "JSON nesting");
    lua_Integer n = seq_len(L, idx);
    if (n > 0) {
      mh_buf_addc(L, b, '[');
      for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1) mh_buf_addc(L, b, ',');
        lua_rawgeti(L, idx, i);
        mh_json_canon(L, -1, b, depth + 1);
        lua_pop(L, 1);
      }
      mh_buf_addc(L, b, ']');
      return;
    }
    /* Collect the keys as strings in a Lua array (keeps them alive), then
     * sort pointers to length-prefixed copies in one scratch userdata. */
    lua_newtable(L);
    int keys = lua_gettop(L);
    int nk = 0;
    size_t total = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING) {
        lua_pushvalue(L, -1);
      } else if (lua_type(L, -1) == LUA_TNUMBER) {
        int len = mh_json_number(L, -1, num, sizeof num);
        if (len < 0) luaL_error(L, "cannot encode a nan key as JSON");
        lua_pushlstring(L, num, (size_t)len);
      } else {
        luaL_error(L, "cannot encode a %s key as JSON", luaL_typename(L, -1));
      }
      total += lua_rawlen(L, -1);
      lua_rawseti(L, keys, ++nk);
    }
    char **ptrs = lua_newuserdatauv(L, nk * sizeof(char *) + nk * sizeof(size_t) + total + 1, 0);
    char *blob = (char *)(ptrs + nk);
    for (int i = 1; i <= nk; i++) {
      size_t kl;
      lua_rawgeti(L, keys, i);
      const char *k = lua_tolstring(L, -1, &kl);
      ptrs[i - 1] = blob;
      memcpy(blob, &kl, sizeof kl);
      memcpy(blob + sizeof kl, k, kl);
      blob += sizeof kl + kl;
      lua_pop(L, 1);
    }
    qsort(ptrs, (size_t)nk, sizeof(char *), cmp_keys);
    mh_buf_addc(L, b, '{');
    for (int i = 0; i < nk; i++) {
      size_t kl;
      memcpy(&kl, ptrs[i], sizeof kl);
      const char *k = ptrs[i] + sizeof kl;
      if (i) mh_buf_addc(L, b, ',');
      mh_json_string(L, b, k, kl);
      mh_buf_addc(L, b, ':');
      lua_pushlstring(L, k, kl);
      if (lua_rawget(L, idx) == LUA_TNIL) { /* the key was a number */
        lua_pop(L, 1);
        lua_pushlstring(L, k, kl);
        if (lua_stringtonumber(L, lua_tostring(L, -1)) == 0) lua_pushnil(L);
        lua_remove(L, -2);
        lua_rawget(L, idx);
      }
      mh_json_canon(L, -1, b, depth + 1);
      lua_pop(L, 1);
    }
    mh_buf_addc(L, b, '}');
    lua_pop(L, 2); /* ptrs, keys */
    return;
  }
  default: break;
  }
  luaL_error(L, "cannot encode a %s value as JSON", luaL_typename(L, idx));
}

/* ---- column types -------------------------------------------------------- */

enum { T_TEXT, T_LONG_TEXT, T_NUMBERS, T_DATE, T_STATUS, T_DROPDOWN, T_CHECKBOX,
       T_EMAIL, T_LINK, T_COUNT };

static const char *const type_names[] = {"text", "long_text", "numbers", "date", "status",
                                         "dropdown", "checkbox", "email", "link", NULL};

/* monday's own aliases for the same types */
static int type_of(const char *s) {
  for (int i = 0; type_names[i]; i++)
    if (!strcmp(s, type_names[i])) return i;
  if (!strcmp(s, "numeric")) return T_NUMBERS;
  if (!strcmp(s, "color")) return T_STATUS;
  return -1;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static const char *trim(const char *s, size_t *n) {
  while (*n && is_space((unsigned char)s[0])) { s++; (*n)--; }
  while (*n && is_space((unsigned char)s[*n - 1])) (*n)--;
  return s;
}

/* A decimal number as text, kept digit for digit (DECIMAL(18,2) "28.8600"
 * stays "28.8600": no trip through double). Leading '+' and leading zeros
 * are dropped, ".5" becomes "0.5". */
static int norm_number(const char *s, size_t n, char *out, size_t outsz) {
  s = trim(s, &n);
  size_t i = 0, o = 0;
  if (n == 0 || n >= outsz - 2) return -1;
  if (s[i] == '+' || s[i] == '-') { if (s[i] == '-') out[o++] = '-'; i++; }
  size_t int_start = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  size_t int_len = i - int_start;
  size_t frac_start = 0, frac_len = 0;
  if (i < n && s[i] == '.') {
    frac_start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    frac_len = i - frac_start;
  }
  if (int_len == 0 && frac_len == 0) return -1;
  size_t exp_start = i;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return -1;
  }
  if (i != n) return -1;
  /* integer part without leading zeros */
  size_t z = int_start;
  while (z < int_start + int_len - 1 && s[z] == '0') z++;
  if (int_len == 0) out[o++] = '0';
  else { memcpy(out + o, s + z, int_start + int_len - z); o += int_start + int_len - z; }
  if (frac_len) { out[o++] = '.'; memcpy(out + o, s + frac_start, frac_len); o += frac_len; }
  if (exp_start < n) { memcpy(out + o, s + exp_start, n - exp_start); o += n - exp_start; }
  out[o] = '\0';
  if (!strcmp(out, "-0")) { strcpy(out, "0"); o = 1; }
  return (int)o;
}

static int days_in(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return d[m - 1];
}

static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* "YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD", optionally followed by a time
 * ("T" or " " then HH:MM...) which monday's date-only value drops. */
static int parse_date(const char *s, size_t n, int *y, int *m, int *d) {
  s = trim(s, &n);
  size_t rest;
  if (n >= 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]) {
    *y = digits(s, 4); *m = digits(s + 5, 2); *d = digits(s + 8, 2);
    rest = 10;
  } else if (n == 8) {
    *y = digits(s, 4); *m = digits(s + 4, 2); *d = digits(s + 6, 2);
    rest = 8;
  } else {
    return 0;
  }
  if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > days_in(*y, *m)) return 0;
  if (rest < n) {
    if (s[rest] != 'T' && s[rest] != ' ') return 0;
    const char *t = s + rest + 1;
    size_t tn = n - rest - 1;
    if (tn < 5 || digits(t, 2) < 0 || digits(t, 2) > 23 || t[2] != ':' ||
        digits(t + 3, 2) < 0 || digits(t + 3, 2) > 59)
      return 0;
  }
  return 1;
}

static int date_from_table(lua_State *L, int idx, int *y, int *m, int *d) {
  int ok = 1, *out[3] = {y, m, d};
  const char *f[3] = {"year", "month", "day"};
  for (int i = 0; i < 3; i++) {
    lua_getfield(L, idx, f[i]);
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum) ok = 0; else *out[i] = (int)v;
  }
  return ok && *y >= 1 && *y <= 9999 && *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in(*y, *m);
}

static int truthy_text(const char *s, size_t n, int *val) {
  static const char *yes[] = {"true", "1", "yes", "y", "t", "x", "on", NULL};
  static const char *no[] = {"false", "0", "no", "n", "f", "off", NULL};
  s = trim(s, &n);
  char low[8];
  if (n >= sizeof low) return 0;
  for (size_t i = 0; i < n; i++) low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
  low[n] = '\0';
  for (int i = 0; yes[i]; i++) if (!strcmp(low, yes[i])) { *val = 1; return 1; }
  for (int i = 0; no[i]; i++) if (!strcmp(low, no[i])) { *val = 0; return 1; }
  return 0;
}

/* Scheme "://" rest, no spaces: what monday's link column accepts. */
static int valid_url(const char *s, size_t n) {
  size_t i = 0;
  if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
  while (i < n && (((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
                   s[i] == '+' || s[i] == '.' || s[i] == '-')) i++;
  if (n - i < 4 || memcmp(s + i, "://", 3)) return 0;
  for (size_t j = i + 3; j < n; j++) if (is_space((unsigned char)s[j])) return 0;
  return 1;
}

static int valid_email(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  if (!at || at == s || at == s + n - 1 || memchr(at + 1, '@', n - (size_t)(at + 1 - s))) return 0;
  if (!memchr(at + 1, '.', n - (size_t)(at + 1 - s))) return 0;
  for (size_t i = 0; i < n; i++) if (is_space((unsigned char)s[i])) return 0;
  return 1;
}

/* The scalar text of a value for text-like types: strings as they are,
 * numbers printed as JSON numbers. Returns NULL (and sets err) otherwise. */
static const char *scalar_text(lua_State *L, int idx, size_t *n, char *num, size_t numsz, const char **err) {
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING) return lua_tolstring(L, idx, n);
  if (t == LUA_TNUMBER) {
    int len = mh_json_number(L, idx, num, numsz);
    if (len < 0) { *err = "not a finite number"; return NULL; }
    *n = (size_t)len;
    return num;
  }
  if (t == LUA_TBOOLEAN) {
    const char *s = lua_toboolean(L, idx) ? "true" : "false";
    *n = strlen(s);
    return s;
  }
  *err = "not a text value";
  return NULL;
}

static int is_empty(lua_State *L, int idx, int type) {
  int t = lua_type(L, idx);
  if (t == LUA_TNIL || (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL)) return 1;
  if (t == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    trim(s, &n);
    return n == 0;
  }
  if (t == LUA_TBOOLEAN && type == T_CHECKBOX) return !lua_toboolean(L, idx);
  if (t == LUA_TTABLE && type == T_DROPDOWN) return lua_rawlen(L, idx) == 0;
  return 0;
}

/* Format the value at idx as monday wants it for `type`.
 * Writes JSON to b (if b) and pushes the Lua form (if want) and returns 1;
 * returns 0 for empty (nothing written or pushed); returns -1 with *err on
 * an invalid value. */
static int format_value(lua_State *L, int idx, int type, MhBuf *b, int want, const char **err, char *errbuf, size_t errsz) {
  char tmp[96];
  size_t n = 0;
  const char *s;
  idx = lua_absindex(L, idx);
  if (is_empty(L, idx, type)) return 0;
  switch (type) {
  case T_TEXT:
  case T_LONG_TEXT:
  case T_STATUS:
    s = scalar_text(L, idx, &n, tmp, sizeof tmp, err);
    if (!s) return -1;
    if (type != T_TEXT) s = trim(s, &n);
    if (b) {
      if (type == T_LONG_TEXT) ADDLIT(L, b, "{\"text\":");
      if (type == T_STATUS) ADDLIT(L, b, "{\"label\":");
      mh_json_string(L, b, s, n);
      if (type != T_TEXT) mh_buf_addc(L, b, '}');
    }
    if (want) {
      if (type == T_TEXT) { lua_pushlstring(L, s, n); return 1; }
      lua_createtable(L, 0, 1);
      lua_pushlstring(L, s, n);
      lua_setfield(L, -2, type == T_LONG_TEXT ? "text" : "label");
    }
    return 1;
  case T_NUMBERS: {
    int len;
    if (lua_type(L, idx) == LUA_TNUMBER) {
      len = mh_json_number(L, idx, tmp, sizeof tmp);
      if (len < 0) { *err = "not a finite number"; return -1; }
    } else if (lua_type(L, idx) == LUA_TSTRING) {
      s = lua_tolstring(L, idx, &n);
      len = norm_number(s, n, tmp, sizeof tmp);
      if (len < 0) {
        size_t tn = n;
        const char *ts = trim(s, &tn);
        snprintf(errbuf, errsz, "not a number: \"%.*s\"", tn > 40 ? 40 : (int)tn, ts);
        *err = errbuf;
        return -1;
      }
    } else {
      *err = "not a number";
      return -1;
    }
    if (b) { mh_buf_addc(L, b, '"'); mh_buf_add(L, b, tmp, (size_t)len); mh_buf_addc(L, b, '"'); }
    if (want) lua_pushlstring(L, tmp, (size_t)len);
    return 1;
  }
  case T_DATE: {
    int y = 0, m = 0, d = 0, good;
    if (lua_type(L, idx) == LUA_TSTRING) {
      s = lua_tolstring(L, idx, &n);
      good = parse_date(s, n, &y, &m, &d);
      if (!good) {
        size_t tn = n;
        const char *ts = trim(s, &tn);
        snprintf(errbuf, errsz, "not a date: \"%.*s\"", tn > 40 ? 40 : (int)tn, ts);
        *err = errbuf;
        return -1;
      }
    } else if (lua_type(L, idx) == LUA_TTABLE) {
      if (!date_from_table(L, idx, &y, &m, &d)) { *err = "not a date: a table without a valid year, month and day"; return -1; }
    } else {
      *err = "not a date";
      return -1;
    }
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    if (b) { ADDLIT(L, b, "{\"date\":\""); mh_buf_add(L, b, tmp, 10); ADDLIT(L, b, "\"}"); }
    if (want) {
      lua_createtable(L, 0, 1);
      lua_pushlstring(L, tmp, 10);
      lua_setfield(L, -2, "date");
    }
    return 1;
  }
  case T_DROPDOWN: {
    if (lua_type(L, idx) == LUA_TTABLE) {
      lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
      if (b) ADDLIT(L, b, "{\"labels\":[");
      if (want) lua_createtable(L, 0, 1), lua_createtable(L, (int)len, 0);
      int k = 0;
      for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, idx, i);
        s = scalar_text(L, -1, &n, tmp, sizeof tmp, err);
        if (!s) { lua_pop(L, want ? 3 : 1); return -1; }
        s = trim(s, &n);
        if (n) {
          if (b) { if (k) mh_buf_addc(L, b, ','); mh_json_string(L, b, s, n); }
          if (want) { lua_pushlstring(L, s, n); lua_rawseti(L, -3, ++k); } else k++;
        }
        lua_pop(L, 1);
      }
      if (b) ADDLIT(L, b, "]}");
      if (want) lua_setfield(L, -2, "labels");
      return 1;
    }
    s = scalar_text(L, idx, &n, tmp, sizeof tmp, err);
    if (!s) return -1;
    s = trim(s, &n);
    if (b) { ADDLIT(L, b, "{\"labels\":["); mh_json_string(L, b, s, n); ADDLIT(L, b, "]}"); }
    if (want) {
      lua_createtable(L, 0, 1);
      lua_createtable(L, 1, 0);
      lua_pushlstring(L, s, n);
      lua_rawseti(L, -2, 1);
      lua_setfield(L, -2, "labels");
    }
    return 1;
  }
  case T_CHECKBOX: {
    int v;
    if (lua_type(L, idx) == LUA_TBOOLEAN) v = lua_toboolean(L, idx);
    else if (lua_type(L, idx) == LUA_TNUMBER) v = lua_tonumber(L, idx) != 0;
    else if (lua_type(L, idx) == LUA_TSTRING) {
      s = lua_tolstring(L, idx, &n);
      if (!truthy_text(s, n, &v)) { *err = "not a checkbox value (true/false, yes/no, 1/0)"; return -1; }
    } else { *err = "not a checkbox value"; return -1; }
    if (!v) return 0;
    if (b) ADDLIT(L, b, "{\"checked\":\"true\"}");
    if (want) { lua_createtable(L, 0, 1); lua_pushliteral(L, "true"); lua_setfield(L, -2, "checked"); }
    return 1;
  }
  case T_EMAIL:
    s = scalar_text(L, idx, &n, tmp, sizeof tmp, err);
    if (!s) return -1;
    s = trim(s, &n);
    if (!valid_email(s, n)) { *err = "not an email address"; return -1; }
    if (b) {
      ADDLIT(L, b, "{\"email\":"); mh_json_string(L, b, s, n);
      ADDLIT(L, b, ",\"text\":"); mh_json_string(L, b, s, n); mh_buf_addc(L, b, '}');
    }
    if (want) {
      lua_createtable(L, 0, 2);
      lua_pushlstring(L, s, n); lua_setfield(L, -2, "email");
      lua_pushlstring(L, s, n); lua_setfield(L, -2, "text");
    }
    return 1;
  case T_LINK: {
    size_t tn;
    const char *t;
    if (lua_type(L, idx) == LUA_TTABLE) {
      lua_getfield(L, idx, "url");
      lua_getfield(L, idx, "text");
      s = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
      t = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &tn) : s;
      if (t == s) tn = n;
      lua_pop(L, 2); /* the strings stay alive in the argument table */
      if (!s) { *err = "a link table needs a url"; return -1; }
    } else {
      s = scalar_text(L, idx, &n, tmp, sizeof tmp, err);
      if (!s) return -1;
      s = trim(s, &n);
      t = s; tn = n;
    }
    if (!valid_url(s, n)) { *err = "not a URL (scheme://...)"; return -1; }
    if (b) {
      /* keys in canonical (sorted) order: the JSON is hashed as it is */
      ADDLIT(L, b, "{\"text\":"); mh_json_string(L, b, t, tn);
      ADDLIT(L, b, ",\"url\":"); mh_json_string(L, b, s, n); mh_buf_addc(L, b, '}');
    }
    if (want) {
      lua_createtable(L, 0, 2);
      lua_pushlstring(L, s, n); lua_setfield(L, -2, "url");
      lua_pushlstring(L, t, tn); lua_setfield(L, -2, "text");
    }
    return 1;
  }
  }
  *err = "unsupported column type";
  return -1;
}

int mh_colvals_type(const char *name) { return type_of(name); }

int mh_colvals_format(lua_State *L, int idx, int type, MhBuf *b, int want, const char **err,
                      char *errbuf, size_t errsz) {
  return format_value(L, idx, type, b, want, err, errbuf, errsz);
}

void mh_colvals_clear(lua_State *L, int type, MhBuf *b, int want) {
  int text = type == T_TEXT || type == T_NUMBERS;
  if (b) { if (text) ADDLIT(L, b, "\"\""); else ADDLIT(L, b, "null"); }
  if (want) { if (text) lua_pushliteral(L, ""); else mh_pushnull(L); }
}

/* ---- the compiled formatter ---------------------------------------------- */

typedef struct {
  const char *id; /* kept alive by the formatter's user value */
  size_t idlen;
  int type;
} Col;

typedef struct {
  int n;
  Col cols[1];
} Formatter;

/* colvals.new{ {id=, type=}, ... } -> formatter. The order given is the
 * order of keys in the JSON (the mapping sorts by id: canonical). */
static int c_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)lua_rawlen(L, 1);
  Formatter *f = lua_newuserdatauv(L, sizeof(Formatter) + (n ? n - 1 : 0) * sizeof(Col), 1);
  f->n = n;
  lua_createtable(L, n, 0); /* ids, kept alive */
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    if (!lua_istable(L, -1)) luaL_argerror(L, 1, "each column must be a table {id=, type=}");
    lua_getfield(L, -1, "id");
    lua_getfield(L, -2, "type");
    const char *id = lua_tolstring(L, -2, &f->cols[i].idlen);
    const char *ty = lua_tostring(L, -1);
    if (!id || !ty) luaL_argerror(L, 1, lua_pushfstring(L, "column %d needs a string id and type", i + 1));
    int t = type_of(ty);
    if (t < 0) luaL_argerror(L, 1, lua_pushfstring(L, "column %s: monhost cannot write a '%s' column", id, ty));
    f->cols[i].type = t;
    f->cols[i].id = id;
    lua_pop(L, 1);
    lua_rawseti(L, -3, i + 1);
    lua_pop(L, 1);
  }
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, FORMATTER);
  return 1;
}

/* f:format(values [, want_values [, clear_empty]]) -> json, values|nil, errors|nil
 * values[i] is the value of the i-th column (nil/NULL/"" = empty). errors is
 * an array of {column = id, message = "..."}; a column with an invalid value
 * is left out and the rest is still formatted. */
static int f_format(lua_State *L) {
  Formatter *f = luaL_checkudata(L, 1, FORMATTER);
  luaL_checktype(L, 2, LUA_TTABLE);
  int want = lua_toboolean(L, 3), clear = lua_toboolean(L, 4);
  lua_settop(L, 2);
  int vals_t = 0;
  if (lua_rawlen(L, lua_upvalueindex(1)) > 0) { /* a previous call was interrupted */
    lua_createtable(L, 0, 0);
    lua_replace(L, lua_upvalueindex(1));
  }
  if (want) { lua_createtable(L, 0, f->n); vals_t = lua_gettop(L); }
  MhBuf *b = mh_buf_new(L);
  int nerr = 0;
  char errbuf[128];
  mh_buf_addc(L, b, '{');
  int first = 1;
  for (int i = 0; i < f->n; i++) {
    Col *c = &f->cols[i];
    lua_rawgeti(L, 2, i + 1);
    size_t mark = b->n;
    if (!first) mh_buf_addc(L, b, ',');
    mh_json_string(L, b, c->id, c->idlen);
    mh_buf_addc(L, b, ':');
    const char *err = NULL;
    int r = format_value(L, -1, c->type, b, want, &err, errbuf, sizeof errbuf);
    if (r == 1) {
      first = 0;
      if (want) lua_setfield(L, vals_t, c->id);
    } else if (r == 0 && clear) {
      first = 0;
      mh_colvals_clear(L, c->type, b, want);
      if (want) lua_setfield(L, vals_t, c->id);
    } else {
      b->n = mark; /* drop the key */
      if (r < 0) {
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, c->id, c->idlen);
        lua_setfield(L, -2, "column");
        lua_pushstring(L, err);
        lua_setfield(L, -2, "message");
        lua_rawseti(L, lua_upvalueindex(1), ++nerr);
      }
    }
    lua_pop(L, 1);
    if ((i & 63) == 63) mh_check_interrupt(L);
  }
  mh_buf_addc(L, b, '}');
  lua_pushlstring(L, b->p, b->n);
  mh_buf_free(b);
  if (want) lua_pushvalue(L, vals_t); else lua_pushnil(L);
  if (nerr) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_createtable(L, 0, 0);
    lua_replace(L, lua_upvalueindex(1)); /* fresh list for the next call */
  } else {
    lua_pushnil(L);
  }
  return 3;
}

/* colvals.value(type, v) -> the monday value as Lua | nil (empty) | nil, message */
static int c_value(lua_State *L) {
  int t = type_of(luaL_checkstring(L, 1));
  if (t < 0) return luaL_argerror(L, 1, lua_pushfstring(L, "monhost cannot write a '%s' column", lua_tostring(L, 1)));
  lua_settop(L, 2);
  const char *err = NULL;
  char errbuf[128];
  int r = format_value(L, 2, t, NULL, 1, &err, errbuf, sizeof errbuf);
  if (r == 1) return 1;
  lua_pushnil(L);
  if (r == 0) return 1;
  lua_pushstring(L, err);
  return 2;
}

/* colvals.encode(v) -> canonical JSON */
static int c_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  MhBuf *b = mh_buf_new(L);
  mh_json_canon(L, 1, b, 0);
  lua_pushlstring(L, b->p, b->n);
  mh_buf_free(b);
  return 1;
}

static int f_columns(lua_State *L) {
  Formatter *f = luaL_checkudata(L, 1, FORMATTER);
  lua_createtable(L, f->n, 0);
  for (int i = 0; i < f->n; i++) {
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, f->cols[i].id, f->cols[i].idlen);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, type_names[f->cols[i].type]);
    lua_setfield(L, -2, "type");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int f_tostring(lua_State *L) {
  Formatter *f = luaL_checkudata(L, 1, FORMATTER);
  lua_pushfstring(L, "colvals formatter (%d columns)", f->n);
  return 1;
}

static const luaL_Reg methods[] = {
  {"format", NULL}, {"columns", f_columns}, {"__tostring", f_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
  {"new", c_new}, {"value", c_value}, {"encode", c_encode}, {NULL, NULL}};

int luaopen_monhost_colvals(lua_State *L) {
  mh_newclass(L, FORMATTER, methods);
  /* format keeps its error list in an upvalue: no allocation per clean row */
  luaL_getmetatable(L, FORMATTER);
  lua_createtable(L, 0, 0);
  lua_pushcclosure(L, f_format, 1);
  lua_setfield(L, -2, "format");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_createtable(L, 0, T_COUNT);
  for (int i = 0; type_names[i]; i++) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, type_names[i]);
  }
  lua_setfield(L, -2, "types");
  return 1;
}
