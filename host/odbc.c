/* odbc.c: monhost.odbc, the database mechanism behind the pipeline: ODBC
 * connections (unixODBC), statements with ? parameters bound from Lua
 * values, streaming cursors that fetch in blocks through column-wise bound
 * buffers (SQL_ATTR_ROW_ARRAY_SIZE), and array execution of parameter sets
 * (SQL_ATTR_PARAMSET_SIZE) or multi-row VALUES statements for bulk writes.
 * Policy (dialects, SQL text, batch sizes, transactions, error isolation)
 * lives in scripts/monhost/odbc_sql.lua, which this module loads and which
 * adds the rest of the connection methods. */
#include "monhost.h"

#include <sql.h>
#include <sqlext.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONN_MT "monhost.odbc.connection"
#define CUR_MT "monhost.odbc.cursor"

typedef struct Cursor Cursor;

typedef struct {
  SQLHENV env;
  SQLHDBC dbc;
  int connected;
  int autocommit;   /* what we last set */
  int wide;         /* exchange text as UTF-16 (SQL_C_WCHAR) */
  int gd_block;     /* driver supports SQLGetData on block cursors */
  int gd_bound;     /* driver supports SQLGetData on bound columns */
  Cursor *cursors;  /* open cursors, closed with the connection */
  SQLHSTMT bulk;    /* the prepared statement of the last execute_array */
  char *reset_sql;  /* run after an error in autocommit mode (see after_error) */
  char *bulk_sql;
} Conn;

enum { K_INT, K_DOUBLE, K_DEC, K_TEXT, K_BIN, K_DATE, K_TIME, K_TS, K_BIT };

typedef struct {
  char *name;
  SQLSMALLINT sqltype, nullable, digits;
  SQLULEN size;
  int kind;
  SQLSMALLINT ctype;
  SQLLEN width;   /* bytes per element in the bound buffer */
  char *buf;
  SQLLEN *ind;
} Col;

struct Cursor {
  Conn *conn;
  Cursor *next, **prevp;
  SQLHSTMT stmt;
  int ncols;
  Col *cols;
  SQLULEN block, fetched, pos;
  SQLUSMALLINT *rowstatus;
  int done, named, dec_number, getdata; /* getdata: unbound, one row at a time */
};

/* ---------- text conversion: UTF-8 <-> UTF-16 (SQLWCHAR is 2 bytes) ---------- */

/* Returns the number of UTF-16 units written (excluding the terminator); out
 * must hold 2*len+1 units. Invalid bytes become U+FFFD. */
static size_t utf8_to_16(const unsigned char *s, size_t len, SQLWCHAR *out) {
  size_t i = 0, n = 0;
  while (i < len) {
    uint32_t c = s[i], need = 0;
    if (c < 0x80) need = 0;
    else if ((c & 0xE0) == 0xC0) { c &= 0x1F; need = 1; }
    else if ((c & 0xF0) == 0xE0) { c &= 0x0F; need = 2; }
    else if ((c & 0xF8) == 0xF0) { c &= 0x07; need = 3; }
    else { out[n++] = 0xFFFD; i++; continue; }
    if (i + need >= len + (need == 0)) { /* truncated sequence */
      if (need) { out[n++] = 0xFFFD; break; }
    }
    size_t j;
    for (j = 1; j <= need; j++) {
      if (i + j >= len || (s[i + j] & 0xC0) != 0x80) break;
      c = (c << 6) | (s[i + j] & 0x3F);
    }
    if (j <= need) { out[n++] = 0xFFFD; i += j; continue; }
    i += need + 1;
    if (c >= 0x10000) {
      c -= 0x10000;
      out[n++] = (SQLWCHAR)(0xD800 | (c >> 10));
      out[n++] = (SQLWCHAR)(0xDC00 | (c & 0x3FF));
    } else out[n++] = (SQLWCHAR)c;
  }
  out[n] = 0;
  return n;
}

/* Writes UTF-8 for `n` UTF-16 units to dst (room for 3 bytes per unit: a
 * surrogate pair, 2 units, takes 4); returns the bytes written. */
static size_t utf16_encode(char *dst, const SQLWCHAR *w, size_t n) {
  char *o = dst;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = w[i];
    if (c < 0x80) { *o++ = (char)c; continue; }
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && w[i + 1] >= 0xDC00 && w[i + 1] < 0xE000) {
      c = 0x10000 + ((c - 0xD800) << 10) + (w[i + 1] - 0xDC00);
      i++;
      *o++ = (char)(0xF0 | (c >> 18)); *o++ = (char)(0x80 | ((c >> 12) & 0x3F));
      *o++ = (char)(0x80 | ((c >> 6) & 0x3F)); *o++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x800) {
      *o++ = (char)(0xC0 | (c >> 6)); *o++ = (char)(0x80 | (c & 0x3F));
    } else {
      *o++ = (char)(0xE0 | (c >> 12)); *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
      *o++ = (char)(0x80 | (c & 0x3F));
    }
  }
  return (size_t)(o - dst);
}

/* Appends UTF-8 for `n` UTF-16 units to the buffer. */
static void utf16_to_8(luaL_Buffer *b, const SQLWCHAR *w, size_t n) {
  luaL_addsize(b, utf16_encode(luaL_prepbuffsize(b, 3 * n), w, n));
}

static void push_utf16(lua_State *L, const SQLWCHAR *w, size_t n) {
  /* fetched cells are short: a stack buffer, no luaL_Buffer */
  char small[3 * 256];
  if (n <= 256) {
    lua_pushlstring(L, small, utf16_encode(small, w, n));
    return;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  utf16_to_8(&b, w, n);
  luaL_pushresult(&b);
}

/* ---------- diagnostics ---------- */

/* Pushes "[SQLSTATE] message" (every record, joined) and the first SQLSTATE;
 * secrets (passwords from connection strings) are redacted. */
static void push_diag(lua_State *L, SQLSMALLINT type, SQLHANDLE h, const char *context) {
  luaL_Buffer b;
  char first[6] = "HY000";
  luaL_buffinit(L, &b);
  if (context) { luaL_addstring(&b, context); luaL_addstring(&b, ": "); }
  int any = 0;
  for (SQLSMALLINT i = 1; i <= 8; i++) {
    SQLCHAR state[6], msg[1024];
    SQLINTEGER native;
    SQLSMALLINT len;
    SQLRETURN r = SQLGetDiagRec(type, h, i, state, &native, msg, sizeof msg, &len);
    if (!SQL_SUCCEEDED(r)) break;
    if (!any) memcpy(first, state, 6);
    char red[1200];
    if (any) luaL_addstring(&b, "; ");
    luaL_addstring(&b, "[");
    luaL_addstring(&b, (char *)state);
    luaL_addstring(&b, "] ");
    luaL_addstring(&b, mh_redact((char *)msg, red, sizeof red));
    any = 1;
  }
  if (!any) luaL_addstring(&b, "unknown ODBC error");
  luaL_pushresult(&b);
  lua_pushstring(L, first);
}

/* Returns nil, message, sqlstate. */
static int fail(lua_State *L, SQLSMALLINT type, SQLHANDLE h, const char *context) {
  lua_pushnil(L);
  push_diag(L, type, h, context);
  return 3;
}

/* After a failed statement in autocommit mode: psqlODBC may have opened an
 * implicit transaction (UseDeclareFetch) that the error left aborted; end
 * it so the next statement works. A no-op for the other drivers. */
static void after_error(Conn *c) {
  if (!c->autocommit || !c->reset_sql) return;
  SQLHSTMT st = NULL;
  if (SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st))) {
    SQLExecDirect(st, (SQLCHAR *)c->reset_sql, SQL_NTS);
    SQLFreeHandle(SQL_HANDLE_STMT, st);
  }
}
#define AFTER_ERROR(c) after_error(c)

/* ---------- connection ---------- */

static Conn *check_conn(lua_State *L, int idx) {
  Conn *c = (Conn *)luaL_checkudata(L, idx, CONN_MT);
  if (!c->connected) luaL_argerror(L, idx, "connection is closed");
  return c;
}

static void cursor_free(Cursor *cur);

static void bulk_free(Conn *c) {
  if (c->bulk) { SQLFreeHandle(SQL_HANDLE_STMT, c->bulk); c->bulk = NULL; }
  free(c->bulk_sql);
  c->bulk_sql = NULL;
}

static void conn_free(Conn *c) {
  while (c->cursors) cursor_free(c->cursors);
  bulk_free(c);
  if (c->connected) {
    /* an open transaction is rolled back, never committed by accident */
    if (!c->autocommit) SQLEndTran(SQL_HANDLE_DBC, c->dbc, SQL_ROLLBACK);
    SQLDisconnect(c->dbc);
    c->connected = 0;
  }
  if (c->dbc) { SQLFreeHandle(SQL_HANDLE_DBC, c->dbc); c->dbc = NULL; }
  if (c->env) { SQLFreeHandle(SQL_HANDLE_ENV, c->env); c->env = NULL; }
  free(c->reset_sql);
  c->reset_sql = NULL;
}

static int conn_close(lua_State *L) {
  conn_free((Conn *)luaL_checkudata(L, 1, CONN_MT));
  return 0;
}

static void get_info_str(Conn *c, SQLUSMALLINT what, char *out, SQLSMALLINT size) {
  SQLSMALLINT len = 0;
  out[0] = 0;
  if (!SQL_SUCCEEDED(SQLGetInfo(c->dbc, what, out, size, &len))) out[0] = 0;
}

/* odbc._connect(connstr [, timeout]) -> conn, info{dbms=, driver=, ...} | nil, msg, state */
static int l_connect(lua_State *L) {
  size_t len;
  const char *cs = luaL_checklstring(L, 1, &len);
  lua_Integer timeout = luaL_optinteger(L, 2, 15);
  Conn *c = (Conn *)lua_newuserdatauv(L, sizeof(Conn), 1);
  memset(c, 0, sizeof *c);
  luaL_setmetatable(L, CONN_MT);
  if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &c->env)))
    return luaL_error(L, "odbc: cannot allocate an environment handle");
  SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
  if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc)))
    return fail(L, SQL_HANDLE_ENV, c->env, "connect");
  SQLSetConnectAttr(c->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)(intptr_t)timeout, 0);
  SQLRETURN r = SQLDriverConnect(c->dbc, NULL, (SQLCHAR *)cs, (SQLSMALLINT)len, NULL, 0, NULL,
                                 SQL_DRIVER_NOPROMPT);
  if (!SQL_SUCCEEDED(r)) {
    lua_pushnil(L);
    push_diag(L, SQL_HANDLE_DBC, c->dbc, "connect");
    conn_free(c); /* the userdata is garbage now */
    return 3;
  }
  c->connected = 1;
  c->autocommit = 1;
  SQLUINTEGER gd = 0;
  SQLGetInfo(c->dbc, SQL_GETDATA_EXTENSIONS, &gd, sizeof gd, NULL);
  c->gd_block = (gd & SQL_GD_BLOCK) != 0;
  c->gd_bound = (gd & SQL_GD_BOUND) != 0;
  char buf[256];
  lua_createtable(L, 0, 4);
  get_info_str(c, SQL_DBMS_NAME, buf, sizeof buf);
  lua_pushstring(L, buf); lua_setfield(L, -2, "dbms");
  get_info_str(c, SQL_DBMS_VER, buf, sizeof buf);
  lua_pushstring(L, buf); lua_setfield(L, -2, "dbms_version");
  get_info_str(c, SQL_DRIVER_NAME, buf, sizeof buf);
  lua_pushstring(L, buf); lua_setfield(L, -2, "driver");
  get_info_str(c, SQL_DRIVER_VER, buf, sizeof buf);
  lua_pushstring(L, buf); lua_setfield(L, -2, "driver_version");
  lua_pushboolean(L, c->gd_block); lua_setfield(L, -2, "getdata_block");
  lua_pushboolean(L, c->gd_bound); lua_setfield(L, -2, "getdata_bound");
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, -3, 1); /* conn's uservalue: a table for Lua-side state */
  return 2;
}

/* conn:_state() -> the per-connection Lua table (dialect, info, txn depth) */
static int conn_state(lua_State *L) {
  luaL_checkudata(L, 1, CONN_MT);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* conn:_set_wide(bool): exchange text as UTF-16 (drivers that convert
 * SQL_C_CHAR through the process locale need it) */
static int conn_set_wide(lua_State *L) {
  Conn *c = check_conn(L, 1);
  c->wide = lua_toboolean(L, 2);
  return 0;
}

/* conn:_set_reset_sql(sql | nil) */
static int conn_set_reset(lua_State *L) {
  Conn *c = check_conn(L, 1);
  free(c->reset_sql);
  c->reset_sql = lua_isstring(L, 2) ? strdup(lua_tostring(L, 2)) : NULL;
  return 0;
}

/* conn:_set_getdata_block(bool): the driver completes truncated values on
 * block cursors (SQLSetPos + SQLGetData) even if it does not say so */
static int conn_set_gd_block(lua_State *L) {
  Conn *c = check_conn(L, 1);
  c->gd_block = lua_toboolean(L, 2);
  return 0;
}

static int conn_is_open(lua_State *L) {
  Conn *c = (Conn *)luaL_checkudata(L, 1, CONN_MT);
  lua_pushboolean(L, c->connected);
  return 1;
}

/* conn:_autocommit(on) -> true | nil, msg, state */
static int conn_autocommit(lua_State *L) {
  Conn *c = check_conn(L, 1);
  int on = lua_toboolean(L, 2);
  SQLRETURN r = SQLSetConnectAttr(c->dbc, SQL_ATTR_AUTOCOMMIT,
                                  (SQLPOINTER)(intptr_t)(on ? SQL_AUTOCOMMIT_ON : SQL_AUTOCOMMIT_OFF), 0);
  if (!SQL_SUCCEEDED(r)) return fail(L, SQL_HANDLE_DBC, c->dbc, "autocommit");
  c->autocommit = on;
  lua_pushboolean(L, 1);
  return 1;
}

/* conn:_endtran(commit) -> true | nil, msg, state */
static int conn_endtran(lua_State *L) {
  Conn *c = check_conn(L, 1);
  int commit = lua_toboolean(L, 2);
  SQLRETURN r = SQLEndTran(SQL_HANDLE_DBC, c->dbc, commit ? SQL_COMMIT : SQL_ROLLBACK);
  if (!SQL_SUCCEEDED(r)) return fail(L, SQL_HANDLE_DBC, c->dbc, commit ? "commit" : "rollback");
  lua_pushboolean(L, 1);
  return 1;
}

/* ---------- parameters ---------- */

typedef struct {
  SQLSMALLINT ctype, sqltype, digits;
  SQLULEN colsize;
  SQLLEN width;   /* element width in buf */
  char *buf;      /* m elements, or NULL when pointing into a Lua string */
  SQLLEN *ind;    /* m indicators */
} Param;

/* Kind of a column of values: chosen from every non-NULL value so a whole
 * parameter array has one C type. Strings win over numbers (converted with
 * Lua's own formatting), floats over integers; booleans alone bind as BIT. */
enum { P_NULL, P_BOOL, P_INT, P_DOUBLE, P_TEXT };

static int value_kind(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return P_NULL;
  case LUA_TLIGHTUSERDATA: if (mh_isnull(L, idx)) return P_NULL; break;
  case LUA_TBOOLEAN: return P_BOOL;
  case LUA_TNUMBER: return lua_isinteger(L, idx) ? P_INT : P_DOUBLE;
  case LUA_TSTRING: return P_TEXT;
  }
  return -1;
}

static int merge_kind(int a, int b) {
  if (a == P_NULL) return b;
  if (b == P_NULL) return a;
  if (a == b) return a;
  if (a == P_TEXT || b == P_TEXT) return P_TEXT;
  if (a == P_DOUBLE || b == P_DOUBLE) return P_DOUBLE;
  return P_INT; /* bool with int */
}

static void param_types(Param *p, int kind, int wide, SQLLEN maxlen) {
  switch (kind) {
  case P_BOOL: p->ctype = SQL_C_BIT; p->sqltype = SQL_BIT; p->colsize = 1; p->width = 1; break;
  case P_INT: p->ctype = SQL_C_SBIGINT; p->sqltype = SQL_BIGINT; p->colsize = 19; p->width = 8; break;
  case P_DOUBLE: p->ctype = SQL_C_DOUBLE; p->sqltype = SQL_DOUBLE; p->colsize = 15; p->width = 8; break;
  default: /* text and all-NULL columns */
    if (maxlen < 1) maxlen = 1;
    if (wide) {
      p->ctype = SQL_C_WCHAR;
      p->sqltype = maxlen > 4000 ? SQL_WLONGVARCHAR : SQL_WVARCHAR;
      p->width = (maxlen + 1) * (SQLLEN)sizeof(SQLWCHAR) * 2; /* worst case: one unit per byte, ×2 slack */
    } else {
      p->ctype = SQL_C_CHAR;
      p->sqltype = maxlen > 4000 ? SQL_LONGVARCHAR : SQL_VARCHAR;
      p->width = maxlen + 1;
    }
    p->colsize = (SQLULEN)maxlen;
    break;
  }
  p->digits = 0;
}

/* Writes value at stack idx into element e of p. */
static void param_store(lua_State *L, Param *p, SQLLEN e, int idx) {
  int k = value_kind(L, idx);
  if (k == P_NULL) { p->ind[e] = SQL_NULL_DATA; return; }
  char *dst = p->buf + e * p->width;
  switch (p->ctype) {
  case SQL_C_BIT: *(unsigned char *)dst = (unsigned char)lua_toboolean(L, idx); p->ind[e] = 1; return;
  case SQL_C_SBIGINT: {
    long long v = k == P_BOOL ? lua_toboolean(L, idx) : (long long)lua_tointeger(L, idx);
    memcpy(dst, &v, 8); p->ind[e] = 8; return;
  }
  case SQL_C_DOUBLE: {
    double v = k == P_BOOL ? lua_toboolean(L, idx) : (double)lua_tonumber(L, idx);
    memcpy(dst, &v, 8); p->ind[e] = 8; return;
  }
  }
  size_t len;
  const char *s;
  if (k == P_BOOL) s = lua_toboolean(L, idx) ? "1" : "0", len = 1;
  else {
    lua_pushvalue(L, idx);
    s = lua_tolstring(L, -1, &len); /* numbers: Lua's formatting, exact for integers */
    lua_pop(L, 1);                  /* safe: copied below before anything else runs */
  }
  if (p->ctype == SQL_C_WCHAR) {
    size_t n = utf8_to_16((const unsigned char *)s, len, (SQLWCHAR *)dst);
    p->ind[e] = (SQLLEN)(n * sizeof(SQLWCHAR));
  } else {
    memcpy(dst, s, len);
    dst[len] = 0;
    p->ind[e] = (SQLLEN)len;
  }
}

/* Length in bytes of the text form of value idx (for sizing buffers). */
static SQLLEN text_len(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING) return (SQLLEN)lua_rawlen(L, idx);
  if (t == LUA_TNUMBER) return 48;
  return 1;
}

static int bind_param(lua_State *L, SQLHSTMT st, SQLUSMALLINT no, Param *p) {
  (void)L;
  SQLRETURN r = SQLBindParameter(st, no, SQL_PARAM_INPUT, p->ctype, p->sqltype, p->colsize,
                                 p->digits, p->buf, p->width, p->ind);
  return SQL_SUCCEEDED(r);
}

/* Allocates scratch memory owned by the Lua stack (freed by the GC even when
 * an error unwinds the call). */
static void *scratch(lua_State *L, size_t n) {
  void *p = lua_newuserdatauv(L, n ? n : 1, 0);
  memset(p, 0, n ? n : 1);
  return p;
}

/* Binds stack values first..first+n-1 as a single parameter set. Scratch
 * blocks are left on the stack. Returns 0 and an error message on failure. */
static int bind_args(lua_State *L, Conn *c, SQLHSTMT st, int first, int n) {
  luaL_checkstack(L, 2 * n + 8, "too many parameters");
  Param *ps = (Param *)scratch(L, sizeof(Param) * (size_t)n);
  for (int i = 0; i < n; i++) {
    int idx = first + i, k = value_kind(L, idx);
    if (k < 0)
      return luaL_error(L, "parameter %d: cannot bind a %s (use a string, number, boolean, nil or odbc.null)",
                        i + 1, luaL_typename(L, idx));
    Param *p = &ps[i];
    param_types(p, k, c->wide, k == P_TEXT ? text_len(L, idx) : 1);
    p->ind = (SQLLEN *)scratch(L, sizeof(SQLLEN));
    p->buf = (char *)scratch(L, (size_t)p->width);
    param_store(L, p, 0, idx);
    if (!bind_param(L, st, (SQLUSMALLINT)(i + 1), p)) return 0;
  }
  return 1;
}

/* ---------- exec ---------- */

static SQLHSTMT new_stmt(Conn *c) {
  SQLHSTMT st = NULL;
  if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st))) return NULL;
  return st;
}

/* conn:exec(sql, ...) -> affected rows (-1 when unknown) | nil, msg, state */
static int conn_exec(lua_State *L) {
  Conn *c = check_conn(L, 1);
  size_t len;
  const char *sql = luaL_checklstring(L, 2, &len);
  int nargs = lua_gettop(L) - 2;
  SQLHSTMT st = new_stmt(c);
  if (!st) return fail(L, SQL_HANDLE_DBC, c->dbc, "exec");
  int top = lua_gettop(L);
  if (nargs > 0 && !bind_args(L, c, st, 3, nargs)) {
    fail(L, SQL_HANDLE_STMT, st, "bind");
    SQLFreeHandle(SQL_HANDLE_STMT, st);
    return 3;
  }
  SQLRETURN r = nargs > 0 ? (SQLPrepare(st, (SQLCHAR *)sql, (SQLINTEGER)len),
                             SQLExecute(st))
                          : SQLExecDirect(st, (SQLCHAR *)sql, (SQLINTEGER)len);
  if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
    fail(L, SQL_HANDLE_STMT, st, NULL);
    SQLFreeHandle(SQL_HANDLE_STMT, st);
    AFTER_ERROR(c);
    return 3;
  }
  SQLLEN rows = -1;
  if (r != SQL_NO_DATA) SQLRowCount(st, &rows);
  else rows = 0;
  SQLFreeHandle(SQL_HANDLE_STMT, st);
  lua_settop(L, top);
  lua_pushinteger(L, rows);
  return 1;
}

/* ---------- cursors ---------- */

static void cursor_free(Cursor *cur) {
  if (cur->stmt) { SQLFreeHandle(SQL_HANDLE_STMT, cur->stmt); cur->stmt = NULL; }
  if (cur->prevp) {
    *cur->prevp = cur->next;
    if (cur->next) cur->next->prevp = cur->prevp;
    cur->prevp = NULL;
    cur->next = NULL;
  }
  if (cur->cols) {
    for (int i = 0; i < cur->ncols; i++) {
      free(cur->cols[i].name);
      free(cur->cols[i].buf);
      free(cur->cols[i].ind);
    }
    free(cur->cols);
    cur->cols = NULL;
  }
  free(cur->rowstatus);
  cur->rowstatus = NULL;
  cur->done = 1;
}

static int cursor_close(lua_State *L) {
  Cursor *cur = (Cursor *)luaL_checkudata(L, 1, CUR_MT);
  cursor_free(cur);
  return 0;
}

static int kind_of(SQLSMALLINT t) {
  switch (t) {
  case SQL_TINYINT: case SQL_SMALLINT: case SQL_INTEGER: case SQL_BIGINT: return K_INT;
  case SQL_BIT: return K_BIT;
  case SQL_REAL: case SQL_FLOAT: case SQL_DOUBLE: return K_DOUBLE;
  case SQL_DECIMAL: case SQL_NUMERIC: return K_DEC;
  case SQL_BINARY: case SQL_VARBINARY: case SQL_LONGVARBINARY: return K_BIN;
  case SQL_TYPE_DATE: case SQL_DATE: return K_DATE;
  case SQL_TYPE_TIME: case SQL_TIME: return K_TIME;
  case SQL_TYPE_TIMESTAMP: case SQL_TIMESTAMP: return K_TS;
  default: return K_TEXT;
  }
}

static int is_long(SQLSMALLINT t, SQLULEN size, SQLULEN limit) {
  return t == SQL_LONGVARCHAR || t == SQL_WLONGVARCHAR || t == SQL_LONGVARBINARY || size == 0 ||
         size > limit;
}

/* Allocates column buffers for `block` rows. */
static int cursor_setup(lua_State *L, Cursor *cur, lua_Integer block, lua_Integer long_width,
                        lua_Integer budget) {
  SQLSMALLINT n = 0;
  SQLNumResultCols(cur->stmt, &n);
  cur->ncols = n;
  if (n == 0) cur->done = 1; /* no result set (DDL, INSERT) */
  cur->cols = (Col *)calloc(n ? (size_t)n : 1, sizeof(Col));
  if (!cur->cols) return luaL_error(L, "odbc: out of memory");
  SQLLEN rowbytes = 0;
  int anylong = 0;
  for (SQLSMALLINT i = 0; i < n; i++) {
    Col *col = &cur->cols[i];
    SQLCHAR name[512];
    SQLSMALLINT nlen = 0;
    SQLDescribeCol(cur->stmt, (SQLUSMALLINT)(i + 1), name, sizeof name, &nlen, &col->sqltype,
                   &col->size, &col->digits, &col->nullable);
    if (nlen >= (SQLSMALLINT)sizeof name) nlen = sizeof name - 1;
    if (cur->conn->wide) {
      /* narrow names come through the locale too: ask for the wide form */
      SQLWCHAR wname[512];
      SQLSMALLINT wl = 0;
      if (SQL_SUCCEEDED(SQLColAttributeW(cur->stmt, (SQLUSMALLINT)(i + 1), SQL_DESC_NAME, wname,
                                         sizeof wname, &wl, NULL))) {
        push_utf16(L, wname, (size_t)wl / sizeof(SQLWCHAR));
        col->name = strdup(lua_tostring(L, -1));
        lua_pop(L, 1);
      }
    }
    if (!col->name) col->name = strndup((char *)name, (size_t)nlen);
    col->kind = kind_of(col->sqltype);
    int lg = 0;
    switch (col->kind) {
    case K_INT: col->ctype = SQL_C_SBIGINT; col->width = 8; break;
    case K_BIT: col->ctype = SQL_C_BIT; col->width = 1; break;
    case K_DOUBLE: col->ctype = SQL_C_DOUBLE; col->width = 8; break;
    case K_DATE: col->ctype = SQL_C_TYPE_DATE; col->width = sizeof(SQL_DATE_STRUCT); break;
    case K_TIME: col->ctype = SQL_C_TYPE_TIME; col->width = sizeof(SQL_TIME_STRUCT); break;
    case K_TS: col->ctype = SQL_C_TYPE_TIMESTAMP; col->width = sizeof(SQL_TIMESTAMP_STRUCT); break;
    case K_DEC: col->ctype = SQL_C_CHAR; col->width = (SQLLEN)(col->size ? col->size : 64) + 3; break;
    case K_BIN:
      col->ctype = SQL_C_BINARY;
      lg = is_long(col->sqltype, col->size, 8000);
      col->width = lg ? long_width : (SQLLEN)col->size;
      break;
    default:
      lg = is_long(col->sqltype, col->size, 4000);
      if (cur->conn->wide) {
        col->ctype = SQL_C_WCHAR;
        col->width = lg ? long_width : ((SQLLEN)col->size + 1) * 2 * (SQLLEN)sizeof(SQLWCHAR);
      } else {
        col->ctype = SQL_C_CHAR;
        col->width = lg ? long_width : (SQLLEN)col->size * 4 + 1;
      }
    }
    if (col->kind == K_DEC && col->width > 200) col->width = 200;
    /* column-wise arrays of fixed-size C types are strided by the type's
     * size whatever BufferLength says: only variable types may be padded */
    if ((col->kind == K_TEXT || col->kind == K_BIN || col->kind == K_DEC) && col->width < 8) col->width = 8;
    anylong |= lg;
    rowbytes += col->width + (SQLLEN)sizeof(SQLLEN);
  }
  /* Truncated long values are completed with SQLSetPos + SQLGetData, which
   * needs SQL_GD_BLOCK. Without it, a result with long columns is fetched
   * one row at a time: still bound (one SQLFetch per row), a truncated value
   * completed from the current row, when the driver allows SQLGetData on
   * bound columns (SQL_GD_BOUND: the SQLite driver, e.g.); otherwise every
   * cell through SQLGetData (one driver-manager call per cell, slowest). */
  if (anylong && !cur->conn->gd_block) {
    if (!cur->conn->gd_bound) {
      cur->getdata = 1;
      cur->block = 1;
      return 1;
    }
    block = 1;
  }
  if (rowbytes < 1) rowbytes = 1;
  lua_Integer fit = budget / rowbytes;
  if (fit < 1) fit = 1;
  if (block > fit) block = fit;
  if (block < 1) block = 1;
  cur->block = (SQLULEN)block;
  SQLSetStmtAttr(cur->stmt, SQL_ATTR_ROW_BIND_TYPE, (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
  if (!SQL_SUCCEEDED(SQLSetStmtAttr(cur->stmt, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)(uintptr_t)block, 0)))
    cur->block = 1;
  cur->rowstatus = (SQLUSMALLINT *)calloc(cur->block, sizeof(SQLUSMALLINT));
  SQLSetStmtAttr(cur->stmt, SQL_ATTR_ROWS_FETCHED_PTR, &cur->fetched, 0);
  SQLSetStmtAttr(cur->stmt, SQL_ATTR_ROW_STATUS_PTR, cur->rowstatus, 0);
  for (int i = 0; i < n; i++) {
    Col *col = &cur->cols[i];
    col->buf = (char *)malloc((size_t)col->width * cur->block);
    col->ind = (SQLLEN *)malloc(sizeof(SQLLEN) * cur->block);
    if (!col->buf || !col->ind) return luaL_error(L, "odbc: out of memory for %d rows", (int)cur->block);
    SQLBindCol(cur->stmt, (SQLUSMALLINT)(i + 1), col->ctype, col->buf, col->width, col->ind);
  }
  return 1;
}

static Cursor *new_cursor(lua_State *L, Conn *c, int connidx) {
  Cursor *cur = (Cursor *)lua_newuserdatauv(L, sizeof(Cursor), 1);
  memset(cur, 0, sizeof *cur);
  luaL_setmetatable(L, CUR_MT);
  lua_pushvalue(L, connidx);
  lua_setiuservalue(L, -2, 1); /* keeps the connection alive */
  cur->conn = c;
  cur->next = c->cursors;
  if (c->cursors) c->cursors->prevp = &cur->next;
  c->cursors = cur;
  cur->prevp = &c->cursors;
  return cur;
}

static lua_Integer opt_int(lua_State *L, int idx, const char *k, lua_Integer d) {
  if (!lua_istable(L, idx)) return d;
  lua_getfield(L, idx, k);
  lua_Integer v = luaL_optinteger(L, -1, d);
  lua_pop(L, 1);
  return v;
}

static int opt_bool(lua_State *L, int idx, const char *k) {
  if (!lua_istable(L, idx)) return 0;
  lua_getfield(L, idx, k);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* conn:_query(opts, sql, ...) -> cursor | nil, msg, state
 * opts: block (rows per fetch), long_width (bytes bound for long text),
 * budget (bytes for a block's buffers), named, decimal_as_number */
static int conn_query(lua_State *L) {
  Conn *c = check_conn(L, 1);
  size_t len;
  const char *sql = luaL_checklstring(L, 3, &len);
  int nargs = lua_gettop(L) - 3;
  lua_Integer block = opt_int(L, 2, "block", 1000);
  lua_Integer lw = opt_int(L, 2, "long_width", 4096);
  lua_Integer budget = opt_int(L, 2, "budget", 8 << 20);
  if (block < 1) luaL_argerror(L, 2, "block must be >= 1");
  if (lw < 16) luaL_argerror(L, 2, "long_width must be >= 16");
  Cursor *cur = new_cursor(L, c, 1);
  int curidx = lua_gettop(L);
  cur->named = opt_bool(L, 2, "named");
  cur->dec_number = opt_bool(L, 2, "decimal_as_number");
  cur->stmt = new_stmt(c);
  if (!cur->stmt) { cursor_free(cur); return fail(L, SQL_HANDLE_DBC, c->dbc, "query"); }
  if (nargs > 0 && !bind_args(L, c, cur->stmt, 4, nargs)) {
    fail(L, SQL_HANDLE_STMT, cur->stmt, "bind");
    cursor_free(cur);
    return 3;
  }
  SQLRETURN r = nargs > 0 ? (SQLPrepare(cur->stmt, (SQLCHAR *)sql, (SQLINTEGER)len), SQLExecute(cur->stmt))
                          : SQLExecDirect(cur->stmt, (SQLCHAR *)sql, (SQLINTEGER)len);
  if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
    fail(L, SQL_HANDLE_STMT, cur->stmt, NULL);
    cursor_free(cur);
    AFTER_ERROR(c);
    return 3;
  }
  /* scratch parameter buffers may go now: the statement has executed */
  SQLFreeStmt(cur->stmt, SQL_RESET_PARAMS);
  cursor_setup(L, cur, block, lw, budget);
  lua_pushvalue(L, curidx);
  return 1;
}

/* lua_pushfstring has no widths: format with snprintf */
static void push_date(lua_State *L, const SQL_DATE_STRUCT *d) {
  char buf[32];
  if (d->year >= 0 && d->year <= 9999 && d->month <= 12 && d->day <= 31) { /* the common case, without printf */
    int y = d->year;
    buf[0] = (char)('0' + y / 1000); buf[1] = (char)('0' + y / 100 % 10);
    buf[2] = (char)('0' + y / 10 % 10); buf[3] = (char)('0' + y % 10); buf[4] = '-';
    buf[5] = (char)('0' + d->month / 10); buf[6] = (char)('0' + d->month % 10); buf[7] = '-';
    buf[8] = (char)('0' + d->day / 10); buf[9] = (char)('0' + d->day % 10);
    lua_pushlstring(L, buf, 10);
    return;
  }
  snprintf(buf, sizeof buf, "%04d-%02d-%02d", (int)d->year, (int)d->month, (int)d->day);
  lua_pushstring(L, buf);
}

static void push_time(lua_State *L, const SQL_TIME_STRUCT *t) {
  char buf[32];
  snprintf(buf, sizeof buf, "%02d:%02d:%02d", (int)t->hour, (int)t->minute, (int)t->second);
  lua_pushstring(L, buf);
}

static void push_ts(lua_State *L, const SQL_TIMESTAMP_STRUCT *t) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", (int)t->year, (int)t->month,
                   (int)t->day, (int)t->hour, (int)t->minute, (int)t->second);
  if (t->fraction) {
    char f[16];
    snprintf(f, sizeof f, "%09lu", (unsigned long)t->fraction);
    int k = 9;
    while (k > 0 && f[k - 1] == '0') k--;
    f[k] = 0;
    snprintf(buf + n, sizeof buf - (size_t)n, ".%s", f);
  }
  lua_pushstring(L, buf);
}

/* Pushes a decimal text as a string (exact) or a number. Drivers print
 * ".5" for fractions; normalised to "0.5". */
static void push_dec(lua_State *L, Cursor *cur, const char *s, size_t n) {
  while (n > 0 && s[n - 1] == ' ') n--;
  int neg = n > 1 && s[0] == '-';
  if (n > (size_t)neg && s[neg] == '.') {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (neg) luaL_addchar(&b, '-');
    luaL_addchar(&b, '0');
    luaL_addlstring(&b, s + neg, n - (size_t)neg);
    luaL_pushresult(&b);
  } else lua_pushlstring(L, s, n);
  if (cur->dec_number) {
    lua_Number v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_pushnumber(L, v);
  }
}

/* Reads the rest of a long value with SQLGetData (on the positioned row or,
 * in getdata mode, the current row), appending to b. Returns 0 on error. */
static int getdata_rest(lua_State *L, Cursor *cur, int col, luaL_Buffer *b, SQLSMALLINT ctype) {
  char chunk[8192 + sizeof(SQLWCHAR)];
  size_t carry = 0; /* a high surrogate held back from the previous chunk */
  for (;;) {
    SQLLEN ind = 0;
    char *dst = chunk + carry;
    SQLLEN room = 8192;
    SQLRETURN r = SQLGetData(cur->stmt, (SQLUSMALLINT)(col + 1), ctype, dst, room, &ind);
    if (r == SQL_NO_DATA) {
      if (carry) utf16_to_8(b, (SQLWCHAR *)chunk, 1);
      return 1;
    }
    if (!SQL_SUCCEEDED(r)) return 0;
    if (ind == SQL_NULL_DATA) return 2;
    size_t term = ctype == SQL_C_CHAR ? 1 : ctype == SQL_C_WCHAR ? sizeof(SQLWCHAR) : 0;
    size_t got = (ind == SQL_NO_TOTAL || ind > room - (SQLLEN)term) ? (size_t)room - term : (size_t)ind;
    if (ctype == SQL_C_WCHAR) {
      got -= got % sizeof(SQLWCHAR);
      size_t units = (carry + got) / sizeof(SQLWCHAR);
      SQLWCHAR *w = (SQLWCHAR *)chunk;
      carry = 0;
      if (r != SQL_SUCCESS && units > 0 && w[units - 1] >= 0xD800 && w[units - 1] < 0xDC00) {
        units--;
        carry = sizeof(SQLWCHAR);
      }
      utf16_to_8(b, w, units);
      if (carry) memcpy(chunk, &w[units], sizeof(SQLWCHAR));
    } else luaL_addlstring(b, chunk, got);
    if (r == SQL_SUCCESS) return 1;
    (void)L;
  }
}

static void push_cell(lua_State *L, Cursor *cur, int i, SQLULEN row) {
  Col *col = &cur->cols[i];
  SQLLEN ind = col->ind[row];
  char *p = col->buf + (SQLLEN)row * col->width;
  if (ind == SQL_NULL_DATA) { mh_pushnull(L); return; }
  switch (col->ctype) {
  case SQL_C_SBIGINT: { long long v; memcpy(&v, p, 8); lua_pushinteger(L, (lua_Integer)v); return; }
  case SQL_C_DOUBLE: { double v; memcpy(&v, p, 8); lua_pushnumber(L, v); return; }
  case SQL_C_BIT: lua_pushboolean(L, *(unsigned char *)p != 0); return;
  case SQL_C_TYPE_DATE: push_date(L, (SQL_DATE_STRUCT *)p); return;
  case SQL_C_TYPE_TIME: push_time(L, (SQL_TIME_STRUCT *)p); return;
  case SQL_C_TYPE_TIMESTAMP: push_ts(L, (SQL_TIMESTAMP_STRUCT *)p); return;
  }
  if (col->kind == K_DEC) { push_dec(L, cur, p, ind < col->width ? (size_t)ind : strlen(p)); return; }
  size_t term = col->ctype == SQL_C_CHAR ? 1 : col->ctype == SQL_C_WCHAR ? sizeof(SQLWCHAR) : 0;
  int truncated = ind == SQL_NO_TOTAL || ind > col->width - (SQLLEN)term;
  size_t have = truncated ? (size_t)(col->width - (SQLLEN)term) : (size_t)ind;
  if (!truncated) {
    if (col->ctype == SQL_C_WCHAR) push_utf16(L, (SQLWCHAR *)p, have / sizeof(SQLWCHAR));
    else lua_pushlstring(L, p, have);
    if (col->sqltype == SQL_GUID) { /* drivers print GUIDs in upper case; RFC 4122 says lower */
      char g[64];
      size_t n;
      const char *t = lua_tolstring(L, -1, &n);
      if (n < sizeof g) {
        for (size_t j = 0; j < n; j++) g[j] = (char)(t[j] >= 'A' && t[j] <= 'F' ? t[j] + 32 : t[j]);
        lua_pop(L, 1);
        lua_pushlstring(L, g, n);
      }
    }
    return;
  }
  /* a long value did not fit: position on its row and read it whole
   * (SQLGetData starts at the value's first byte) */
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if ((cur->block > 1 &&
       !SQL_SUCCEEDED(SQLSetPos(cur->stmt, (SQLSETPOSIROW)(row + 1), SQL_POSITION, SQL_LOCK_NO_CHANGE))) ||
      !getdata_rest(L, cur, i, &b, col->ctype)) {
    luaL_pushresult(&b);
    push_diag(L, SQL_HANDLE_STMT, cur->stmt, NULL);
    luaL_error(L, "odbc: column \"%s\" holds a value longer than %d bytes and the driver cannot return "
                  "the rest (%s); pass a larger long_width", col->name, (int)col->width,
               lua_tostring(L, -2));
  }
  luaL_pushresult(&b);
}

/* getdata mode: every column of the current row through SQLGetData. */
static void push_cell_getdata(lua_State *L, Cursor *cur, int i) {
  Col *col = &cur->cols[i];
  union { long long i; double d; unsigned char b; SQL_DATE_STRUCT date; SQL_TIME_STRUCT time;
          SQL_TIMESTAMP_STRUCT ts; char s[128]; } v;
  SQLLEN ind = 0;
  if (col->kind == K_TEXT || col->kind == K_BIN) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int r = getdata_rest(L, cur, i, &b, col->ctype);
    if (r == 2) { luaL_pushresult(&b); lua_pop(L, 1); mh_pushnull(L); return; }
    if (!r) {
      luaL_pushresult(&b);
      fail(L, SQL_HANDLE_STMT, cur->stmt, NULL);
      luaL_error(L, "odbc: fetch column \"%s\": %s", col->name, lua_tostring(L, -2));
    }
    luaL_pushresult(&b);
    return;
  }
  SQLRETURN r = SQLGetData(cur->stmt, (SQLUSMALLINT)(i + 1), col->ctype, &v, sizeof v, &ind);
  if (!SQL_SUCCEEDED(r)) {
    fail(L, SQL_HANDLE_STMT, cur->stmt, NULL);
    luaL_error(L, "odbc: fetch column \"%s\": %s", col->name, lua_tostring(L, -2));
  }
  if (ind == SQL_NULL_DATA) { mh_pushnull(L); return; }
  switch (col->ctype) {
  case SQL_C_SBIGINT: lua_pushinteger(L, (lua_Integer)v.i); return;
  case SQL_C_DOUBLE: lua_pushnumber(L, v.d); return;
  case SQL_C_BIT: lua_pushboolean(L, v.b != 0); return;
  case SQL_C_TYPE_DATE: push_date(L, &v.date); return;
  case SQL_C_TYPE_TIME: push_time(L, &v.time); return;
  case SQL_C_TYPE_TIMESTAMP: push_ts(L, &v.ts); return;
  }
  v.s[sizeof v.s - 1] = 0;
  push_dec(L, cur, v.s, strlen(v.s));
}

/* Fetches the next block; returns 0 at the end. Raises on driver errors. */
static int cursor_fill(lua_State *L, Cursor *cur) {
  if (cur->done || !cur->stmt) return 0;
  mh_check_interrupt(L);
  cur->fetched = 0;
  cur->pos = 0;
  SQLRETURN r = SQLFetch(cur->stmt);
  if (r == SQL_NO_DATA) { cur->done = 1; return 0; }
  if (!SQL_SUCCEEDED(r)) {
    fail(L, SQL_HANDLE_STMT, cur->stmt, "fetch");
    cur->done = 1;
    AFTER_ERROR(cur->conn);
    luaL_error(L, "odbc: %s", lua_tostring(L, -2));
  }
  if (cur->getdata) cur->fetched = 1;
  return cur->fetched > 0;
}

static void push_row(lua_State *L, Cursor *cur, int named) {
  SQLULEN row = cur->pos++;
  if (named) lua_createtable(L, 0, cur->ncols);
  else lua_createtable(L, cur->ncols, 0);
  for (int i = 0; i < cur->ncols; i++) {
    if (cur->getdata) push_cell_getdata(L, cur, i);
    else push_cell(L, cur, i, row);
    if (named) lua_setfield(L, -2, cur->cols[i].name);
    else lua_rawseti(L, -2, i + 1);
  }
}

static int has_row(lua_State *L, Cursor *cur) {
  while (cur->pos >= cur->fetched) {
    if (!cursor_fill(L, cur)) return 0;
  }
  /* skip rows the driver flagged as errors/absent in the block */
  return 1;
}

static Cursor *check_cursor(lua_State *L) {
  return (Cursor *)luaL_checkudata(L, 1, CUR_MT);
}

static int named_arg(lua_State *L, Cursor *cur, int idx) {
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "named");
    int v = lua_isnil(L, -1) ? cur->named : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
  }
  return cur->named;
}

/* cur:fetch([{named=}]) -> row | nil at the end. Also the generic-for
 * iterator: `for row in cur.fetch, cur do`. */
static int cursor_fetch(lua_State *L) {
  Cursor *cur = check_cursor(L);
  int named = named_arg(L, cur, 2);
  if (!has_row(L, cur)) { cursor_free(cur); lua_pushnil(L); return 1; }
  push_row(L, cur, named);
  return 1;
}

/* cur:fetch_many(n [, {named=}]) -> array of up to n rows (empty at the end) */
static int cursor_fetch_many(lua_State *L) {
  Cursor *cur = check_cursor(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  if (n < 1) luaL_argerror(L, 2, "n must be >= 1");
  int named = named_arg(L, cur, 3);
  lua_createtable(L, (int)(n < 4096 ? n : 4096), 0);
  lua_Integer k = 0;
  while (k < n && has_row(L, cur)) {
    push_row(L, cur, named);
    lua_rawseti(L, -2, ++k);
  }
  if (k < n) cursor_free(cur);
  return 1;
}

static const char *type_name(SQLSMALLINT t) {
  switch (t) {
  case SQL_CHAR: return "char"; case SQL_VARCHAR: return "varchar";
  case SQL_LONGVARCHAR: return "longvarchar"; case SQL_WCHAR: return "wchar";
  case SQL_WVARCHAR: return "wvarchar"; case SQL_WLONGVARCHAR: return "wlongvarchar";
  case SQL_TINYINT: return "tinyint"; case SQL_SMALLINT: return "smallint";
  case SQL_INTEGER: return "integer"; case SQL_BIGINT: return "bigint";
  case SQL_BIT: return "bit"; case SQL_REAL: return "real"; case SQL_FLOAT: return "float";
  case SQL_DOUBLE: return "double"; case SQL_DECIMAL: return "decimal";
  case SQL_NUMERIC: return "numeric"; case SQL_BINARY: return "binary";
  case SQL_VARBINARY: return "varbinary"; case SQL_LONGVARBINARY: return "longvarbinary";
  case SQL_TYPE_DATE: case SQL_DATE: return "date";
  case SQL_TYPE_TIME: case SQL_TIME: return "time";
  case SQL_TYPE_TIMESTAMP: case SQL_TIMESTAMP: return "timestamp";
  case SQL_GUID: return "guid";
  default: return "other";
  }
}

/* cur:columns() -> {{name=, type=, sql_type=, size=, digits=, nullable=}...} */
static int cursor_columns(lua_State *L) {
  Cursor *cur = check_cursor(L);
  if (!cur->cols) luaL_argerror(L, 1, "cursor is closed");
  lua_createtable(L, cur->ncols, 0);
  for (int i = 0; i < cur->ncols; i++) {
    Col *col = &cur->cols[i];
    lua_createtable(L, 0, 6);
    lua_pushstring(L, col->name); lua_setfield(L, -2, "name");
    lua_pushstring(L, type_name(col->sqltype)); lua_setfield(L, -2, "type");
    lua_pushinteger(L, col->sqltype); lua_setfield(L, -2, "sql_type");
    lua_pushinteger(L, (lua_Integer)col->size); lua_setfield(L, -2, "size");
    lua_pushinteger(L, col->digits); lua_setfield(L, -2, "digits");
    if (col->nullable == SQL_NULLABLE_UNKNOWN) lua_pushnil(L);
    else lua_pushboolean(L, col->nullable == SQL_NULLABLE);
    lua_setfield(L, -2, "nullable");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* cur:block_size() -> rows fetched per driver call (0 in getdata mode) */
static int cursor_block(lua_State *L) {
  Cursor *cur = check_cursor(L);
  lua_pushinteger(L, cur->getdata ? 0 : (lua_Integer)cur->block);
  return 1;
}

/* ---------- array execution (bulk writes) ---------- */

/* Pushes every row of the current result set's first column, appending to
 * the table at index t. */
static int collect_results(lua_State *L, SQLHSTMT st, int t, lua_Integer *count, int wide) {
  for (;;) {
    SQLSMALLINT nc = 0;
    SQLNumResultCols(st, &nc);
    if (nc > 0) {
      SQLRETURN r;
      while ((r = SQLFetch(st)) != SQL_NO_DATA) {
        if (!SQL_SUCCEEDED(r)) return 0;
        char buf[256];
        SQLLEN ind = 0;
        long long v;
        if (SQL_SUCCEEDED(SQLGetData(st, 1, SQL_C_SBIGINT, &v, sizeof v, &ind))) {
          if (ind == SQL_NULL_DATA) mh_pushnull(L);
          else lua_pushinteger(L, (lua_Integer)v);
        } else if (SQL_SUCCEEDED(SQLGetData(st, 1, wide ? SQL_C_WCHAR : SQL_C_CHAR, buf, sizeof buf, &ind))) {
          if (ind == SQL_NULL_DATA) mh_pushnull(L);
          else if (wide) push_utf16(L, (SQLWCHAR *)buf, strlen((char *)buf) ? (size_t)ind / 2 : 0);
          else lua_pushstring(L, buf);
        } else return 0;
        lua_rawseti(L, t, ++*count);
      }
    }
    SQLRETURN r = SQLMoreResults(st);
    if (r == SQL_NO_DATA) return 1;
    if (!SQL_SUCCEEDED(r)) return 0;
  }
}

/* conn:execute_array(sql, rows, first, count, ncols, rows_per_set [, returning [, direct]])
 *   -> affected, ids | nil, msg, state, failed_sets
 * Executes `sql`, which has rows_per_set*ncols markers (a multi-row VALUES
 * when rows_per_set > 1), over rows[first .. first+count-1] as count /
 * rows_per_set parameter sets (SQL_ATTR_PARAMSET_SIZE, column-wise bound).
 * The prepared statement is kept for the next call with the same text
 * (unless `direct`: then each call is one SQLExecDirect, which psqlODBC
 * sends without the describe round trip that SQLPrepare costs).
 * failed_sets lists 1-based set numbers the driver marked as failed (empty
 * when the driver does not fill the status array). ids holds the first
 * column of any result sets (RETURNING / OUTPUT), in order. */
static int conn_execute_array(lua_State *L) {
  Conn *c = check_conn(L, 1);
  size_t sqllen;
  const char *sql = luaL_checklstring(L, 2, &sqllen);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_Integer first = luaL_checkinteger(L, 4), count = luaL_checkinteger(L, 5);
  lua_Integer ncols = luaL_checkinteger(L, 6), k = luaL_checkinteger(L, 7);
  int returning = lua_toboolean(L, 8);
  int direct = lua_toboolean(L, 9); /* SQLExecDirect: no separate prepare round trip */
  if (count < 1 || ncols < 1 || k < 1 || count % k)
    return luaL_argerror(L, 5, "count must be a positive multiple of rows_per_set");
  lua_Integer m = count / k, np = k * ncols;
  if (np > 65535) return luaL_argerror(L, 7, "too many parameters in one statement");

  /* pass 1: check the shape, choose a kind and a width per column */
  int *kinds = (int *)scratch(L, sizeof(int) * (size_t)ncols);
  SQLLEN *maxlen = (SQLLEN *)scratch(L, sizeof(SQLLEN) * (size_t)ncols);
  for (lua_Integer r = 0; r < count; r++) {
    if (lua_rawgeti(L, 3, first + r) != LUA_TTABLE)
      return luaL_error(L, "row %d is a %s, not an array", (int)(first + r), luaL_typename(L, -1));
    for (lua_Integer j = 0; j < ncols; j++) {
      lua_rawgeti(L, -1, j + 1);
      int kd = value_kind(L, -1);
      if (kd < 0)
        return luaL_error(L, "row %d column %d: cannot bind a %s", (int)(first + r), (int)(j + 1),
                          luaL_typename(L, -1));
      kinds[j] = merge_kind(kinds[j], kd);
      if (kd == P_TEXT || kd == P_INT || kd == P_DOUBLE) {
        SQLLEN tl = text_len(L, -1);
        if (tl > maxlen[j]) maxlen[j] = tl;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }

  /* one scratch block holds every parameter's elements and indicators */
  Param *ps = (Param *)scratch(L, sizeof(Param) * (size_t)np);
  size_t total = 0;
  for (lua_Integer p = 0; p < np; p++) {
    int j = (int)(p % ncols);
    param_types(&ps[p], kinds[j], c->wide, maxlen[j]);
    if (ps[p].ctype == SQL_C_WCHAR) ps[p].width = (maxlen[j] + 1) * (SQLLEN)sizeof(SQLWCHAR);
    ps[p].width = (ps[p].width + 7) & ~(SQLLEN)7;
    total += (size_t)(ps[p].width * m) + sizeof(SQLLEN) * (size_t)m;
  }
  char *mem = (char *)lua_newuserdatauv(L, total ? total : 1, 0);
  for (lua_Integer p = 0; p < np; p++) {
    ps[p].buf = mem; mem += ps[p].width * m;
    ps[p].ind = (SQLLEN *)mem; mem += sizeof(SQLLEN) * (size_t)m;
  }
  for (lua_Integer r = 0; r < count; r++) {
    lua_rawgeti(L, 3, first + r);
    lua_Integer set = r / k, base = (r % k) * ncols;
    for (lua_Integer j = 0; j < ncols; j++) {
      lua_rawgeti(L, -1, j + 1);
      param_store(L, &ps[base + j], set, lua_gettop(L));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if ((r & 0xFFFF) == 0) mh_check_interrupt(L);
  }

  /* statement: prepared once per SQL text */
  if (direct) {
    if (!c->bulk) {
      c->bulk = new_stmt(c);
      if (!c->bulk) return fail(L, SQL_HANDLE_DBC, c->dbc, "statement");
    }
    free(c->bulk_sql);
    c->bulk_sql = NULL;
  } else if (!c->bulk || !c->bulk_sql || strcmp(c->bulk_sql, sql) != 0) {
    bulk_free(c);
    c->bulk = new_stmt(c);
    if (!c->bulk) return fail(L, SQL_HANDLE_DBC, c->dbc, "prepare");
    if (!SQL_SUCCEEDED(SQLPrepare(c->bulk, (SQLCHAR *)sql, (SQLINTEGER)sqllen))) {
      fail(L, SQL_HANDLE_STMT, c->bulk, "prepare");
      bulk_free(c);
      return 3;
    }
    c->bulk_sql = strdup(sql);
  }
  SQLHSTMT st = c->bulk;
  SQLFreeStmt(st, SQL_CLOSE);
  SQLFreeStmt(st, SQL_RESET_PARAMS);
  SQLUSMALLINT *status = (SQLUSMALLINT *)scratch(L, sizeof(SQLUSMALLINT) * (size_t)m);
  for (lua_Integer i = 0; i < m; i++) status[i] = 0xBEEF; /* detects an unfilled array */
  SQLULEN processed = 0;
  for (lua_Integer p = 0; p < np; p++) {
    if (!bind_param(L, st, (SQLUSMALLINT)(p + 1), &ps[p])) {
      fail(L, SQL_HANDLE_STMT, st, "bind");
      SQLFreeStmt(st, SQL_RESET_PARAMS);
      return 3;
    }
  }
  SQLSetStmtAttr(st, SQL_ATTR_PARAM_BIND_TYPE, (SQLPOINTER)SQL_PARAM_BIND_BY_COLUMN, 0);
  SQLSetStmtAttr(st, SQL_ATTR_PARAMSET_SIZE, (SQLPOINTER)(uintptr_t)m, 0);
  SQLSetStmtAttr(st, SQL_ATTR_PARAM_STATUS_PTR, status, 0);
  SQLSetStmtAttr(st, SQL_ATTR_PARAMS_PROCESSED_PTR, &processed, 0);
  SQLRETURN r = direct ? SQLExecDirect(st, (SQLCHAR *)sql, (SQLINTEGER)sqllen) : SQLExecute(st);
  int okay = SQL_SUCCEEDED(r) || r == SQL_NO_DATA;
  SQLLEN affected = 0;
  lua_createtable(L, returning ? (int)count : 0, 0);
  int ids = lua_gettop(L);
  if (okay) {
    if (r != SQL_NO_DATA) SQLRowCount(st, &affected);
    lua_Integer n = 0;
    if (returning) okay = collect_results(L, st, ids, &n, c->wide);
    else while (SQL_SUCCEEDED(SQLMoreResults(st))) {}
  }
  if (!okay) {
    lua_pushnil(L);
    push_diag(L, SQL_HANDLE_STMT, st, NULL);
    lua_createtable(L, 0, 0);
    for (lua_Integer i = 0, f = 0; i < m; i++)
      if (status[i] == SQL_PARAM_ERROR) { lua_pushinteger(L, i + 1); lua_rawseti(L, -2, ++f); }
  }
  /* drivers differ on what survives: always leave the statement reusable
   * (the SQLite driver needs PARAMSET_SIZE back at 1) */
  SQLFreeStmt(st, SQL_CLOSE);
  SQLSetStmtAttr(st, SQL_ATTR_PARAMSET_SIZE, (SQLPOINTER)1, 0);
  SQLSetStmtAttr(st, SQL_ATTR_PARAM_STATUS_PTR, NULL, 0);
  SQLSetStmtAttr(st, SQL_ATTR_PARAMS_PROCESSED_PTR, NULL, 0);
  SQLFreeStmt(st, SQL_RESET_PARAMS);
  if (!okay) { AFTER_ERROR(c); return 4; }
  lua_pushinteger(L, affected);
  lua_pushvalue(L, ids);
  return 2;
}

/* ---------- PostgreSQL array literals (bulk insert through unnest) ---------- */

/* Appends the array element for the value on top of the stack and pops it
 * (first: a buffer's stack use must be balanced between its operations;
 * the row table keeps a string alive). NULL is unquoted, strings quoted with
 * " and \ escaped, numbers in their shortest exact form, booleans 1/0
 * (accepted by boolean and integer input alike). Returns 0, leaving the
 * value on the stack, for a value that cannot be bound. */
static int add_array_elem(luaL_Buffer *b, lua_State *L) {
  char num[64];
  size_t n = 0;
  const char *s = num;
  int quote = 0;
  switch (lua_type(L, -1)) {
  case LUA_TNIL: s = "NULL"; n = 4; break;
  case LUA_TLIGHTUSERDATA:
    if (!mh_isnull(L, -1)) return 0;
    s = "NULL"; n = 4;
    break;
  case LUA_TBOOLEAN: s = lua_toboolean(L, -1) ? "1" : "0"; n = 1; break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, -1)) n = (size_t)snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -1));
    else {
      double v = (double)lua_tonumber(L, -1);
      n = (size_t)snprintf(num, sizeof num, "%.15g", v);
      if (strtod(num, NULL) != v) n = (size_t)snprintf(num, sizeof num, "%.17g", v);
    }
    break;
  case LUA_TSTRING: s = lua_tolstring(L, -1, &n); quote = 1; break;
  default: return 0;
  }
  lua_pop(L, 1);
  if (!quote) { luaL_addlstring(b, s, n); return 1; }
  char *d = luaL_prepbuffsize(b, 2 * n + 2), *d0 = d; /* worst case: all escaped */
  *d++ = '"';
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '"' || ch == '\\') *d++ = '\\';
    *d++ = ch;
  }
  *d++ = '"';
  luaL_addsize(b, (size_t)(d - d0));
  return 1;
}

/* odbc._pg_arrays(rows, first, count, ncols) -> {literal1, ..., literalN}
 * One PostgreSQL array literal ("{...}") per column over
 * rows[first .. first+count-1], for INSERT ... SELECT FROM unnest($1::t[], ...):
 * ncols parameters carry any number of rows, and the server's array input
 * is nearly as cheap as COPY's. Raises on a value that cannot be bound. */
static int l_pg_arrays(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer first = luaL_checkinteger(L, 2), count = luaL_checkinteger(L, 3);
  lua_Integer ncols = luaL_checkinteger(L, 4);
  if (count < 1 || ncols < 1 || ncols > 1600) return luaL_argerror(L, 3, "count and ncols must be positive");
  lua_createtable(L, (int)ncols, 0);
  int out = lua_gettop(L);
  for (lua_Integer j = 1; j <= ncols; j++) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    for (lua_Integer r = 0; r < count; r++) {
      if (r) luaL_addchar(&b, ',');
      /* balanced stack use between buffer operations: row and value are
       * popped before the value is appended (the row table keeps it alive) */
      if (lua_rawgeti(L, 1, first + r) != LUA_TTABLE) {
        return luaL_error(L, "row %d is a %s, not an array", (int)(first + r), luaL_typename(L, -1));
      }
      lua_rawgeti(L, -1, j);
      lua_replace(L, -2);
      if (!add_array_elem(&b, L))
        return luaL_error(L, "row %d column %d: cannot bind a %s", (int)(first + r), (int)j,
                          luaL_typename(L, -1));
    }
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
    lua_rawseti(L, out, j);
    mh_check_interrupt(L);
  }
  return 1;
}

static const luaL_Reg conn_methods[] = {
  {"close", conn_close}, {"__close", conn_close}, {"exec", conn_exec}, {"_query", conn_query},
  {"_state", conn_state}, {"_set_wide", conn_set_wide}, {"_set_getdata_block", conn_set_gd_block},
  {"_set_reset_sql", conn_set_reset}, {"is_open", conn_is_open},
  {"_autocommit", conn_autocommit}, {"_endtran", conn_endtran},
  {"execute_array", conn_execute_array}, {NULL, NULL}};

static const luaL_Reg cursor_methods[] = {
  {"close", cursor_close}, {"__close", cursor_close}, {"fetch", cursor_fetch},
  {"fetch_many", cursor_fetch_many}, {"columns", cursor_columns}, {"block_size", cursor_block},
  {NULL, NULL}};

static const luaL_Reg funcs[] = {{"_connect", l_connect}, {"_pg_arrays", l_pg_arrays}, {NULL, NULL}};

int luaopen_monhost_odbc(lua_State *L) {
  mh_newclass(L, CONN_MT, conn_methods);
  mh_newclass(L, CUR_MT, cursor_methods);
  luaL_newlib(L, funcs);
  mh_pushnull(L);
  lua_setfield(L, -2, "null");
  luaL_getmetatable(L, CONN_MT);
  lua_setfield(L, -2, "_conn_mt");
  luaL_getmetatable(L, CUR_MT);
  lua_setfield(L, -2, "_cursor_mt");
  /* the policy half: scripts/monhost/odbc_sql.lua adds connect and the
   * remaining methods to this table and the metatables */
  lua_getglobal(L, "require");
  lua_pushstring(L, "monhost.odbc_sql");
  lua_call(L, 1, 1);
  lua_pushvalue(L, -2);
  lua_call(L, 1, 0);
  return 1;
}
