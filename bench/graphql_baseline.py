"""Baseline for bench/graphql.bench.lua: a Python `requests` client sending
the same aliased create_item batches as monhost (typed variables, JSON
column values), parsing each reply and mapping results back to ops.
Prints its own CPU seconds (process_time) and the op count as JSON.
The ops (names and column-value dicts) are made before the clock starts,
as monhost's bench makes its op list before measuring: both sides time
building, sending and parsing only."""
import json
import sys
import time

import requests

url, n, per_req, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
board = int(sys.argv[5])
single = len(sys.argv) > 6 and sys.argv[6] == "single"

s = requests.Session()
s.headers.update({"Authorization": "test-token", "API-Version": "2026-10", "Content-Type": "application/json"})
ops = [("Order %d" % i, {c: "value %d %s" % (i, c) for c in cols}) for i in range(n)]
cpu0 = time.process_time()
ok = 0
requests_sent = 0
for start in range(0, n, per_req):
    chunk = ops[start:start + per_req]
    defs, parts, variables = [], [], {}
    for k, (name, cv) in enumerate(chunk, 1):
        defs += ["$board_id_%d:ID!" % k, "$column_values_%d:JSON" % k, "$item_name_%d:String!" % k]
        parts.append("op%d:create_item(board_id:$board_id_%d,column_values:$column_values_%d,item_name:$item_name_%d){id}" % (k, k, k, k))
        variables["board_id_%d" % k] = board
        variables["column_values_%d" % k] = json.dumps(cv, sort_keys=True)
        variables["item_name_%d" % k] = name
    doc = "mutation(%s){\n%s\nmh_complexity:complexity{query before after reset_in_x_seconds}}" % (",".join(defs), "\n".join(parts))
    r = s.post(url, data=json.dumps({"query": doc, "variables": variables}, sort_keys=True), timeout=60)
    requests_sent += 1
    body = r.json()
    data = body.get("data") or {}
    for k, _ in enumerate(chunk, 1):
        if data.get("op%d" % k):
            ok += 1
print(json.dumps({"cpu": time.process_time() - cpu0, "ok": ok, "requests": requests_sent}))
