/* readline.c: monhost.readline, line editing and persistent history for the
 * REPL through libedit (BSD-licensed, so monhost stays MIT-compatible; GNU
 * readline is not used). The REPL itself is Lua (scripts/monhost/repl.lua).
 *
 *   readline.readline(prompt) -> line | nil (end of input) | "", "interrupted"
 *   readline.add_history(line)   readline.read_history(path)
 *   readline.write_history(path [, max_lines]) */
#include "monhost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

static volatile sig_atomic_t got_sigint;
static void on_sigint_in_readline(int sig) { (void)sig; got_sigint = 1; }

static int l_readline(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "> ");
  /* Ctrl-C at the prompt cancels the line; it must not raise in the REPL's
   * own loop nor leave SIGINT at its default (which would kill the REPL). */
  got_sigint = 0;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint_in_readline;
  sigaction(SIGINT, &sa, &old);
  char *line = readline(prompt);
  sigaction(SIGINT, &old, NULL);
  mh_interrupted = 0;
  mh_arm_sigint();
  if (got_sigint) {
    free(line);
    lua_pushliteral(L, "");
    lua_pushliteral(L, "interrupted");
    return 2;
  }
  if (!line) return 0; /* EOF */
  lua_pushstring(L, line);
  free(line);
  return 1;
}

static int l_add_history(lua_State *L) {
  const char *line = luaL_checkstring(L, 1);
  if (*line) add_history(line);
  return 0;
}

static int l_read_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_pushboolean(L, read_history(path) == 0);
  return 1;
}

static int l_write_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int max = (int)luaL_optinteger(L, 2, 1000);
  stifle_history(max);
  if (write_history(path) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"readline", l_readline}, {"add_history", l_add_history},
  {"read_history", l_read_history}, {"write_history", l_write_history}, {NULL, NULL}};

int luaopen_monhost_readline(lua_State *L) {
  using_history();
  luaL_newlib(L, funcs);
  return 1;
}
