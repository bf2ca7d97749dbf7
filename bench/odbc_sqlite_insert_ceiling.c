/* odbc_sqlite_insert_ceiling.c: the SQLite ODBC driver's own ceiling for the
 * insert benchmark (docs/performance-odbc.md): the bench's 12-column rows
 * generated in C, a K-row INSERT ... VALUES prepared once with every
 * parameter bound once, re-executed in one transaction; no Lua at all.
 * Not part of the build:
 *   cc -O2 -o /tmp/slceil bench/odbc_sqlite_insert_ceiling.c -lodbc
 *   /tmp/slceil "Driver=SQLite3;Database=/tmp/x.db;StepAPI=1" 100 200000 [typed]
 * (a fresh database file; "typed" binds integers and doubles natively,
 * otherwise every value is SQL_C_CHAR) */
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
#define NC 12
int main(int argc,char**argv){
  if(argc<4)return 2;
  const char*cs=argv[1]; int K=atoi(argv[2]); int N=atoi(argv[3]); int typed=argc>4;
  SQLHENV env;SQLHDBC dbc;SQLHSTMT st;
  SQLAllocHandle(SQL_HANDLE_ENV,0,&env);SQLSetEnvAttr(env,SQL_ATTR_ODBC_VERSION,(void*)SQL_OV_ODBC3,0);
  SQLAllocHandle(SQL_HANDLE_DBC,env,&dbc);
  if(!SQL_SUCCEEDED(SQLDriverConnect(dbc,0,(SQLCHAR*)cs,SQL_NTS,0,0,0,SQL_DRIVER_NOPROMPT))){puts("connect failed");return 1;}
  SQLAllocHandle(SQL_HANDLE_STMT,dbc,&st);
  SQLExecDirect(st,(SQLCHAR*)"CREATE TABLE stg (stg_id INTEGER PRIMARY KEY, order_no VARCHAR(40), customer TEXT, style TEXT, color TEXT, order_date DATE, qty INTEGER, price NUMERIC(12,2), season TEXT, facility TEXT, note TEXT, item_id BIGINT, weight DOUBLE PRECISION)",SQL_NTS);
  SQLFreeStmt(st,SQL_CLOSE);
  size_t cap=100+K*30; char*sql=malloc(cap); strcpy(sql,"INSERT INTO stg (order_no,customer,style,color,order_date,qty,price,season,facility,note,item_id,weight) VALUES ");
  for(int r=0;r<K;r++){strcat(sql,r?",(":"(");for(int j=0;j<NC;j++)strcat(sql,j?",?":"?");strcat(sql,")");}
  SQLSetConnectAttr(dbc,SQL_ATTR_AUTOCOMMIT,(void*)SQL_AUTOCOMMIT_OFF,0);
  if(!SQL_SUCCEEDED(SQLPrepare(st,(SQLCHAR*)sql,SQL_NTS))){puts("prepare failed");return 1;}
  char (*buf)[NC][64]=calloc(K,sizeof *buf); SQLLEN (*ind)[NC]=calloc(K,sizeof *ind);
  long long (*iv)[NC]=calloc(K,sizeof *iv); double (*dv)[NC]=calloc(K,sizeof *dv);
  double t=now();
  for(int base=0;base<N;base+=K){
    for(int r=0;r<K;r++){int i=base+r+1;
      snprintf(buf[r][0],64,"AAG-%d",i);snprintf(buf[r][1],64,"Customer %d",i%97);snprintf(buf[r][2],64,"ST%d",i%5000);
      strcpy(buf[r][3],i%3==0?"Gr\xc3\xb6\xc3\x9f" "e rot":"navy");snprintf(buf[r][4],64,"2024-%02d-%02d",1+i%12,1+i%28);
      iv[r][5]=i%1000;snprintf(buf[r][6],64,"%d.%02d",i%500,i%100);strcpy(buf[r][7],"SS25");snprintf(buf[r][8],64,"F%d",i%7);
      snprintf(buf[r][9],64,"note %d",i);iv[r][10]=1000000000LL+i;dv[r][11]=(i%100)/4.0;
      for(int j=0;j<NC;j++){ind[r][j]=SQL_NTS; if(j==8&&i%7==0)ind[r][j]=SQL_NULL_DATA;}
    }
    if(base==0){
      for(int r=0;r<K;r++)for(int j=0;j<NC;j++){int p=r*NC+j+1;
        if(typed&&(j==5||j==10))SQLBindParameter(st,p,SQL_PARAM_INPUT,SQL_C_SBIGINT,SQL_BIGINT,19,0,&iv[r][j],8,&ind[r][j]);
        else if(typed&&j==11)SQLBindParameter(st,p,SQL_PARAM_INPUT,SQL_C_DOUBLE,SQL_DOUBLE,15,0,&dv[r][j],8,&ind[r][j]);
        else{ if(j==5)snprintf(buf[r][j],64,"%lld",iv[r][j]); SQLBindParameter(st,p,SQL_PARAM_INPUT,SQL_C_CHAR,SQL_VARCHAR,63,0,buf[r][j],64,&ind[r][j]);}
      }
    }
    if(!typed)for(int r=0;r<K;r++){snprintf(buf[r][5],64,"%lld",iv[r][5]);snprintf(buf[r][10],64,"%lld",iv[r][10]);snprintf(buf[r][11],64,"%.15g",dv[r][11]);}
    SQLRETURN rc=SQLExecute(st); if(!SQL_SUCCEEDED(rc)){puts("exec failed");return 1;}
    SQLFreeStmt(st,SQL_CLOSE);
  }
  SQLEndTran(SQL_HANDLE_DBC,dbc,SQL_COMMIT);
  printf("K=%d %s: %.0f rows/s\n",K,typed?"typed":"char",N/(now()-t));
  return 0;
}
