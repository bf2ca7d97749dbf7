/* colvals.h: the canonical JSON text shared by monhost.colvals (which writes
 * column_values) and monhost.hash (which hashes them). Both must escape
 * strings and print numbers byte-for-byte the same way, or a hash of a
 * formatted value would differ from a hash of the same value as a table. */
#ifndef MONHOST_COLVALS_H
#define MONHOST_COLVALS_H

#include <stddef.h>
#include <lua.h>
#include <lauxlib.h>

/* A growable byte buffer owned by a userdata box on the Lua stack, so a Lua
 * error in the middle of formatting frees it through __gc. (luaL_Buffer
 * cannot be used here: it needs its box on top of the stack, and we push
 * values while writing.) */
typedef struct {
  char *p;
  size_t n, cap;
} MhBuf;

MhBuf *mh_buf_new(lua_State *L);                       /* pushes the box */
void mh_buf_add(lua_State *L, MhBuf *b, const char *s, size_t n);
void mh_buf_addc(lua_State *L, MhBuf *b, char c);
void mh_buf_free(MhBuf *b);                             /* early release */
void mh_buf_reserve(lua_State *L, MhBuf *b, size_t need); /* room for need more bytes */

/* The next n bytes of b, for the caller to write (hot paths: the room check
 * is inline). */
static inline char *mh_buf_room(lua_State *L, MhBuf *b, size_t n) {
  if (b->n + n > b->cap) mh_buf_reserve(L, b, n);
  char *at = b->p + b->n;
  b->n += n;
  return at;
}

/* Append s as a JSON string literal (quotes included). Control characters
 * are escaped, invalid UTF-8 bytes become U+FFFD, everything else is kept
 * as is (no \u escapes for non-ASCII, no escaped '/'). */
void mh_json_string(lua_State *L, MhBuf *b, const char *s, size_t n);

/* Print a Lua number as JSON into out: integers in decimal, floats in the
 * shortest form that reads back to the same double, integral floats below
 * 2^53 as integers. Returns the length, or -1 for inf/nan. */
int mh_json_number(lua_State *L, int idx, char *out, size_t outsz);

/* Append the canonical JSON of the value at idx: object keys sorted
 * bytewise, a non-empty table with keys 1..n is an array, no whitespace,
 * the NULL sentinel is null. Raises on functions, other userdata and
 * nesting deeper than 32. */
void mh_json_canon(lua_State *L, int idx, MhBuf *b, int depth);

/* Column types, for callers that format values one by one (monhost.transform):
 * the type code of a monday type name (-1 if monhost cannot write it), and
 * the per-type formatter behind colvals.new():format. mh_colvals_format
 * writes the JSON of the value at idx to b (if b) and pushes its Lua form
 * (if want); returns 1, 0 for empty (nothing written or pushed), or -1
 * with *err (which may point into errbuf) for an invalid value.
 * mh_colvals_clear writes monday's clear value ("" or null) and pushes its
 * Lua form if want. */
int mh_colvals_type(const char *name);
int mh_colvals_format(lua_State *L, int idx, int type, MhBuf *b, int want, const char **err,
                      char *errbuf, size_t errsz);
void mh_colvals_clear(lua_State *L, int type, MhBuf *b, int want);

/* Push the XXH3-128 of data as 32 lowercase hex digits in canonical
 * (big-endian) byte order: what monhost.hash returns. */
void mh_hash_pushhex(lua_State *L, const void *data, size_t n);

#endif
