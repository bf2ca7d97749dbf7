/* main.c: the monhost executable. Parses the command line, builds the Lua
 * state (standard libraries, the built-in modules in package.preload, the
 * search path of the project's Lua library), and runs a script, a string,
 * the REPL or a subcommand under a protected call with a traceback. Ctrl-C
 * is turned into a Lua error through a hook, as lua.c does. Everything a
 * subcommand does is Lua (scripts/monhost/cmd/<name>.lua). */
#include "monhost.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sql.h>
#include <sqlext.h>
#include <yaml.h>

int luaopen_cjson(lua_State *L);
int luaopen_cjson_safe(lua_State *L);
#define MOD(name) int luaopen_monhost_##name(lua_State *L);
#include "modules.h"
#undef MOD

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  mh_set_interrupt_target(L);
  mh_arm_sigint();
  int status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  return status;
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    char buf[8192];
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    fprintf(stderr, "monhost: %s\n", mh_redact(msg, buf, sizeof buf));
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* ---- locating the Lua library ------------------------------------------ */

static int isdir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The Lua library sits next to the executable in a source tree
 * (./scripts) and in PREFIX/share/monhost/scripts after install;
 * MONHOST_PATH (a ':'-separated list of directories) overrides both. */
static void set_paths(lua_State *L, const char *argv0) {
  char exe[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX + 128];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) {
    if (!realpath(argv0, exe)) snprintf(exe, sizeof exe, "%s", argv0);
  } else {
    exe[n] = '\0';
  }
  snprintf(dir, sizeof dir, "%s", exe);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0'; else snprintf(dir, sizeof dir, ".");

  /* pieces are pushed and concatenated: a luaL_Buffer cannot be used while
   * other values are pushed in between */
  int top = lua_gettop(L);
  const char *env = getenv("MONHOST_PATH");
  char libdir[PATH_MAX + 64] = "";
  if (env && *env) {
    char *copy = strdup(env), *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
      lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", p, p);
      if (!*libdir) snprintf(libdir, sizeof libdir, "%s", p);
    }
    free(copy);
  } else {
    /* source tree (./monhost), a build directory (build/monhost-asan),
     * then the installed layout */
    static const char *const layouts[] = {"/scripts", "/../scripts", "/../share/monhost/scripts"};
    for (size_t k = 0; k < sizeof layouts / sizeof layouts[0]; k++) {
      snprintf(libdir, sizeof libdir, "%s%s", dir, layouts[k]);
      snprintf(cand, sizeof cand, "%s/monhost", libdir);
      if (isdir(cand)) break;
    }
    char real[PATH_MAX];
    if (realpath(libdir, real)) snprintf(libdir, sizeof libdir, "%s", real);
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", libdir, libdir);
  }
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_remove(L, -2);
  lua_concat(L, lua_gettop(L) - top); /* keep Lua's defaults (LUA_PATH) after ours */
  lua_getglobal(L, "package");
  lua_insert(L, -2);
  lua_setfield(L, -2, "path");

  /* Facts about the installation, for Lua code (e.g. finding mappings/). */
  lua_newtable(L);
  lua_pushstring(L, exe); lua_setfield(L, -2, "exe");
  lua_pushstring(L, libdir); lua_setfield(L, -2, "libdir");
  lua_pushstring(L, MONHOST_VERSION); lua_setfield(L, -2, "version");
  lua_setfield(L, -2, "monhost");
  lua_pop(L, 1);
}

static void add_preloads(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_cjson); lua_setfield(L, -2, "cjson");
  lua_pushcfunction(L, luaopen_cjson_safe); lua_setfield(L, -2, "cjson.safe");
#define MOD(name) \
  lua_pushcfunction(L, luaopen_monhost_##name); lua_setfield(L, -2, "monhost." #name);
#include "modules.h"
#undef MOD
  lua_pop(L, 1);
}

/* ---- versions ------------------------------------------------------------ */

static void odbc_dm_version(char *out, size_t n) {
  SQLHENV env = SQL_NULL_HENV;
  SQLHDBC dbc = SQL_NULL_HDBC;
  snprintf(out, n, "unknown");
  if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env))) return;
  SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
  if (SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc))) {
    SQLCHAR v[64] = "";
    SQLSMALLINT len = 0;
    if (SQL_SUCCEEDED(SQLGetInfo(dbc, SQL_DM_VER, v, sizeof v, &len)))
      snprintf(out, n, "%s", (char *)v);
    SQLFreeHandle(SQL_HANDLE_DBC, dbc);
  }
  SQLFreeHandle(SQL_HANDLE_ENV, env);
}

static void print_version(void) {
  char odbc[64];
  odbc_dm_version(odbc, sizeof odbc);
  curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  printf("monhost %s\n", MONHOST_VERSION);
  printf("%s\n", LUA_RELEASE);
  printf("unixODBC %s\n", odbc);
  printf("libcurl %s (%s)\n", cv->version, cv->ssl_version ? cv->ssl_version : "no TLS");
  printf("libyaml %s\n", yaml_get_version_string());
}

static void print_help(void) {
  fputs(
    "usage: monhost [options] COMMAND [args...]\n"
    "\n"
    "commands:\n"
    "  run FILE.lua [args...]   run a workflow script (arg and ... as in lua)\n"
    "  FILE.lua [args...]       shorthand for run\n"
    "  -e CODE                  run a string of Lua (may be repeated; then FILE)\n"
    "  repl                     interactive Lua with monhost's modules (:help inside)\n"
    "  version                  versions of monhost and the libraries it uses\n"
    "  NAME [args...]           a subcommand from the Lua library\n"
    "                           (scripts/monhost/cmd/NAME.lua), e.g. check, mapping,\n"
    "                           db, status, retry, reconcile, board\n"
    "\n"
    "options (before the command):\n"
    "  --log-json               log JSON lines even on a terminal\n"
    "  --log-level LEVEL        debug, info (default), warn, error\n"
    "  -h, --help               this text\n"
    "\n"
    "environment:\n"
    "  MONHOST_PATH             directories of the Lua library (default: next to\n"
    "                           the executable, or PREFIX/share/monhost/scripts)\n"
    "  MONDAY_API_TOKEN         the monday.com API token (never logged)\n",
    stdout);
}

/* ---- running --------------------------------------------------------------- */

/* arg table as lua.c builds it: arg[0] = script, arg[1..] = its arguments,
 * negative indices for what came before. */
static void create_arg(lua_State *L, char **argv, int argc, int script) {
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* Modules next to the script are found first (script-relative requires). */
static void add_script_dir(lua_State *L, const char *file) {
  if (!file) return;
  char dir[PATH_MAX];
  const char *slash = strrchr(file, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - file) : 1, slash ? file : ".");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

static int run_file(lua_State *L, const char *file, char **argv, int argc, int script) {
  add_script_dir(L, file);
  int status = luaL_loadfile(L, file);
  if (status != LUA_OK) return report(L, status);
  int nargs = argc - script - 1;
  luaL_checkstack(L, nargs, "too many arguments");
  for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
  return report(L, docall(L, nargs, 0));
}

static int run_string(lua_State *L, const char *code) {
  int status = luaL_loadbuffer(L, code, strlen(code), "=(command line)");
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

/* Subcommands and the REPL are Lua modules: require(mod).main(args...). */
static int run_module(lua_State *L, const char *mod, char **argv, int argc, int first) {
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  int status = docall(L, 1, 1);
  if (status != LUA_OK) return report(L, status);
  lua_getfield(L, -1, "main");
  lua_remove(L, -2);
  if (!lua_isfunction(L, -1)) {
    fprintf(stderr, "monhost: module %s has no main function\n", mod);
    return LUA_ERRRUN;
  }
  int nargs = argc - first;
  luaL_checkstack(L, nargs, "too many arguments");
  for (int i = first; i < argc; i++) lua_pushstring(L, argv[i]);
  status = docall(L, nargs, 1);
  if (status != LUA_OK) return report(L, status);
  /* main may return an exit code */
  int code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
  lua_pop(L, 1);
  return code == 0 ? LUA_OK : -code;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* --log-json / --log-level: monhost.log.configure{...}, in option order so
 * they apply to every -e and script after them. */
static int configure_log(lua_State *L, const char *level, int json) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "monhost.log");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "configure");
  lua_remove(L, -2);
  lua_newtable(L);
  if (json) { lua_pushboolean(L, 1); lua_setfield(L, -2, "json"); }
  if (level) { lua_pushstring(L, level); lua_setfield(L, -2, "level"); }
  return report(L, docall(L, 1, 0));
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  luaL_openlibs(L);
  add_preloads(L);
  set_paths(L, argv[0]);

  int i = 1, ran_e = 0, status = LUA_OK;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--log-json")) {
      if (configure_log(L, NULL, 1) != LUA_OK) { lua_pushinteger(L, 1); return 1; }
    } else if (!strcmp(o, "--log-level") && i + 1 < argc) {
      if (configure_log(L, argv[++i], 0) != LUA_OK) { lua_pushinteger(L, 1); return 1; }
    } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) { print_help(); lua_pushinteger(L, 0); return 1; }
    else if (!strcmp(o, "-e") && i + 1 < argc) {
      create_arg(L, argv, argc, i + 1);
      if (run_string(L, argv[++i]) != LUA_OK) { lua_pushinteger(L, 1); return 1; }
      ran_e = 1;
    } else if (!strcmp(o, "--")) { i++; break; }
    else if (!strcmp(o, "-")) break;
    else {
      fprintf(stderr, "monhost: unknown option '%s' (see monhost --help)\n", o);
      lua_pushinteger(L, 1);
      return 1;
    }
  }

  if (i >= argc) {
    if (!ran_e) print_help();
    lua_pushinteger(L, ran_e ? 0 : 1);
    return 1;
  }
  const char *cmd = argv[i];
  if (!strcmp(cmd, "run")) {
    if (i + 1 >= argc) {
      fprintf(stderr, "monhost: run needs a script (monhost run FILE.lua [args...])\n");
      lua_pushinteger(L, 1);
      return 1;
    }
    create_arg(L, argv, argc, i + 1);
    status = run_file(L, argv[i + 1], argv, argc, i + 1);
  } else if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    print_version();
  } else if (!strcmp(cmd, "help")) {
    print_help();
  } else if (ends_with(cmd, ".lua") || strchr(cmd, '/') || !strcmp(cmd, "-")) {
    create_arg(L, argv, argc, i);
    status = run_file(L, strcmp(cmd, "-") ? cmd : NULL, argv, argc, i);
  } else {
    char mod[256];
    snprintf(mod, sizeof mod, "monhost.cmd.%s", cmd);
    create_arg(L, argv, argc, i);
    /* an unknown name is a user error, not a traceback */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, mod);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 1);
    int found = !lua_isnil(L, -1);
    lua_pop(L, 2);
    if (!found) {
      fprintf(stderr, "monhost: unknown command '%s' (see monhost --help)\n", cmd);
      lua_pushinteger(L, 1);
      return 1;
    }
    status = run_module(L, mod, argv, argc, i + 1);
  }
  lua_pushinteger(L, status == LUA_OK ? 0 : status < 0 ? -status : 1);
  return 1;
}

int main(int argc, char **argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "monhost: cannot create Lua state: not enough memory\n");
    return 1;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int code = 1;
  if (status == LUA_OK) code = (int)lua_tointeger(L, -1);
  else report(L, status);
  fflush(stdout);
  lua_close(L); /* runs __gc/__close of every handle still open */
  curl_global_cleanup();
  return code;
}
