/* sys.c: monhost.sys, the few operating-system facts Lua's standard library
 * lacks and workflows and tests need: a monotonic clock, sleeping, terminal
 * detection, directory listing, mkdir -p, temporary directories, peak memory,
 * and starting/stopping child processes (the emulator, a crash test's victim)
 * without a shell. */
#include "monhost.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(lua_State *L, const char *what) {
  int e = errno;
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, strerror(e));
  lua_pushinteger(L, e);
  return 3;
}

/* sys.clock() -> monotonic seconds (float) */
static int s_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

/* sys.time() -> wall-clock seconds since the epoch with fractions */
static int s_time(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

/* sys.sleep(seconds); interruptible by Ctrl-C */
static int s_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  if (s <= 0) return 0;
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) mh_check_interrupt(L);
  mh_check_interrupt(L);
  return 0;
}

static int s_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_optinteger(L, 1, 1)));
  return 1;
}

static int s_getpid(lua_State *L) {
  lua_pushinteger(L, getpid());
  return 1;
}

/* sys.peak_rss() -> peak resident set size of this process in KiB.
 * VmHWM of /proc/self/status, the high-water mark of this program's own
 * memory: getrusage's ru_maxrss survives fork and exec, so a child started
 * by a big parent would report the parent's size. */
static int s_peak_rss(lua_State *L) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    fclose(f);
    if (kib >= 0) {
      lua_pushinteger(L, kib);
      return 1;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  lua_pushinteger(L, ru.ru_maxrss);
  return 1;
}

/* sys.cpu_time() -> user+system CPU seconds of this process */
static int s_cpu_time(lua_State *L) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  lua_pushnumber(L, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  return 1;
}

/* sys.listdir(path) -> sorted array of names (no . and ..) */
static int s_listdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (!d) return fail(L, path);
  lua_newtable(L);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, -2, ++n);
  }
  closedir(d);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  return 1;
}

/* sys.stat(path) -> {type="file"|"dir"|"other", size=, mode=, mtime=} or nil, msg */
static int s_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return fail(L, path);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st.st_size); lua_setfield(L, -2, "size");
  lua_pushinteger(L, st.st_mode & 07777); lua_setfield(L, -2, "mode");
  lua_pushinteger(L, st.st_mtime); lua_setfield(L, -2, "mtime");
  return 1;
}

/* sys.mkdir(path) like mkdir -p; true or nil, msg */
static int s_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char buf[PATH_MAX];
  if (strlen(path) >= sizeof buf) return luaL_argerror(L, 1, "path too long");
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) return fail(L, buf);
      *p = '/';
    }
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) return fail(L, buf);
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.tmpdir([prefix]) -> a new private directory under $TMPDIR or /tmp */
static int s_tmpdir(lua_State *L) {
  const char *prefix = luaL_optstring(L, 1, "monhost");
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s/%s-XXXXXX", base, prefix);
  if (!mkdtemp(buf)) return fail(L, buf);
  lua_pushstring(L, buf);
  return 1;
}

static int s_realpath(lua_State *L) {
  char buf[PATH_MAX];
  const char *path = luaL_checkstring(L, 1);
  if (!realpath(path, buf)) return fail(L, path);
  lua_pushstring(L, buf);
  return 1;
}

/* sys.spawn(argv [, {stdout=path, stderr=path, stdin=path, env={K=V}}]) -> pid
 * Starts a program directly (no shell, so no quoting of arguments). */
static int s_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int argc = (int)luaL_len(L, 1);
  if (argc < 1) return luaL_argerror(L, 1, "empty argv");
  const char **argv = (const char **)lua_newuserdatauv(L, sizeof(char *) * (argc + 1), 0);
  for (int i = 1; i <= argc; i++) {
    lua_rawgeti(L, 1, i);
    argv[i - 1] = luaL_checkstring(L, -1);
    lua_pop(L, 1); /* strings stay alive: they are also in the argv table */
  }
  argv[argc] = NULL;
  const char *out = NULL, *err = NULL, *in = NULL;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "stdout"); out = lua_tostring(L, -1); lua_pop(L, 1);
    lua_getfield(L, 2, "stderr"); err = lua_tostring(L, -1); lua_pop(L, 1);
    lua_getfield(L, 2, "stdin"); in = lua_tostring(L, -1); lua_pop(L, 1);
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return fail(L, "fork");
  if (pid == 0) {
    if (lua_istable(L, 2) && lua_getfield(L, 2, "env") == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
          unsetenv(lua_tostring(L, -2));
        else
          setenv(lua_tostring(L, -2), lua_tostring(L, -1), 1);
        lua_pop(L, 1);
      }
    }
    if (in) { int fd = open(in, O_RDONLY); if (fd >= 0) { dup2(fd, 0); close(fd); } }
    if (out) { int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644); if (fd >= 0) { dup2(fd, 1); close(fd); } }
    if (err) { int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644); if (fd >= 0) { dup2(fd, 2); close(fd); } }
    signal(SIGINT, SIG_DFL);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  lua_pushinteger(L, pid);
  return 1;
}

/* sys.wait(pid [, nohang]) -> "exit"|"signal", code  (nil when still running) */
static int s_wait(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int status = 0;
  pid_t r;
  while ((r = waitpid(pid, &status, lua_toboolean(L, 2) ? WNOHANG : 0)) < 0 && errno == EINTR)
    mh_check_interrupt(L);
  if (r < 0) return fail(L, "waitpid");
  if (r == 0) { lua_pushnil(L); return 1; }
  if (WIFSIGNALED(status)) {
    lua_pushstring(L, "signal");
    lua_pushinteger(L, WTERMSIG(status));
  } else {
    lua_pushstring(L, "exit");
    lua_pushinteger(L, WEXITSTATUS(status));
  }
  return 2;
}

/* sys.kill(pid [, signal=15]) -> true or nil, msg */
static int s_kill(lua_State *L) {
  if (kill((pid_t)luaL_checkinteger(L, 1), (int)luaL_optinteger(L, 2, SIGTERM)) != 0)
    return fail(L, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"clock", s_clock}, {"time", s_time}, {"sleep", s_sleep}, {"isatty", s_isatty},
  {"getpid", s_getpid}, {"peak_rss", s_peak_rss}, {"cpu_time", s_cpu_time},
  {"listdir", s_listdir}, {"stat", s_stat}, {"mkdir", s_mkdir}, {"tmpdir", s_tmpdir},
  {"realpath", s_realpath}, {"spawn", s_spawn}, {"wait", s_wait}, {"kill", s_kill},
  {NULL, NULL}};

int luaopen_monhost_sys(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
