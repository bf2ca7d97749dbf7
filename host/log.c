/* log.c: monhost.log, the one place output for people and machines is
 * written. Levels; human lines on a terminal, JSON lines otherwise (or with
 * --log-json); a progress bar with rate and ETA on a terminal, silent
 * otherwise; and secret redaction: every registered secret (the monday
 * token) is cut out of everything this module writes and out of the
 * top-level error report in main.c. */
#include "monhost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { L_DEBUG, L_INFO, L_WARN, L_ERROR, L_OFF };
static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

static struct {
  int level;
  int json;     /* 1 = JSON lines */
  int tty;      /* stderr is a terminal */
  int progress; /* a progress line is on screen and must be cleared first */
} cfg = {L_INFO, -1, -1, 0};

#define MAX_SECRETS 8
static char *secrets[MAX_SECRETS];
static int nsecrets;

void mh_add_secret(const char *s) {
  if (!s || strlen(s) < 4) return; /* too short to redact without mangling text */
  for (int i = 0; i < nsecrets; i++)
    if (!strcmp(secrets[i], s)) return;
  if (nsecrets == MAX_SECRETS) { free(secrets[0]); memmove(secrets, secrets + 1, sizeof secrets[0] * (MAX_SECRETS - 1)); nsecrets--; }
  secrets[nsecrets++] = strdup(s);
}

const char *mh_redact(const char *s, char *buf, size_t bufsz) {
  int hit = 0;
  for (int i = 0; i < nsecrets && !hit; i++) hit = strstr(s, secrets[i]) != NULL;
  if (!hit || bufsz == 0) return s;
  size_t o = 0;
  while (*s && o + 1 < bufsz) {
    int matched = 0;
    for (int i = 0; i < nsecrets; i++) {
      size_t n = strlen(secrets[i]);
      if (!strncmp(s, secrets[i], n)) {
        const char *r = "[REDACTED]";
        for (; *r && o + 1 < bufsz; r++) buf[o++] = *r;
        s += n;
        matched = 1;
        break;
      }
    }
    if (!matched) buf[o++] = *s++;
  }
  buf[o] = '\0';
  return buf;
}

/* Redact a Lua string into a new Lua string on the stack (any length). */
static const char *redact_push(lua_State *L, const char *s) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while (*s) {
    int matched = 0;
    for (int i = 0; i < nsecrets; i++) {
      size_t n = strlen(secrets[i]);
      if (!strncmp(s, secrets[i], n)) {
        luaL_addstring(&b, "[REDACTED]");
        s += n;
        matched = 1;
        break;
      }
    }
    if (!matched) luaL_addchar(&b, *s++);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

static void init_cfg(void) {
  if (cfg.tty < 0) cfg.tty = isatty(2);
  if (cfg.json < 0) cfg.json = !cfg.tty;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void clear_progress(void) {
  if (cfg.progress) {
    fputs("\r\033[K", stderr);
    cfg.progress = 0;
  }
}

static void json_string(luaL_Buffer *b, const char *s, size_t n) {
  luaL_addchar(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': luaL_addstring(b, "\\\""); break;
    case '\\': luaL_addstring(b, "\\\\"); break;
    case '\n': luaL_addstring(b, "\\n"); break;
    case '\r': luaL_addstring(b, "\\r"); break;
    case '\t': luaL_addstring(b, "\\t"); break;
    default:
      if (c < 0x20) {
        char esc[8];
        snprintf(esc, sizeof esc, "\\u%04x", c);
        luaL_addstring(b, esc);
      } else {
        luaL_addchar(b, (char)c);
      }
    }
  }
  luaL_addchar(b, '"');
}

/* A field value as JSON (numbers, booleans, null, strings; anything else
 * through tostring). */
static void json_value(lua_State *L, luaL_Buffer *b, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      char n[32];
      snprintf(n, sizeof n, LUA_INTEGER_FMT, lua_tointeger(L, idx));
      luaL_addstring(b, n);
    } else {
      double d = lua_tonumber(L, idx);
      char n[40];
      if (isfinite(d)) snprintf(n, sizeof n, "%.17g", d); else snprintf(n, sizeof n, "null");
      luaL_addstring(b, n);
    }
    break;
  case LUA_TBOOLEAN: luaL_addstring(b, lua_toboolean(L, idx) ? "true" : "false"); break;
  case LUA_TNIL: luaL_addstring(b, "null"); break;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) { luaL_addstring(b, "null"); break; }
    /* fallthrough */
  default: {
    size_t n;
    const char *s = luaL_tolstring(L, idx, &n); /* pushes; buffer is below */
    lua_pop(L, 1);
    json_string(b, s, n); /* s stays valid: strings interned in the state */
  }
  }
}

/* log.<level>(message [, fields]) */
static int emit(lua_State *L, int level) {
  init_cfg();
  if (level < cfg.level) return 0;
  const char *msg = luaL_tolstring(L, 1, NULL);
  int msgidx = lua_gettop(L);
  int hasf = lua_istable(L, 2);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char ts[40];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  if (cfg.json) {
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    char full[64];
    snprintf(full, sizeof full, "%s.%03ldZ", ts, now.tv_nsec / 1000000);
    luaL_addstring(&b, "{\"ts\":\"");
    luaL_addstring(&b, full);
    luaL_addstring(&b, "\",\"level\":\"");
    luaL_addstring(&b, level_names[level]);
    luaL_addstring(&b, "\",\"msg\":");
    json_string(&b, msg, strlen(msg));
    if (hasf) {
      lua_pushnil(L);
      while (lua_next(L, 2)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
          size_t kl;
          const char *k = lua_tolstring(L, -2, &kl);
          luaL_addchar(&b, ',');
          json_string(&b, k, kl);
          luaL_addchar(&b, ':');
          json_value(L, &b, lua_gettop(L));
        }
        lua_pop(L, 1);
      }
    }
    luaL_addstring(&b, "}\n");
  } else {
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    luaL_addstring(&b, ts);
    luaL_addchar(&b, ' ');
    static const char *tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    luaL_addstring(&b, tags[level]);
    luaL_addchar(&b, ' ');
    luaL_addstring(&b, msg);
    if (hasf) {
      /* sorted keys so human lines read the same every time */
      lua_newtable(L);
      int keys = lua_gettop(L), nk = 0;
      lua_pushnil(L);
      while (lua_next(L, 2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) { lua_pushvalue(L, -1); lua_rawseti(L, keys, ++nk); }
      }
      lua_getglobal(L, "table");
      lua_getfield(L, -1, "sort");
      lua_pushvalue(L, keys);
      lua_call(L, 1, 0);
      lua_pop(L, 1);
      for (int i = 1; i <= nk; i++) {
        lua_rawgeti(L, keys, i);
        lua_gettable(L, 2);
        const char *v = luaL_tolstring(L, -1, NULL);
        lua_rawgeti(L, keys, i);
        const char *k = lua_tostring(L, -1);
        luaL_addchar(&b, ' ');
        luaL_addstring(&b, k);
        luaL_addchar(&b, '=');
        int quote = strpbrk(v, " \t\n\"") != NULL || !*v;
        if (quote) luaL_addchar(&b, '"');
        luaL_addstring(&b, v);
        if (quote) luaL_addchar(&b, '"');
        lua_pop(L, 3);
      }
      lua_pop(L, 1);
    }
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
  const char *line = lua_tostring(L, -1);
  if (nsecrets) line = redact_push(L, line);
  clear_progress();
  fputs(line, stderr);
  fflush(stderr);
  (void)msgidx;
  return 0;
}

static int l_debug(lua_State *L) { return emit(L, L_DEBUG); }
static int l_info(lua_State *L) { return emit(L, L_INFO); }
static int l_warn(lua_State *L) { return emit(L, L_WARN); }
static int l_error(lua_State *L) { return emit(L, L_ERROR); }

static int parse_level(lua_State *L, int idx) {
  const char *s = luaL_checkstring(L, idx);
  for (int i = 0; i <= L_OFF; i++)
    if (!strcmp(s, level_names[i])) return i;
  if (!strcmp(s, "warning")) return L_WARN;
  return luaL_argerror(L, idx, lua_pushfstring(L, "unknown log level '%s' (debug, info, warn, error, off)", s));
}

/* log.configure{level=, json=, tty=} ; returns the effective settings */
static int l_configure(lua_State *L) {
  init_cfg();
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "level") != LUA_TNIL) cfg.level = parse_level(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "json") != LUA_TNIL) cfg.json = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "tty") != LUA_TNIL) cfg.tty = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_newtable(L);
  lua_pushstring(L, level_names[cfg.level]); lua_setfield(L, -2, "level");
  lua_pushboolean(L, cfg.json); lua_setfield(L, -2, "json");
  lua_pushboolean(L, cfg.tty); lua_setfield(L, -2, "tty");
  return 1;
}

static int l_add_secret(lua_State *L) {
  mh_add_secret(luaL_checkstring(L, 1));
  return 0;
}

static int l_redact(lua_State *L) {
  redact_push(L, luaL_checkstring(L, 1));
  return 1;
}

/* ---- progress ---------------------------------------------------------- */

#define PROGRESS "monhost.progress"

typedef struct {
  double start, last_draw;
  lua_Integer done, total;
  char label[64];
  int closed;
} Progress;

static void fmt_dur(char *out, size_t n, double s) {
  if (!isfinite(s) || s < 0) { snprintf(out, n, "--"); return; }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
  else snprintf(out, n, "%lds", t);
}

static void draw(Progress *p, int force) {
  init_cfg();
  if (!cfg.tty || cfg.json || cfg.level > L_INFO) return; /* silent unless a person watches */
  double now = now_s();
  if (!force && now - p->last_draw < 0.1) return;
  p->last_draw = now;
  double el = now - p->start, rate = el > 0 ? p->done / el : 0;
  char eta[32], bar[31];
  int width = 30, fill = 0;
  if (p->total > 0) {
    fill = (int)(width * (double)p->done / (double)p->total);
    if (fill > width) fill = width;
    fmt_dur(eta, sizeof eta, rate > 0 ? (p->total - p->done) / rate : -1);
  } else {
    fmt_dur(eta, sizeof eta, -1);
  }
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
  bar[width] = '\0';
  if (p->total > 0)
    fprintf(stderr, "\r\033[K%s [%s] %3d%% %lld/%lld %.0f/s ETA %s", p->label, bar,
            (int)(100.0 * p->done / p->total), (long long)p->done, (long long)p->total, rate, eta);
  else
    fprintf(stderr, "\r\033[K%s %lld %.0f/s", p->label, (long long)p->done, rate);
  fflush(stderr);
  cfg.progress = 1;
}

static Progress *checkprogress(lua_State *L) {
  return (Progress *)luaL_checkudata(L, 1, PROGRESS);
}

/* log.progress(label [, total]) -> bar */
static int l_progress(lua_State *L) {
  const char *label = luaL_checkstring(L, 1);
  lua_Integer total = luaL_optinteger(L, 2, 0);
  Progress *p = (Progress *)lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label);
  p->total = total;
  p->start = now_s();
  luaL_setmetatable(L, PROGRESS);
  draw(p, 1);
  return 1;
}

static int p_add(lua_State *L) {
  Progress *p = checkprogress(L);
  p->done += luaL_optinteger(L, 2, 1);
  draw(p, 0);
  return 0;
}

static int p_set(lua_State *L) {
  Progress *p = checkprogress(L);
  p->done = luaL_checkinteger(L, 2);
  if (!lua_isnoneornil(L, 3)) p->total = luaL_checkinteger(L, 3);
  draw(p, 0);
  return 0;
}

static int p_close(lua_State *L) {
  Progress *p = checkprogress(L);
  if (!p->closed) {
    p->closed = 1;
    draw(p, 1);
    if (cfg.progress) { fputc('\n', stderr); cfg.progress = 0; }
  }
  return 0;
}

/* rate and elapsed for summaries */
static int p_stats(lua_State *L) {
  Progress *p = checkprogress(L);
  double el = now_s() - p->start;
  lua_pushinteger(L, p->done);
  lua_pushnumber(L, el);
  lua_pushnumber(L, el > 0 ? p->done / el : 0);
  return 3;
}

static const luaL_Reg progress_methods[] = {
  {"add", p_add}, {"set", p_set}, {"done", p_close}, {"stats", p_stats},
  {"__close", p_close}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
  {"debug", l_debug}, {"info", l_info}, {"warn", l_warn}, {"error", l_error},
  {"configure", l_configure}, {"progress", l_progress},
  {"add_secret", l_add_secret}, {"redact", l_redact}, {NULL, NULL}};

int luaopen_monhost_log(lua_State *L) {
  mh_newclass(L, PROGRESS, progress_methods);
  luaL_newlib(L, funcs);
  return 1;
}
