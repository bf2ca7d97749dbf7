/* runtime.c: what every primitive shares at run time: Ctrl-C handling (a
 * flag for C loops and a hook that raises "interrupted!" in Lua code, as
 * lua.c does) and the metatable helper behind each handle type. */
#include "monhost.h"

volatile sig_atomic_t mh_interrupted = 0;
static lua_State *target = NULL;

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  mh_interrupted = 0;
  luaL_error(L, "interrupted!");
}

/* First Ctrl-C: stop at the next Lua instruction (or the next poll in a C
 * loop). A second one gets the default action, so a wedged process can
 * still be killed from the keyboard. */
static void on_sigint(int sig) {
  signal(sig, SIG_DFL);
  mh_interrupted = 1;
  if (target) lua_sethook(target, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void mh_set_interrupt_target(lua_State *L) { target = L; }
void mh_arm_sigint(void) { signal(SIGINT, on_sigint); }

void mh_check_interrupt(lua_State *L) {
  if (mh_interrupted) {
    mh_interrupted = 0;
    luaL_error(L, "interrupted!");
  }
}

void mh_newclass(lua_State *L, const char *name, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  if (lua_getfield(L, -1, "__close") != LUA_TNIL)
    lua_setfield(L, -2, "__gc"); /* __gc = __close, as liolib does */
  else
    lua_pop(L, 1);
  lua_pop(L, 1);
}
