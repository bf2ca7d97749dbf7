# bench/changes_baseline.bench.py: the legacy way to find changed orders,
# for bench/changes.bench.lua: fetch the mapped columns with pyodbc, hash
# each row with hashlib.md5 over json.dumps, compare with stored hashes.
# usage: /usr/bin/python3 bench/changes_baseline.bench.py CONNSTR COLUMNS_FILE
# prints: rows cpu_seconds changed hash_cpu_seconds
# (hash_seconds: the CPU time of the hashing + comparing alone, per fetched block)
import hashlib, json, sys, time
import pyodbc

connstr, colfile = sys.argv[1], sys.argv[2]
cols = [l.rstrip("\n") for l in open(colfile, encoding="utf-8") if l.strip()]
cn = pyodbc.connect(connstr)
cur = cn.cursor()
sql = "SELECT " + ", ".join('"%s"' % c.replace('"', '""') for c in cols) + " FROM ORDERS_UNIFIED"
stored = {}
t0 = time.process_time()
cur.execute(sql)
n = changed = 0
th = 0.0
while True:
    rows = cur.fetchmany(500)
    if not rows:
        break
    t1 = time.process_time()
    for r in rows:
        h = hashlib.md5(json.dumps(dict(zip(cols, r)), sort_keys=True, default=str).encode()).hexdigest()
        k = (r[0], r[1], r[2])
        if stored.get(k) != h:
            changed += 1
        n += 1
    th += time.process_time() - t1
print(n, time.process_time() - t0, changed, th)
