#!/usr/bin/python3
"""The legacy approach to the same mapping, for `make bench`: Python's sqlite3
module fetches the same ORDERS_UNIFIED rows, and a per-row transform in
Python (cleaning, value maps, canonical customer, item name, group, per-type
monday values, size subitems) builds the same JSON with json.dumps, and the
same record as monhost: key and key text, per-record errors, and the order
and item hashes over the same canonical text (BLAKE2b-128 from hashlib:
Python has no XXH3 without a third-party module; both are native code).
usage: mapping_legacy.py DB SPEC.json [full|fetch|transform]
  full       fetch + transform (CPU time of both)
  fetch      the bare fetch of the same columns
  transform  fetch everything first, then time the transform alone
prints: seconds rows subitems"""
import gc, hashlib, json, re, sqlite3, sys, time

db_path, spec_path = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "full"
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

KEY = spec["key"]
KEY_POS = [select.index(k) for k in KEY]
DUMP = dict(ensure_ascii=False, separators=(",", ":"))

def hexhash(text):
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()

def transform(row):
    r = dict(zip(select, row))
    key, errors = [], []
    for k, i in zip(KEY, KEY_POS):
        v = row[i]
        if v is None or v == "":
            errors.append({"column": k, "message": "key column is empty"})
            v = ""
        key.append(str(v))
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
    values = {}
    for e in entries:
        v = customer if e["source"] == "=customer" else r.get(e["source"])
        m = e.get("map")
        if m and v is not None and str(v) in m:
            v = m[str(v)]
        try:
            mv = value(e["type"], v)
        except ValueError as ex:
            errors.append({"column": e["source"], "monday_column": e["id"], "message": str(ex)})
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
            subs.append({"size": s, "name": "Size " + s, "qty": q, "column_values_json": json.dumps(
                {spec["size_column"]: {"labels": [s]}, spec["qty_column"]: str(q)}, sort_keys=True, **DUMP)})
    cv = json.dumps(values, sort_keys=True, **DUMP)
    item = json.dumps(name, **DUMP) + "," + json.dumps(group, **DUMP) + "," + cv
    sub_text = ",".join("[" + json.dumps(s["name"], **DUMP) + "," + s["column_values_json"] + "]" for s in subs)
    return {"key": key, "key_text": "|".join(key), "item_name": name, "group_name": group, "customer": customer,
            "column_values_json": cv, "subitems": subs, "errors": errors,
            "hash": hexhash('["monhost.order/1",' + item + ",[" + sub_text + "]]"),
            "item_hash": hexhash('["monhost.item/1",' + item + "]")}

SQL = "SELECT " + ", ".join('"%s"' % c.replace('"', '""') for c in select) + " FROM ORDERS_UNIFIED"
n = nsub = 0
if mode == "transform":
    rows = sqlite3.connect(db_path).execute(SQL).fetchall()
    gc.freeze()  # the fetched rows are not garbage: keep the cycle collector off them
    t0 = time.process_time()
    for row in rows:
        rec = transform(row)
        n += 1
        nsub += len(rec["subitems"])
else:
    t0 = time.process_time()  # CPU time, as the monhost side measures
    cur = sqlite3.connect(db_path).execute(SQL)
    while True:
        block = cur.fetchmany(500)
        if not block:
            break
        n += len(block)
        if mode == "full":
            for row in block:
                nsub += len(transform(row)["subitems"])
elapsed = time.process_time() - t0
print("%.6f %d %d" % (elapsed, n, nsub))
if len(sys.argv) > 4:  # the first records' column_values JSON, for the same-output check
    rows = sqlite3.connect(db_path).execute(SQL).fetchmany(int(sys.argv[4]))
    with open(sys.argv[5], "w") as f:
        for row in rows:
            f.write(transform(row)["column_values_json"] + "\n")
