/* monhost.h: what the host's primitives share: version, the NULL sentinel,
 * the interrupt flag and small Lua helpers. Each primitive lives in its own
 * host/<name>.c and exports `int luaopen_monhost_<name>(lua_State *)`; the
 * Makefile finds those and registers them in package.preload as
 * "monhost.<name>" (see build/modules.h), so adding a primitive is adding a
 * file. */
#ifndef MONHOST_H
#define MONHOST_H

#include <signal.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#define MONHOST_VERSION "0.1.0"

/* SQL NULL, YAML null and JSON null are one value: a light userdata holding
 * NULL. It is the same value as cjson.null, so rows fetched from a database
 * encode to JSON null without translation, and `v == odbc.null` works
 * whichever module produced v. */
static inline void mh_pushnull(lua_State *L) { lua_pushlightuserdata(L, NULL); }
static inline int mh_isnull(lua_State *L, int idx) {
  return lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == NULL;
}

/* Set by SIGINT. Long-running C loops (fetch, HTTP waits) poll it and stop
 * with an "interrupted" error so Ctrl-C ends a script cleanly. */
extern volatile sig_atomic_t mh_interrupted;

/* Raise "interrupted!" if Ctrl-C was pressed; call from long C loops. */
void mh_check_interrupt(lua_State *L);

/* (Re)install the Ctrl-C handler that interrupts the running Lua code of
 * the state given to mh_set_interrupt_target. */
void mh_arm_sigint(void);
void mh_set_interrupt_target(lua_State *L);

/* Remove every registered secret (e.g. the monday token) from a string
 * before it reaches a log line or an error message. Returns a pointer into
 * `buf` (or `s` when nothing was redacted). */
const char *mh_redact(const char *s, char *buf, size_t bufsz);
void mh_add_secret(const char *secret);

/* Set the metatable's __gc, __close and __index=self in one go. */
void mh_newclass(lua_State *L, const char *name, const luaL_Reg *methods);

#endif
