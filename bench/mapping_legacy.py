#!/usr/bin/python3
"""The legacy approach to the same mapping, for `make bench`: Python's sqlite3
module fetches the same ORDERS_UNIFIED rows, and a per-row transform in
Python (cleaning, value maps, canonical customer, item name, group, per-type
monday values, size subitems) builds the same JSON with json.dumps.
usage: mapping_legacy.py DB SPEC.json -> prints seconds rows subitems"""
import json, re, sqlite3, sys, time

db_path, spec_path = sys.argv[1], sys.argv[2]
spec = json.load(open(spec_path))
select = spec["select"]
entries = spec["entries"]
sizes = spec["sizes"]
lookup = spec["customers"]
clean = spec["clean"]
NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
CTRL = re.compile(r"[\x00-\x1f\x7f]")

def value(ty, v):
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if ty == "text":
        return str(v)
    if ty == "long_text":
        return {"text": str(v).strip()}
    if ty == "numbers":
        s = str(v).strip()
        if not NUM.match(s):
            raise ValueError("not a number")
        return s
    if ty == "date":
        m = DATE.match(str(v))
        if not m:
            raise ValueError("not a date")
        return {"date": "%s-%s-%s" % m.groups()}
    if ty in ("status", "color"):
        return {"label": str(v).strip()}
    if ty == "dropdown":
        return {"labels": [str(v).strip()]}
    raise ValueError("type " + ty)

def transform(row):
    r = dict(zip(select, row))
    for col, rule in clean.items():
        v = r.get(col)
        if v is None:
            continue
        if rule.get("trim"):
            v = CTRL.sub("", v).strip()
        rep = rule.get("replace")
        if rep and v.strip() in rep:
            v = rep[v.strip()]
        r[col] = v
    raw = r.get("CUSTOMER NAME")
    customer = lookup.get(raw.strip().upper(), raw.strip()) if raw else None
    values, errors = {}, []
    for e in entries:
        v = customer if e["source"] == "=customer" else r.get(e["source"])
        m = e.get("map")
        if m and v is not None and str(v) in m:
            v = m[str(v)]
        try:
            mv = value(e["type"], v)
        except ValueError as ex:
            errors.append((e["id"], str(ex)))
            continue
        if mv is not None:
            values[e["id"]] = mv
    name = " ".join(str(r[k]) for k in ("CUSTOMER STYLE", "CUSTOMER COLOUR DESCRIPTION", "AAG ORDER NUMBER") if r.get(k))
    season = r.get("CUSTOMER SEASON") or r.get("AAG SEASON") or "UNKNOWN_SEASON"
    group = (customer or "UNKNOWN_CUSTOMER").upper() + " " + season
    subs = []
    for s in sizes:
        q = r.get(s)
        if q is not None and q > 0:
            subs.append({"name": "Size " + s, "column_values": json.dumps(
                {spec["size_column"]: {"labels": [s]}, spec["qty_column"]: str(q)}, sort_keys=True, separators=(",", ":"))})
    return name, group, json.dumps(values, sort_keys=True, separators=(",", ":")), subs, errors

t0 = time.process_time()  # CPU time, as the monhost side measures
con = sqlite3.connect(db_path)
cur = con.execute("SELECT " + ", ".join('"%s"' % c.replace('"', '""') for c in select) + " FROM ORDERS_UNIFIED")
n = nsub = 0
while True:
    block = cur.fetchmany(500)
    if not block:
        break
    for row in block:
        _, _, _, subs, _ = transform(row)
        n += 1
        nsub += len(subs)
elapsed = time.process_time() - t0
print("%.6f %d %d" % (elapsed, n, nsub))
