/* graphql.c: monhost.graphql_native, the thin native half of the monday
 * GraphQL client (scripts/monhost/graphql.lua holds all the policy):
 *
 *   native.engine{token=, ca_file=, connect_timeout=, max_host_connections=,
 *                 user_agent=}                     -> engine
 *   engine:submit{url=, body=, headers={"K: v", ...}, timeout=,
 *                 method="POST"|"GET"}             -> id
 *   engine:wait([seconds])   -> {{id=, status=, body=, headers={k=v}, error=,
 *                                 curl_code=, elapsed=, uploaded=}, ...}
 *   engine:pending() -> n;  engine:cancel(id) -> bool;  engine:close()
 *   native.encode(value)     -> JSON text with object keys sorted, so the
 *                               same request always has the same bytes (an
 *                               Idempotency-Key replay needs that)
 *   native.random_hex(nbytes) -> hex string from the kernel's CSPRNG
 *
 * libcurl multi runs many requests on one thread. TLS verification is
 * always on (peer and host); ca_file only chooses the trust store. The token
 * lives only in C memory (added as the Authorization header, wiped on close)
 * and is registered with mh_add_secret; headers are never logged. */
#include "monhost.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define ENGINE "monhost.graphql_native.engine"
#define BUFMT "monhost.graphql_native.buf"
#define MAX_BODY ((size_t)256 << 20) /* a reply larger than this is an error */

typedef struct {
  char *p;
  size_t n, cap;
  int overflow;
} Buf;

static int buf_grow(Buf *b, size_t more) {
  if (b->n + more + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + more + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) return 0;
  b->p = p;
  b->cap = cap;
  return 1;
}

static int buf_add(Buf *b, const char *s, size_t n) {
  if (!buf_grow(b, n)) return 0;
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
  return 1;
}

typedef struct Xfer {
  CURL *easy;
  lua_Integer id;
  struct curl_slist *hdrs;
  Buf body, head;
  char err[CURL_ERROR_SIZE];
  struct Xfer *next;
} Xfer;

typedef struct {
  CURLM *multi;
  char *auth;    /* "Authorization: <token>" or NULL */
  char *ca_file;
  char *user_agent;
  long connect_timeout_ms;
  lua_Integer next_id;
  Xfer *xfers;
  int nxfers;
} Engine;

static void wipe_free(char *s) {
  if (!s) return;
  volatile char *v = s;
  while (*v) *v++ = 0;
  free(s);
}

static void xfer_free(Engine *e, Xfer *x) {
  if (x->easy) {
    curl_multi_remove_handle(e->multi, x->easy);
    curl_easy_cleanup(x->easy);
  }
  for (struct curl_slist *h = x->hdrs; h; h = h->next) { /* the token is in here */
    volatile char *v = h->data;
    while (*v) *v++ = 0;
  }
  curl_slist_free_all(x->hdrs);
  free(x->body.p);
  free(x->head.p);
  free(x);
}

static void unlink_xfer(Engine *e, Xfer *x) {
  for (Xfer **pp = &e->xfers; *pp; pp = &(*pp)->next)
    if (*pp == x) { *pp = x->next; e->nxfers--; return; }
}

static Engine *check_engine(lua_State *L) {
  Engine *e = luaL_checkudata(L, 1, ENGINE);
  if (!e->multi) luaL_argerror(L, 1, "engine is closed");
  return e;
}

static char *opt_strdup(lua_State *L, int t, const char *k) {
  char *r = NULL;
  if (lua_getfield(L, t, k) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (strlen(s) != n || strpbrk(s, "\r\n")) luaL_error(L, "%s must not contain NUL or newlines", k);
    r = strdup(s);
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "%s must be a string", k);
  }
  lua_pop(L, 1);
  return r;
}

static int e_new(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  else { lua_newtable(L); lua_replace(L, 1); }
  Engine *e = lua_newuserdatauv(L, sizeof *e, 0);
  memset(e, 0, sizeof *e);
  luaL_setmetatable(L, ENGINE);
  char *tok = opt_strdup(L, 1, "token");
  if (tok) {
    mh_add_secret(tok);
    size_t n = strlen(tok) + sizeof "Authorization: ";
    e->auth = malloc(n);
    if (e->auth) snprintf(e->auth, n, "Authorization: %s", tok);
    wipe_free(tok);
    if (!e->auth) return luaL_error(L, "out of memory");
  }
  e->ca_file = opt_strdup(L, 1, "ca_file");
  e->user_agent = opt_strdup(L, 1, "user_agent");
  lua_getfield(L, 1, "connect_timeout");
  e->connect_timeout_ms = (long)(luaL_optnumber(L, -1, 10) * 1000);
  lua_pop(L, 1);
  lua_getfield(L, 1, "max_host_connections");
  long maxc = (long)luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  e->multi = curl_multi_init();
  if (!e->multi) return luaL_error(L, "curl_multi_init failed");
  if (maxc > 0) curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxc);
  e->next_id = 1;
  return 1;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
  Xfer *x = ud;
  size_t n = sz * nm;
  if (x->body.n + n > MAX_BODY || !buf_add(&x->body, p, n)) { x->body.overflow = 1; return 0; }
  return n;
}

/* Keep only the last header block (a 100-continue or a proxy's block comes
 * first). */
static size_t on_header(char *p, size_t sz, size_t nm, void *ud) {
  Xfer *x = ud;
  size_t n = sz * nm;
  if (n >= 5 && !strncmp(p, "HTTP/", 5)) x->head.n = 0;
  if (x->head.n + n > (1 << 20) || !buf_add(&x->head, p, n)) return 0;
  return n;
}

static int add_header(Xfer *x, const char *h) {
  struct curl_slist *s = curl_slist_append(x->hdrs, h);
  if (!s) return 0;
  x->hdrs = s;
  return 1;
}

/* engine:submit{url=, body=, headers={...}, timeout=} -> id */
static int e_submit(lua_State *L) {
  Engine *e = check_engine(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "url");
  const char *url = lua_tostring(L, -1);
  if (!url) return luaL_argerror(L, 2, "url required");
  size_t blen = 0;
  lua_getfield(L, 2, "body");
  const char *body = lua_tolstring(L, -1, &blen);
  lua_getfield(L, 2, "timeout");
  double timeout = luaL_optnumber(L, -1, 60);
  lua_pop(L, 1);
  lua_getfield(L, 2, "method");
  int get = lua_isstring(L, -1) && !strcmp(lua_tostring(L, -1), "GET");
  lua_pop(L, 1);

  Xfer *x = calloc(1, sizeof *x);
  if (!x) return luaL_error(L, "out of memory");
  x->easy = curl_easy_init();
  int okh = x->easy != NULL;
  okh = okh && add_header(x, "Content-Type: application/json");
  okh = okh && add_header(x, "Accept: application/json");
  okh = okh && add_header(x, "Expect:"); /* no 100-continue round trip */
  if (okh && e->auth) okh = add_header(x, e->auth);
  if (okh && lua_getfield(L, 2, "headers") == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; okh && i <= n; i++) {
      lua_rawgeti(L, -1, i);
      size_t hl;
      const char *h = lua_tolstring(L, -1, &hl);
      if (!h || strlen(h) != hl || strpbrk(h, "\r\n") || !strchr(h, ':')) {
        lua_pop(L, 1);
        xfer_free(e, x);
        return luaL_argerror(L, 2, "headers must be \"Name: value\" strings without newlines");
      }
      if (!strncasecmp(h, "authorization:", 14)) {
        lua_pop(L, 1);
        xfer_free(e, x);
        return luaL_argerror(L, 2, "pass the token to engine{token=}, not as a header");
      }
      okh = add_header(x, h);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (!okh) { xfer_free(e, x); return luaL_error(L, "out of memory"); }

  CURL *c = x->easy;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L); /* never configurable */
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (e->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
  if (e->user_agent) curl_easy_setopt(c, CURLOPT_USERAGENT, e->user_agent);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
  if (get) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? blen : 0));
    curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body ? body : "");
  }
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->err);
  curl_easy_setopt(c, CURLOPT_PRIVATE, x);
  lua_pop(L, 2); /* url, body */
  if (curl_multi_add_handle(e->multi, c) != CURLM_OK) {
    xfer_free(e, x);
    return luaL_error(L, "curl_multi_add_handle failed");
  }
  x->id = e->next_id++;
  x->next = e->xfers;
  e->xfers = x;
  e->nxfers++;
  lua_pushinteger(L, x->id);
  return 1;
}

/* Response headers as {lowercase-name = value}; repeats joined by ", ". */
static void push_headers(lua_State *L, Buf *h) {
  lua_newtable(L);
  if (!h->p) return;
  char *line = h->p, *end = h->p + h->n;
  while (line < end) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    char *le = nl ? nl : end;
    char *colon = memchr(line, ':', (size_t)(le - line));
    if (colon && strncmp(line, "HTTP/", 5)) {
      luaL_Buffer nb;
      luaL_buffinit(L, &nb);
      for (char *p = line; p < colon; p++) luaL_addchar(&nb, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
      luaL_pushresult(&nb);
      char *v = colon + 1, *ve = le;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      lua_pushvalue(L, -1);
      if (lua_rawget(L, -3) == LUA_TSTRING) {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_concat(L, 3);
      } else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
      }
      lua_rawset(L, -3);
    }
    line = le + 1;
  }
}

static void push_result(lua_State *L, Xfer *x, CURLcode rc) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, x->id);
  lua_setfield(L, -2, "id");
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  lua_pushinteger(L, status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, x->body.p ? x->body.p : "", x->body.n);
  lua_setfield(L, -2, "body");
  push_headers(L, &x->head);
  lua_setfield(L, -2, "headers");
  curl_off_t t = 0, up = 0;
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &t);
  lua_pushnumber(L, (double)t / 1e6);
  lua_setfield(L, -2, "elapsed");
  curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &up);
  lua_pushinteger(L, (lua_Integer)up);
  lua_setfield(L, -2, "uploaded");
  lua_pushinteger(L, rc);
  lua_setfield(L, -2, "curl_code");
  if (rc != CURLE_OK) {
    const char *msg = x->body.overflow ? "reply too large" : x->err[0] ? x->err : curl_easy_strerror(rc);
    char buf[CURL_ERROR_SIZE + 64];
    lua_pushstring(L, mh_redact(msg, buf, sizeof buf));
    lua_setfield(L, -2, "error");
  }
}

/* engine:wait([seconds=0]) -> completed results (possibly none). Returns as
 * soon as at least one request has finished or the time is up. */
static int e_wait(lua_State *L) {
  Engine *e = check_engine(L);
  double limit = luaL_optnumber(L, 2, 0);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double deadline = ts.tv_sec + ts.tv_nsec / 1e9 + (limit > 0 ? limit : 0);
  lua_newtable(L);
  int n = 0;
  for (;;) {
    int running = 0;
    curl_multi_perform(e->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE) continue;
      Xfer *x = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
      CURLcode rc = m->data.result;
      push_result(L, x, rc);
      lua_rawseti(L, -2, ++n);
      unlink_xfer(e, x);
      xfer_free(e, x);
    }
    if (n > 0 || e->nxfers == 0) break;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = ts.tv_sec + ts.tv_nsec / 1e9;
    if (now >= deadline) break;
    double wait = deadline - now;
    if (wait > 0.1) wait = 0.1; /* poll Ctrl-C at least ten times a second */
    curl_multi_poll(e->multi, NULL, 0, (int)(wait * 1000) + 1, NULL);
    mh_check_interrupt(L);
  }
  return 1;
}

static int e_pending(lua_State *L) {
  Engine *e = check_engine(L);
  lua_pushinteger(L, e->nxfers);
  return 1;
}

static int e_cancel(lua_State *L) {
  Engine *e = check_engine(L);
  lua_Integer id = luaL_checkinteger(L, 2);
  for (Xfer *x = e->xfers; x; x = x->next) {
    if (x->id == id) {
      unlink_xfer(e, x);
      xfer_free(e, x);
      lua_pushboolean(L, 1);
      return 1;
    }
  }
  lua_pushboolean(L, 0);
  return 1;
}

static int e_close(lua_State *L) {
  Engine *e = luaL_checkudata(L, 1, ENGINE);
  while (e->xfers) {
    Xfer *x = e->xfers;
    e->xfers = x->next;
    xfer_free(e, x);
  }
  e->nxfers = 0;
  if (e->multi) curl_multi_cleanup(e->multi);
  e->multi = NULL;
  wipe_free(e->auth);
  e->auth = NULL;
  free(e->ca_file);
  e->ca_file = NULL;
  free(e->user_agent);
  e->user_agent = NULL;
  return 0;
}

static int e_tostring(lua_State *L) {
  Engine *e = luaL_checkudata(L, 1, ENGINE);
  lua_pushfstring(L, "graphql engine (%d in flight%s)", e->nxfers, e->multi ? "" : ", closed");
  return 1;
}

/* ---- deterministic JSON ------------------------------------------------ */

static int buf_gc(lua_State *L) {
  Buf *b = luaL_checkudata(L, 1, BUFMT);
  free(b->p);
  b->p = NULL;
  return 0;
}

static void jadd(lua_State *L, Buf *b, const char *s, size_t n) {
  if (!buf_add(b, s, n)) luaL_error(L, "out of memory");
}

static void jstring(lua_State *L, Buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (!buf_grow(b, n + 2)) luaL_error(L, "out of memory");
  b->p[b->n++] = '"';
  size_t run = 0; /* bytes copied verbatim in one go */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    jadd(L, b, s + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0};
    size_t el = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    default:
      esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
      el = 6;
    }
    jadd(L, b, esc, el);
  }
  jadd(L, b, s + run, n - run);
  jadd(L, b, "\"", 1);
}

typedef struct {
  const char *s; /* NULL for an integer key: see num */
  size_t n;
  lua_Integer i;
  char num[24]; /* integer keys of a non-array table, as text */
} Key;

#define KEYTEXT(k) ((k)->s ? (k)->s : (k)->num)

static int key_cmp(const void *a, const void *b) {
  const Key *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(KEYTEXT(x), KEYTEXT(y), n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

static void jvalue(lua_State *L, Buf *b, int idx, int depth);

static void jtable(lua_State *L, Buf *b, int idx, int depth) {
  if (depth > 64) luaL_error(L, "encode: nesting deeper than 64 (a cycle?)");
  luaL_checkstack(L, 6, "encode");
  lua_Integer count = 0, maxi = 0;
  int array = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
      lua_Integer k = lua_tointeger(L, -2);
      if (k > maxi) maxi = k;
    } else {
      array = 0;
    }
    lua_pop(L, 1);
  }
  if (count > 0 && array && maxi == count) {
    jadd(L, b, "[", 1);
    for (lua_Integer i = 1; i <= count; i++) {
      if (i > 1) jadd(L, b, ",", 1);
      lua_rawgeti(L, idx, i);
      jvalue(L, b, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
    }
    jadd(L, b, "]", 1);
    return;
  }
  Key *keys = lua_newuserdatauv(L, sizeof(Key) * (size_t)(count ? count : 1), 0);
  size_t nk = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    Key *k = &keys[nk++];
    if (lua_type(L, -2) == LUA_TSTRING) {
      k->s = lua_tolstring(L, -2, &k->n); /* anchored by the table */
    } else if (lua_isinteger(L, -2)) {
      k->i = lua_tointeger(L, -2);
      k->n = (size_t)snprintf(k->num, sizeof k->num, "%lld", (long long)k->i);
      k->s = NULL;
    } else {
      luaL_error(L, "encode: object keys must be strings or integers, not %s", luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }
  qsort(keys, nk, sizeof *keys, key_cmp);
  jadd(L, b, "{", 1);
  for (size_t i = 0; i < nk; i++) {
    if (i) jadd(L, b, ",", 1);
    jstring(L, b, KEYTEXT(&keys[i]), keys[i].n);
    jadd(L, b, ":", 1);
    if (!keys[i].s) {
      lua_rawgeti(L, idx, keys[i].i);
    } else {
      lua_pushlstring(L, keys[i].s, keys[i].n);
      lua_rawget(L, idx);
    }
    jvalue(L, b, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  jadd(L, b, "}", 1);
  lua_pop(L, 1); /* keys */
}

static void jvalue(lua_State *L, Buf *b, int idx, int depth) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: jadd(L, b, "null", 4); break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) jadd(L, b, "true", 4); else jadd(L, b, "false", 5);
    break;
  case LUA_TNUMBER: {
    char num[40];
    int n;
    if (lua_isinteger(L, idx)) {
      n = snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
    } else {
      double d = lua_tonumber(L, idx);
      if (!isfinite(d)) luaL_error(L, "encode: cannot encode %f as JSON", d);
      if (d == floor(d) && fabs(d) < 1e15) n = snprintf(num, sizeof num, "%.0f", d);
      else n = snprintf(num, sizeof num, "%.17g", d);
    }
    jadd(L, b, num, (size_t)n);
    break;
  }
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    jstring(L, b, s, n);
    break;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) { jadd(L, b, "null", 4); break; }
    /* fall through */
  case LUA_TTABLE:
    if (lua_type(L, idx) == LUA_TTABLE) { jtable(L, b, idx, depth); break; }
    /* fall through */
  default:
    luaL_error(L, "encode: cannot encode a %s as JSON", luaL_typename(L, idx));
  }
}

static int n_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  Buf *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  luaL_setmetatable(L, BUFMT);
  jvalue(L, b, 1, 0);
  lua_pushlstring(L, b->p ? b->p : "", b->n);
  return 1;
}

static int n_random_hex(lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 1, 16);
  if (n < 1 || n > 64) return luaL_argerror(L, 1, "between 1 and 64 bytes");
  unsigned char raw[64];
  size_t got = 0;
  while (got < (size_t)n) {
    ssize_t r = getrandom(raw + got, (size_t)n - got, 0);
    if (r < 0) return luaL_error(L, "getrandom failed");
    got += (size_t)r;
  }
  char hex[129];
  for (lua_Integer i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  lua_pushlstring(L, hex, (size_t)n * 2);
  return 1;
}

static int n_version(lua_State *L) {
  lua_pushstring(L, curl_version());
  return 1;
}

static const luaL_Reg engine_methods[] = {
  {"submit", e_submit}, {"wait", e_wait}, {"pending", e_pending}, {"cancel", e_cancel},
  {"close", e_close}, {"__close", e_close}, {"__tostring", e_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
  {"engine", e_new}, {"encode", n_encode}, {"random_hex", n_random_hex},
  {"curl_version", n_version}, {NULL, NULL}};

int luaopen_monhost_graphql_native(lua_State *L) {
  static int curl_ready = 0;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return luaL_error(L, "curl_global_init failed");
    curl_ready = 1;
  }
  mh_newclass(L, ENGINE, engine_methods);
  if (luaL_newmetatable(L, BUFMT)) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
