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
 *   native.spec(types) -> spec;  native.prepare(spec, op, i, board_serial)
 *   -> prepared op;  native.build(spec, ops [, n]) -> request body: the hot
 *   path of a batch (check ops, write a whole aliased document) in C
 *
 * libcurl multi runs many requests on one thread. TLS verification is
 * always on (peer and host); ca_file only chooses the trust store. The token
 * lives only in C memory (added as the Authorization header, wiped on close)
 * and is registered with mh_add_secret; headers are never logged. */
#include "monhost.h"

#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
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

/* 1: the byte needs an escape in a JSON string */
static const unsigned char needs_esc[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* A JSON string. esc = 1 writes it as it must appear inside another JSON
 * string (a JSON argument travels as a string holding JSON): the same bytes
 * as escaping the encoded text a second time, in one pass. Room for the
 * worst case first, then runs of plain bytes are copied with memcpy. */
static void jstring_e(lua_State *L, Buf *b, const char *s, size_t n, int esc) {
  static const char hex[] = "0123456789abcdef";
  if (n > ((size_t)1 << 40) || !buf_grow(b, n * 7 + 4)) luaL_error(L, "out of memory");
  char *o = b->p + b->n;
  if (esc) *o++ = '\\';
  *o++ = '"';
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!needs_esc[c]) continue;
    memcpy(o, s + run, i - run);
    o += i - run;
    run = i + 1;
    if (esc) *o++ = '\\'; /* the escape's backslash, escaped */
    *o++ = '\\';
    switch (c) {
    case '"': if (esc) { *o++ = '\\'; } *o++ = '"'; break;
    case '\\': if (esc) { *o++ = '\\'; } *o++ = '\\'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    case '\b': *o++ = 'b'; break;
    case '\f': *o++ = 'f'; break;
    default:
      *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = hex[c >> 4]; *o++ = hex[c & 15];
    }
  }
  memcpy(o, s + run, n - run);
  o += n - run;
  if (esc) *o++ = '\\';
  *o++ = '"';
  b->n = (size_t)(o - b->p);
  b->p[b->n] = '\0';
}

static void jstring(lua_State *L, Buf *b, const char *s, size_t n) { jstring_e(L, b, s, n, 0); }

typedef struct {
  const char *s; /* NULL for an integer key: see num */
  size_t n;
  lua_Integer i; /* stack slot of the value, from base */
  char num[24];  /* integer keys of a non-array table, as text */
} Key;

#define KEYTEXT(k) ((k)->s ? (k)->s : (k)->num)

static int key_cmp(const void *a, const void *b) {
  const Key *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(KEYTEXT(x), KEYTEXT(y), n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The sorted order of the last object's keys: column values of one batch
 * share their keys, and Lua visits equal key sets of equally built tables in
 * the same order, so the sort is done once per shape (the key texts are
 * compared, so a hit is always right). */
#define KC_MAX 32
typedef struct {
  int n;
  size_t off[KC_MAX + 1]; /* key j's text is text[off[j] .. off[j+1]) */
  unsigned char perm[KC_MAX];
  char text[KC_MAX * 48];
} KeyCache;

static int kc_hit(const KeyCache *kc, const Key *keys, size_t nk) {
  if (!kc || kc->n != (int)nk || nk == 0) return 0;
  for (size_t j = 0; j < nk; j++) {
    size_t len = kc->off[j + 1] - kc->off[j];
    if (len != keys[j].n || memcmp(kc->text + kc->off[j], KEYTEXT(&keys[j]), len)) return 0;
  }
  return 1;
}

static void kc_store(KeyCache *kc, const Key *unsorted, const Key *sorted, size_t nk) {
  size_t total = 0;
  for (size_t j = 0; j < nk; j++) total += unsorted[j].n;
  if (nk > KC_MAX || total > sizeof kc->text) { kc->n = 0; return; }
  size_t o = 0;
  for (size_t j = 0; j < nk; j++) {
    kc->off[j] = o;
    memcpy(kc->text + o, KEYTEXT(&unsorted[j]), unsorted[j].n);
    o += unsorted[j].n;
  }
  kc->off[nk] = o;
  for (size_t j = 0; j < nk; j++) kc->perm[j] = (unsigned char)sorted[j].i;
  kc->n = (int)nk;
}

static void jvalue_e(lua_State *L, Buf *b, int idx, int depth, int esc, KeyCache *kc);

static void jtable(lua_State *L, Buf *b, int idx, int depth, int esc, KeyCache *kc) {
  if (depth > 64) luaL_error(L, "encode: nesting deeper than 64 (a cycle?)");
  luaL_checkstack(L, 6, "encode");
  lua_Integer count = 0, maxi = 0;
  int array = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    if (array && lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
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
      jvalue_e(L, b, lua_gettop(L), depth + 1, esc, NULL);
      lua_pop(L, 1);
    }
    jadd(L, b, "]", 1);
    return;
  }
  /* values stay on the stack (base + i) while the keys are sorted */
  Key small[KC_MAX], sorted_small[KC_MAX];
  Key *keys = small, *sorted = sorted_small;
  int extra = 0;
  if (count > KC_MAX) {
    keys = lua_newuserdatauv(L, sizeof(Key) * (size_t)count * 2, 0);
    sorted = keys + count;
    extra = 1;
  }
  luaL_checkstack(L, (int)(count < 1000000 ? count : 1000000) + 4, "encode: table too large");
  int base = lua_gettop(L) + 1;
  size_t nk = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    Key *k = &keys[nk];
    k->i = (lua_Integer)nk++;
    if (lua_type(L, -2) == LUA_TSTRING) {
      k->s = lua_tolstring(L, -2, &k->n); /* anchored by the table */
    } else if (lua_isinteger(L, -2)) {
      k->n = (size_t)snprintf(k->num, sizeof k->num, "%lld", (long long)lua_tointeger(L, -2));
      k->s = NULL;
    } else {
      luaL_error(L, "encode: object keys must be strings or integers, not %s", luaL_typename(L, -2));
    }
    lua_insert(L, -2); /* value below the key */
  }
  if (kc_hit(kc, keys, nk)) {
    for (size_t j = 0; j < nk; j++) sorted[j] = keys[kc->perm[j]];
  } else {
    memcpy(sorted, keys, sizeof *keys * nk);
    if (nk <= KC_MAX) { /* insertion sort: small, and no allocation */
      for (size_t j = 1; j < nk; j++) {
        Key t = sorted[j];
        size_t m = j;
        while (m > 0 && key_cmp(&sorted[m - 1], &t) > 0) { sorted[m] = sorted[m - 1]; m--; }
        sorted[m] = t;
      }
    } else {
      qsort(sorted, nk, sizeof *sorted, key_cmp);
    }
    if (kc) kc_store(kc, keys, sorted, nk);
  }
  jadd(L, b, "{", 1);
  for (size_t i = 0; i < nk; i++) {
    if (i) jadd(L, b, ",", 1);
    jstring_e(L, b, KEYTEXT(&sorted[i]), sorted[i].n, esc);
    jadd(L, b, ":", 1);
    jvalue_e(L, b, base + (int)sorted[i].i, depth + 1, esc, NULL);
  }
  jadd(L, b, "}", 1);
  lua_settop(L, base - 1 - extra); /* values (and the key arrays) */
}

static size_t put_dec(char *out, size_t k);

static void jvalue_e(lua_State *L, Buf *b, int idx, int depth, int esc, KeyCache *kc) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: jadd(L, b, "null", 4); break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) jadd(L, b, "true", 4); else jadd(L, b, "false", 5);
    break;
  case LUA_TNUMBER: {
    char num[40];
    int n;
    if (lua_isinteger(L, idx)) {
      lua_Integer v = lua_tointeger(L, idx);
      if (v >= 0) n = (int)put_dec(num, (size_t)v);
      else n = snprintf(num, sizeof num, "%lld", (long long)v);
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
    jstring_e(L, b, s, n, esc);
    break;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) { jadd(L, b, "null", 4); break; }
    /* fall through */
  case LUA_TTABLE:
    if (lua_type(L, idx) == LUA_TTABLE) { jtable(L, b, idx, depth, esc, kc); break; }
    /* fall through */
  default:
    luaL_error(L, "encode: cannot encode a %s as JSON", luaL_typename(L, idx));
  }
}

static void jvalue(lua_State *L, Buf *b, int idx, int depth) { jvalue_e(L, b, idx, depth, 0, NULL); }

/* A reused buffer (freed with the module's state) so encode allocates only
 * its result. */
static Buf enc_buf;

static int n_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  enc_buf.n = 0;
  jvalue(L, &enc_buf, 1, 0);
  lua_pushlstring(L, enc_buf.p ? enc_buf.p : "", enc_buf.n);
  if (enc_buf.cap > ((size_t)1 << 20)) { free(enc_buf.p); memset(&enc_buf, 0, sizeof enc_buf); }
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

/* ---- request builder ------------------------------------------------------
 * The hot path of mon:batch, in C: prepare() checks one op against the
 * schema and snapshots its arguments as JSON (so a later change to the
 * caller's table cannot change a retry's bytes); build() writes a whole
 * aliased document and its variables in one pass. The output is byte for
 * byte what encode({query = doc, variables = vars}) gives for the document
 * graphql.lua used to assemble (tests compare both). */

#define SPEC "monhost.graphql_native.spec"
#define MAX_ARGS 64

typedef struct {
  char *name, *type;
  size_t n, tn;
  int required, json, rank; /* rank: position among every arg name of the spec */
} Arg;

typedef struct {
  char *name;
  size_t n;
  int nargs, cv; /* cv: index of column_values, or -1 */
  Arg *args;     /* sorted by name */
} Field;

typedef struct {
  int nfields, nranks, needsort;
  Field *fields;
  const Arg **ranked; /* nranks: one Arg per distinct name, in variable order */
  Buf out, enc;        /* reused buffers: the body, prepare's enc */
  KeyCache kc;         /* sorted column_values keys of the last op */
  lua_Integer lane_board; /* the last integer board and (user value 2) its lane */
  int lane_cached;
  void *ops;          /* reused per-build arrays (Op, decimal order of k) */
  size_t *lex, nops;
} Spec;

static int spec_gc(lua_State *L) {
  Spec *s = luaL_checkudata(L, 1, SPEC);
  for (int f = 0; f < s->nfields; f++) {
    for (int a = 0; a < s->fields[f].nargs; a++) {
      free(s->fields[f].args[a].name);
      free(s->fields[f].args[a].type);
    }
    free(s->fields[f].args);
    free(s->fields[f].name);
  }
  free(s->fields);
  free(s->ranked);
  free(s->out.p);
  free(s->enc.p);
  free(s->ops);
  free(s->lex);
  memset(s, 0, sizeof *s);
  return 0;
}

static int arg_cmp(const void *a, const void *b) {
  return strcmp(((const Arg *)a)->name, ((const Arg *)b)->name);
}

/* Variables are named "<arg>_<k>" and sorted as whole strings; ordering arg
 * names by "<arg>_" gives the same order unless a name is another name plus
 * "_<digit>" (then build falls back to sorting every variable name). */
static int rank_cmp(const void *a, const void *b) {
  const Arg *x = *(const Arg *const *)a, *y = *(const Arg *const *)b;
  size_t n = (x->n < y->n ? x->n : y->n);
  int c = memcmp(x->name, y->name, n);
  if (c) return c;
  unsigned char cx = x->n > n ? (unsigned char)x->name[n] : '_';
  unsigned char cy = y->n > n ? (unsigned char)y->name[n] : '_';
  return (cx > cy) - (cx < cy);
}

static int valid_name(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i && c >= '0' && c <= '9'))) return 0;
  }
  return 1;
}

static int valid_type(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c == '_' || c == '[' || c == ']' || c == '!' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

static char *dupn(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) { memcpy(p, s, n); p[n] = '\0'; }
  return p;
}

/* native.spec(types) -> spec; types = {field = {arg = "Type"}}. The spec's
 * user value maps field name -> index (for prepare). */
static int n_spec(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  Spec *s = lua_newuserdatauv(L, sizeof *s, 2); /* field index map, last lane name */
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, SPEC);
  int nf = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) { nf++; lua_pop(L, 1); }
  if (nf > 255) return luaL_argerror(L, 1, "more than 255 fields");
  s->fields = calloc((size_t)(nf ? nf : 1), sizeof *s->fields);
  if (!s->fields) return luaL_error(L, "out of memory");
  lua_createtable(L, 0, nf); /* name -> index */
  int total = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    size_t fnl;
    const char *fname = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &fnl) : NULL;
    if (!fname || !valid_name(fname, fnl) || !lua_istable(L, -1)) return luaL_argerror(L, 1, "expected {field = {arg = \"Type\"}}");
    Field *f = &s->fields[s->nfields++];
    f->name = dupn(fname, fnl);
    f->n = fnl;
    f->cv = -1;
    int na = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) { na++; lua_pop(L, 1); }
    if (na > MAX_ARGS) return luaL_argerror(L, 1, "too many arguments in one field");
    f->args = calloc((size_t)(na ? na : 1), sizeof *f->args);
    if (!f->name || !f->args) return luaL_error(L, "out of memory");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      size_t an, tn;
      const char *aname = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &an) : NULL;
      const char *ty = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &tn) : NULL;
      if (!aname || !ty || !valid_name(aname, an) || !valid_type(ty, tn)) return luaL_argerror(L, 1, "bad argument name or type");
      Arg *a = &f->args[f->nargs++];
      a->name = dupn(aname, an);
      a->type = dupn(ty, tn);
      if (!a->name || !a->type) return luaL_error(L, "out of memory");
      a->n = an;
      a->tn = tn;
      a->required = ty[tn - 1] == '!';
      a->json = !strcmp(ty, "JSON") || !strcmp(ty, "JSON!");
      lua_pop(L, 1);
    }
    qsort(f->args, (size_t)f->nargs, sizeof *f->args, arg_cmp);
    for (int a = 0; a < f->nargs; a++)
      if (!strcmp(f->args[a].name, "column_values")) f->cv = a;
    total += f->nargs;
    lua_pushvalue(L, -2);
    lua_pushinteger(L, s->nfields - 1);
    lua_rawset(L, -5);
    lua_pop(L, 1);
  }
  /* ranks: distinct arg names in variable order */
  const Arg **all = malloc(sizeof *all * (size_t)(total ? total : 1));
  if (!all) return luaL_error(L, "out of memory");
  int m = 0;
  for (int f = 0; f < s->nfields; f++)
    for (int a = 0; a < s->fields[f].nargs; a++) all[m++] = &s->fields[f].args[a];
  qsort(all, (size_t)m, sizeof *all, rank_cmp);
  s->ranked = all;
  for (int i = 0; i < m; i++) {
    if (s->nranks && !strcmp(s->ranked[s->nranks - 1]->name, all[i]->name)) continue;
    s->ranked[s->nranks++] = all[i];
  }
  for (int f = 0; f < s->nfields; f++)
    for (int a = 0; a < s->fields[f].nargs; a++) {
      Arg *x = &s->fields[f].args[a];
      for (int r = 0; r < s->nranks; r++)
        if (!strcmp(s->ranked[r]->name, x->name)) x->rank = r;
    }
  for (int i = 0; i < s->nranks; i++)
    for (int j = 0; j < s->nranks; j++) {
      const Arg *a = s->ranked[i], *b = s->ranked[j];
      if (b->n > a->n + 1 && !memcmp(a->name, b->name, a->n) && b->name[a->n] == '_' &&
          b->name[a->n + 1] >= '0' && b->name[a->n + 1] <= '9')
        s->needsort = 1;
    }
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static Spec *check_spec(lua_State *L, int i) {
  Spec *s = luaL_checkudata(L, i, SPEC);
  if (!s->fields) luaL_argerror(L, i, "spec is closed");
  return s;
}

/* enc: [u8 field][u8 has_select][u32 n][select, JSON-escaped][u8 nargs]
 *      then per argument [u8 index in field][u32 n][JSON value] */
static void put_u32(lua_State *L, Buf *b, size_t v) {
  uint32_t x = (uint32_t)v;
  if (v > 0xffffffffu) luaL_error(L, "value too large");
  jadd(L, b, (const char *)&x, 4);
}

static uint32_t get_u32(const char *p) {
  uint32_t x;
  memcpy(&x, p, 4);
  return x;
}

/* Escape a string's contents for a JSON string (without the quotes). */
static void jescape(lua_State *L, Buf *b, const char *s, size_t n) {
  size_t at = b->n;
  jstring(L, b, s, n);
  /* drop the quotes jstring added */
  memmove(b->p + at, b->p + at + 1, b->n - at - 2);
  b->n -= 2;
  b->p[b->n] = '\0';
}

static int sel_ok(const char *s, size_t n) {
  int depth = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '{') depth++;
    else if (c == '}') depth--;
    else if (!(c == '_' || c == ':' || c == '(' || c == ')' || c == ',' || (c >= 'a' && c <= 'z') ||
               (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || (c >= '\t' && c <= '\r')))
      return 0;
  }
  return depth == 0;
}

/* native.prepare(spec, op, i, board_serial) -> {i=, op=, field=, lane=,
 * key=, ncols=, attempts=0, enc=}. ncols is nil when column_values is a JSON
 * string (graphql.lua counts those). Raises on a bad op. */
static int n_prepare(lua_State *L) {
  Spec *s = check_spec(L, 1);
  luaL_checkany(L, 2);
  lua_Integer idx = luaL_checkinteger(L, 3);
  int serial = lua_toboolean(L, 4);
  lua_settop(L, 4);
  if (!lua_istable(L, 2) || lua_getfield(L, 2, "field") != LUA_TSTRING)
    return luaL_error(L, "op %I: expected {field=, args=, select=}", idx);
  /* 5: field name */
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 5);
  if (lua_rawget(L, -2) != LUA_TNUMBER)
    return luaL_error(L, "op %I: unknown mutation %s (add it with client{schema=})", idx, lua_tostring(L, 5));
  Field *f = &s->fields[lua_tointeger(L, -1)];
  int fi = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  int targs = lua_getfield(L, 2, "args"); /* 6 */
  if (targs == LUA_TNIL) { lua_pop(L, 1); lua_newtable(L); }
  else if (targs != LUA_TTABLE) return luaL_error(L, "op %I: args must be a table", idx);
  lua_pushnil(L); /* 7: keeps the stack layout */
  Buf *b = &s->enc;
  b->n = 0;
  unsigned char head[2] = {(unsigned char)fi, 1};
  int ts = lua_getfield(L, 2, "select"); /* 8 */
  size_t sl = 2;
  const char *sel = "id";
  if (ts == LUA_TBOOLEAN && !lua_toboolean(L, -1)) head[1] = 0;
  else if (ts == LUA_TSTRING) sel = lua_tolstring(L, -1, &sl);
  if (ts != LUA_TNIL && !(ts == LUA_TBOOLEAN && !lua_toboolean(L, -1)) && (ts != LUA_TSTRING || !sel_ok(sel, sl)))
    return luaL_error(L, "op.select must be a plain selection such as \"id name\" (no values: pass them in args)");
  jadd(L, b, (const char *)head, 2);
  if (head[1]) {
    size_t at = b->n;
    put_u32(L, b, 0);
    jescape(L, b, sel, sl);
    uint32_t n = (uint32_t)(b->n - at - 4);
    memcpy(b->p + at, &n, 4);
  }
  lua_pop(L, 1);
  size_t nat = b->n;
  jadd(L, b, "", 1); /* nargs, filled in below */
  unsigned char nargs = 0;
  lua_Integer ncols = 0;
  int ncols_known = 1;
  for (int a = 0; a < f->nargs; a++) {
    const Arg *ar = &f->args[a];
    int t = lua_getfield(L, 6, ar->name);
    if (t == LUA_TNIL) {
      lua_pop(L, 1);
      if (ar->required) return luaL_error(L, "op %I: %s needs %s", idx, f->name, ar->name);
      continue;
    }
    if (a == f->cv) {
      if (t == LUA_TTABLE) {
        ncols = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) { ncols++; lua_pop(L, 1); }
      } else if (t == LUA_TSTRING) {
        ncols_known = 0;
      }
    }
    unsigned char ai = (unsigned char)a;
    jadd(L, b, (const char *)&ai, 1);
    size_t at = b->n;
    put_u32(L, b, 0);
    if (ar->json && t == LUA_TTABLE) {
      /* a JSON argument travels as a string holding sorted-key JSON */
      jadd(L, b, "\"", 1);
      jtable(L, b, lua_gettop(L), 0, 1, &s->kc);
      jadd(L, b, "\"", 1);
    } else {
      jvalue(L, b, lua_gettop(L), 0);
    }
    uint32_t n = (uint32_t)(b->n - at - 4);
    memcpy(b->p + at, &n, 4);
    nargs++;
    lua_pop(L, 1);
  }
  b->p[nat] = (char)nargs;
  /* unknown arguments */
  lua_pushnil(L);
  while (lua_next(L, 6)) {
    lua_pop(L, 1);
    int known = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (int a = 0; a < f->nargs && !known; a++) known = !strcmp(f->args[a].name, k);
    }
    if (!known) return luaL_error(L, "op %I: %s has no argument %s", idx, f->name, luaL_tolstring(L, -1, NULL));
  }
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, idx);
  lua_setfield(L, -2, "i");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "op");
  lua_pushvalue(L, 5);
  lua_setfield(L, -2, "field");
  /* lane: board_serial and no board -> "?", else tostring(board or "*") */
  int tb = lua_getfield(L, 2, "board");
  if (tb == LUA_TNIL || (tb == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
    lua_pop(L, 1);
    lua_getfield(L, 6, "board_id");
  }
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (serial) lua_pushliteral(L, "?");
    else lua_pushliteral(L, "*");
  } else if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, "*");
  } else if (lua_isinteger(L, -1) && s->lane_cached && lua_tointeger(L, -1) == s->lane_board) {
    lua_pop(L, 1);
    lua_getiuservalue(L, 1, 2); /* the same board as the last op: its lane name */
  } else {
    luaL_tolstring(L, -1, NULL);
    if (lua_isinteger(L, -2)) {
      s->lane_board = lua_tointeger(L, -2);
      s->lane_cached = 1;
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, 2);
    }
    lua_remove(L, -2);
  }
  lua_setfield(L, -2, "lane");
  lua_getfield(L, 2, "key");
  lua_setfield(L, -2, "key");
  if (ncols_known) {
    lua_pushinteger(L, ncols);
    lua_setfield(L, -2, "ncols");
  }
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "attempts");
  lua_pushlstring(L, b->p, b->n);
  lua_setfield(L, -2, "enc");
  return 1;
}

typedef struct {
  const Field *f;
  const char *sel; /* NULL: no selection */
  size_t seln;
  int nargs;
  const char *args; /* nargs records [u8 index][u32 n][value], checked */
} Op;

/* the next argument record of an op: index, value, length */
static const char *next_arg(const char *p, int *ai, const char **v, uint32_t *vn) {
  *ai = (unsigned char)p[0];
  *vn = get_u32(p + 1);
  *v = p + 5;
  return p + 5 + *vn;
}

static size_t put_dec(char *out, size_t k) {
  char tmp[24];
  size_t n = 0;
  do { tmp[n++] = (char)('0' + k % 10); k /= 10; } while (k);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

typedef struct {
  const char *name;
  size_t n, k;
  const char *v;
  uint32_t vn;
} Var;

static int var_cmp(const void *a, const void *b) {
  const Var *x = a, *y = b;
  char xs[160], ys[160];
  size_t xn = x->n, yn = y->n;
  memcpy(xs, x->name, xn); xs[xn++] = '_'; xn += put_dec(xs + xn, x->k);
  memcpy(ys, y->name, yn); ys[yn++] = '_'; yn += put_dec(ys + yn, y->k);
  size_t n = xn < yn ? xn : yn;
  int c = memcmp(xs, ys, n);
  return c ? c : (xn > yn) - (xn < yn);
}

static void add_var(lua_State *L, Buf *b, int *first, const char *name, size_t n, size_t k, const char *v, uint32_t vn) {
  char num[24];
  size_t dn = put_dec(num, k);
  if (!buf_grow(b, n + dn + vn + 8)) luaL_error(L, "out of memory");
  char *p = b->p + b->n;
  if (!*first) *p++ = ',';
  *first = 0;
  *p++ = '"';
  memcpy(p, name, n); p += n;
  *p++ = '_';
  memcpy(p, num, dn); p += dn;
  *p++ = '"';
  *p++ = ':';
  memcpy(p, v, vn); p += vn;
  b->n = (size_t)(p - b->p);
  b->p[b->n] = '\0';
}

/* native.build(spec, ops [, n]) -> body: ops[1..n] are prepared ops. */
static int n_build(lua_State *L) {
  Spec *s = check_spec(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = luaL_opt(L, luaL_checkinteger, 3, (lua_Integer)lua_rawlen(L, 2));
  if (n < 0 || n > 1000000) return luaL_argerror(L, 3, "bad op count");
  lua_settop(L, 3);
  if ((size_t)n > s->nops) { /* scratch kept by the spec: no allocation per request */
    Op *o = realloc(s->ops, sizeof(Op) * (size_t)n);
    size_t *lx = realloc(s->lex, sizeof(size_t) * (size_t)n);
    if (o) s->ops = o;
    if (lx) s->lex = lx;
    if (!o || !lx) return luaL_error(L, "out of memory");
    s->nops = (size_t)n;
  }
  Op *ops = s->ops; /* the enc strings are anchored by the ops table */
  size_t nvars = 0;
  for (lua_Integer k = 1; k <= n; k++) {
    Op *o = &ops[k - 1];
    lua_rawgeti(L, 2, k);
    size_t el;
    const char *e = lua_istable(L, -1) && lua_getfield(L, -1, "enc") == LUA_TSTRING ? lua_tolstring(L, -1, &el) : NULL;
    if (!e || el < 3) return luaL_error(L, "build: op %I is not a prepared op", k);
    lua_pop(L, 2); /* the string stays alive: ops[k].enc holds it */
    const char *p = e, *end = e + el;
    if ((unsigned char)p[0] >= (unsigned)s->nfields) return luaL_error(L, "build: op %I is from another spec", k);
    o->f = &s->fields[(unsigned char)p[0]];
    int has = p[1];
    p += 2;
    o->sel = NULL;
    if (has) {
      if (end - p < 4) goto bad;
      o->seln = get_u32(p);
      p += 4;
      if ((size_t)(end - p) < o->seln) goto bad;
      o->sel = p;
      p += o->seln;
    }
    if (p >= end) goto bad;
    o->nargs = (unsigned char)*p++;
    o->args = p;
    for (int a = 0; a < o->nargs; a++) {
      if (end - p < 5 || (unsigned char)p[0] >= o->f->nargs) goto bad;
      uint32_t vn = get_u32(p + 1);
      p += 5;
      if ((size_t)(end - p) < vn) goto bad;
      p += vn;
    }
    nvars += (size_t)o->nargs;
    continue;
  bad:
    return luaL_error(L, "build: op %I has a damaged enc", k);
  }
  Buf *b = &s->out;
  b->n = 0;
  char num[24];
#define LIT(str) jadd(L, b, str, sizeof str - 1)
  LIT("{\"query\":\"mutation(");
  int first = 1;
  for (lua_Integer k = 1; k <= n; k++) {
    const Op *o = &ops[k - 1];
    size_t dn = put_dec(num, (size_t)k);
    const char *q = o->args;
    for (int a = 0; a < o->nargs; a++) {
      int ai; const char *v; uint32_t vn;
      q = next_arg(q, &ai, &v, &vn);
      const Arg *ar = &o->f->args[ai];
      if (!buf_grow(b, ar->n + ar->tn + dn + 5)) luaL_error(L, "out of memory");
      char *p = b->p + b->n;
      if (!first) *p++ = ',';
      first = 0;
      *p++ = '$';
      memcpy(p, ar->name, ar->n); p += ar->n;
      *p++ = '_';
      memcpy(p, num, dn); p += dn;
      *p++ = ':';
      memcpy(p, ar->type, ar->tn); p += ar->tn;
      b->n = (size_t)(p - b->p);
    }
  }
  LIT("){\\n");
  for (lua_Integer k = 1; k <= n; k++) {
    const Op *o = &ops[k - 1];
    size_t dn = put_dec(num, (size_t)k);
    if (!buf_grow(b, o->f->n + dn + 8 + (o->sel ? o->seln + 2 : 0))) luaL_error(L, "out of memory");
    char *p = b->p + b->n;
    if (k > 1) { *p++ = '\\'; *p++ = 'n'; }
    *p++ = 'o'; *p++ = 'p';
    memcpy(p, num, dn); p += dn;
    *p++ = ':';
    memcpy(p, o->f->name, o->f->n); p += o->f->n;
    *p++ = '(';
    b->n = (size_t)(p - b->p);
    const char *q = o->args;
    for (int a = 0; a < o->nargs; a++) {
      int ai; const char *v; uint32_t vn;
      q = next_arg(q, &ai, &v, &vn);
      const Arg *ar = &o->f->args[ai];
      if (!buf_grow(b, 2 * ar->n + dn + 5)) luaL_error(L, "out of memory");
      p = b->p + b->n;
      if (a) *p++ = ',';
      memcpy(p, ar->name, ar->n); p += ar->n;
      *p++ = ':'; *p++ = '$';
      memcpy(p, ar->name, ar->n); p += ar->n;
      *p++ = '_';
      memcpy(p, num, dn); p += dn;
      b->n = (size_t)(p - b->p);
    }
    if (!buf_grow(b, (o->sel ? o->seln + 2 : 0) + 1)) luaL_error(L, "out of memory");
    p = b->p + b->n;
    *p++ = ')';
    if (o->sel) {
      *p++ = '{';
      memcpy(p, o->sel, o->seln); p += o->seln;
      *p++ = '}';
    }
    b->n = (size_t)(p - b->p);
  }
  LIT("\\nmh_complexity:complexity{query before after reset_in_x_seconds}}\",\"variables\":{");
  first = 1;
  if (s->needsort) {
    Var *vs = lua_newuserdatauv(L, sizeof(Var) * (nvars ? nvars : 1), 0);
    size_t m = 0;
    for (lua_Integer k = 1; k <= n; k++) {
      const Op *o = &ops[k - 1];
      const char *q = o->args;
      for (int a = 0; a < o->nargs; a++) {
        int ai; const char *v; uint32_t vn;
        q = next_arg(q, &ai, &v, &vn);
        const Arg *ar = &o->f->args[ai];
        vs[m++] = (Var){ar->name, ar->n, (size_t)k, v, vn};
      }
    }
    qsort(vs, m, sizeof *vs, var_cmp);
    for (size_t i = 0; i < m; i++) add_var(L, b, &first, vs[i].name, vs[i].n, vs[i].k, vs[i].v, vs[i].vn);
    lua_pop(L, 1);
  } else if (n > 0) {
    /* for each arg name in variable order, the ops in the decimal order of k */
    size_t *lex = s->lex;
    size_t k = 1;
    for (lua_Integer i = 0; i < n; i++) {
      lex[i] = k;
      if (k * 10 <= (size_t)n) k *= 10;
      else {
        while (k % 10 == 9 || k + 1 > (size_t)n) k /= 10;
        k++;
      }
    }
    unsigned char *present = lua_newuserdatauv(L, (size_t)s->nranks + 1, 0);
    memset(present, 0, (size_t)s->nranks + 1);
    for (lua_Integer i = 0; i < n; i++) {
      const char *q = ops[i].args;
      for (int a = 0; a < ops[i].nargs; a++) {
        int ai; const char *v; uint32_t vn;
        q = next_arg(q, &ai, &v, &vn);
        present[ops[i].f->args[ai].rank] = 1;
      }
    }
    for (int r = 0; r < s->nranks; r++) {
      if (!present[r]) continue;
      for (lua_Integer i = 0; i < n; i++) {
        const Op *o = &ops[lex[i] - 1];
        const char *q = o->args;
        for (int a = 0; a < o->nargs; a++) {
          int ai; const char *v; uint32_t vn;
          q = next_arg(q, &ai, &v, &vn);
          const Arg *ar = &o->f->args[ai];
          if (ar->rank == r) { add_var(L, b, &first, ar->name, ar->n, lex[i], v, vn); break; }
        }
      }
    }
    lua_pop(L, 1);
  }
  LIT("}}");
#undef LIT
  lua_pushlstring(L, b->p, b->n);
  if (b->cap > ((size_t)8 << 20)) { free(b->p); memset(b, 0, sizeof *b); } /* do not keep a huge buffer */
  return 1;
}

static int n_spec_tostring(lua_State *L) {
  Spec *s = luaL_checkudata(L, 1, SPEC);
  lua_pushfstring(L, "graphql spec (%d fields)", s->nfields);
  return 1;
}

static const luaL_Reg engine_methods[] = {
  {"submit", e_submit}, {"wait", e_wait}, {"pending", e_pending}, {"cancel", e_cancel},
  {"close", e_close}, {"__close", e_close}, {"__tostring", e_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
  {"engine", e_new}, {"encode", n_encode}, {"random_hex", n_random_hex},
  {"curl_version", n_version}, {"spec", n_spec}, {"prepare", n_prepare}, {"build", n_build},
  {NULL, NULL}};

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
  if (luaL_newmetatable(L, SPEC)) {
    lua_pushcfunction(L, spec_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, n_spec_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
