/* sqlite_fetch_ceiling.c: the ODBC driver's own fetch ceiling for the
 * mapping benchmark (bench/mapping.bench.lua, docs/performance-mapping.md):
 * the benchmark's SELECT through the driver with no Lua at all, every column
 * bound as SQL_C_CHAR in buffers wide enough for every value, block cursor.
 * No transform either: whatever monhost does can only be slower than this.
 * Built and run by the benchmark when a C compiler is present:
 *   cc -O2 -o ceil bench/sqlite_fetch_ceiling.c -lodbc
 *   ceil CONNSTR SQL_FILE   -> prints "rows cpu_seconds" */
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BLOCK 64
#define WIDTH 2048

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s CONNSTR SQL_FILE\n", argv[0]); return 2; }
  FILE *f = fopen(argv[2], "rb");
  if (!f) { perror(argv[2]); return 2; }
  static char sql[1 << 20];
  size_t n = fread(sql, 1, sizeof sql - 1, f);
  fclose(f);
  sql[n] = 0;
  SQLHENV env; SQLHDBC dbc; SQLHSTMT st;
  SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env);
  SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
  SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc);
  if (!SQL_SUCCEEDED(SQLDriverConnect(dbc, NULL, (SQLCHAR *)argv[1], SQL_NTS, NULL, 0, NULL, SQL_DRIVER_NOPROMPT))) {
    fputs("connect failed\n", stderr);
    return 1;
  }
  SQLAllocHandle(SQL_HANDLE_STMT, dbc, &st);
  clock_t c0 = clock();
  if (!SQL_SUCCEEDED(SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS))) { fputs("exec failed\n", stderr); return 1; }
  SQLSMALLINT ncols = 0;
  SQLNumResultCols(st, &ncols);
  SQLSetStmtAttr(st, SQL_ATTR_ROW_BIND_TYPE, (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
  SQLSetStmtAttr(st, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)(SQLULEN)BLOCK, 0);
  SQLULEN fetched = 0;
  SQLSetStmtAttr(st, SQL_ATTR_ROWS_FETCHED_PTR, &fetched, 0);
  for (SQLSMALLINT i = 1; i <= ncols; i++) {
    char *buf = malloc((size_t)WIDTH * BLOCK);
    SQLLEN *ind = malloc(sizeof(SQLLEN) * BLOCK);
    if (!buf || !ind) return 1;
    SQLBindCol(st, (SQLUSMALLINT)i, SQL_C_CHAR, buf, WIDTH, ind);
  }
  long rows = 0;
  SQLRETURN r;
  while ((r = SQLFetch(st)) != SQL_NO_DATA) {
    if (!SQL_SUCCEEDED(r)) { fputs("fetch failed\n", stderr); return 1; }
    rows += (long)fetched;
  }
  printf("%ld %.6f\n", rows, (double)(clock() - c0) / CLOCKS_PER_SEC);
  return 0; /* handles go with the process */
}
