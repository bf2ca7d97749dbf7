/* odbc_fetch_ceiling.c: the driver's own ceiling for the fetch benchmark
 * (docs/performance-odbc.md): SQLFetch over SELECT * FROM big (the table
 * bench/odbc.bench.lua creates) with column-wise bound buffers and no Lua.
 * Not part of the build: cc -O2 -o /tmp/ceil bench/odbc_fetch_ceiling.c -lodbc
 * usage: ceil CONNSTR ROW_ARRAY_SIZE MODE (0: typed as monhost binds,
 * 1: every column SQL_C_CHAR) */
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  if(argc<4){fprintf(stderr,"usage: %s CONNSTR ROW_ARRAY_SIZE MODE\n",argv[0]);return 2;}
  const char*cs=argv[1]; int block=atoi(argv[2]); int mode=atoi(argv[3]); /* mode 0: typed+wide text, 1: all SQL_C_CHAR */
  SQLHENV env;SQLHDBC dbc;SQLHSTMT st;
  SQLAllocHandle(SQL_HANDLE_ENV,0,&env);SQLSetEnvAttr(env,SQL_ATTR_ODBC_VERSION,(void*)SQL_OV_ODBC3,0);
  SQLAllocHandle(SQL_HANDLE_DBC,env,&dbc);
  if(!SQL_SUCCEEDED(SQLDriverConnect(dbc,0,(SQLCHAR*)cs,SQL_NTS,0,0,0,SQL_DRIVER_NOPROMPT))){puts("connect failed");return 1;}
  SQLAllocHandle(SQL_HANDLE_STMT,dbc,&st);
  double t=now();
  if(!SQL_SUCCEEDED(SQLExecDirect(st,(SQLCHAR*)"SELECT * FROM big",SQL_NTS))){puts("exec failed");return 1;}
  SQLSetStmtAttr(st,SQL_ATTR_ROW_BIND_TYPE,(void*)SQL_BIND_BY_COLUMN,0);
  SQLSetStmtAttr(st,SQL_ATTR_ROW_ARRAY_SIZE,(void*)(long)block,0);
  SQLULEN fetched=0; SQLSetStmtAttr(st,SQL_ATTR_ROWS_FETCHED_PTR,&fetched,0);
  short ct[5]; long w[5];
  if(mode==0){short c[5]={SQL_C_SBIGINT,SQL_C_WCHAR,SQL_C_CHAR,SQL_C_TYPE_DATE,SQL_C_SBIGINT};long ww[5]={8,200,32,6,8};memcpy(ct,c,sizeof c);memcpy(w,ww,sizeof ww);}
  else {short c[5]={SQL_C_CHAR,SQL_C_CHAR,SQL_C_CHAR,SQL_C_CHAR,SQL_C_CHAR};long ww[5]={24,100,32,16,24};memcpy(ct,c,sizeof c);memcpy(w,ww,sizeof ww);}
  for(int i=0;i<5;i++){char*b=malloc(w[i]*block);SQLLEN*ind=malloc(sizeof(SQLLEN)*block);SQLBindCol(st,i+1,ct[i],b,w[i],ind);}
  long n=0; SQLRETURN r;
  while((r=SQLFetch(st))!=SQL_NO_DATA){ if(!SQL_SUCCEEDED(r)){puts("fetch failed");return 1;} n+=fetched; }
  double dt=now()-t;
  printf("mode %d block %d: %ld rows, %.0f rows/s, cpu %.2fs\n",mode,block,n,n/dt,(double)clock()/CLOCKS_PER_SEC);
  return 0;
}
