#!/bin/sh
# make demo: the whole sync on this machine, no monday account needed.
# Creates an example SQLite database with generated ORDERS_UNIFIED rows,
# starts the monday emulator with the two legacy board fixtures, runs the
# sync, and prints the summary and what is now on the board.
set -eu
cd "$(dirname "$0")/.."
REF=../shared/reference/legacy-pipeline
BIN=${MONHOST_BIN:-./monhost}
work=${MONHOST_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/monhost-demo.XXXXXX")}
mkdir -p "$work"
emu_pid=
cleanup() { [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null; true; }
trap cleanup EXIT INT TERM

db="Driver=SQLite3;Database=$work/orders.db"
rm -f "$work/orders.db"
echo "== database: $work/orders.db"
"$BIN" db init --database "$db" --orders-unified "$REF/orders_unified_columns.tsv"
"$BIN" run examples/generate_orders.lua --database "$db" --columns "$REF/orders_unified_columns.tsv" \
  --customer "GREYSON CLOTHIERS" --customer "JOHNNIE O" --customer "LORNA JANE (AU)" --count 120 --seed 2026

echo "== monday emulator"
tests/emulator/start --port 0 --state "$work/board.json" >"$work/emulator.url" 2>"$work/emulator.log" &
emu_pid=$!
i=0
while [ ! -s "$work/emulator.url" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
url=$(head -n 1 "$work/emulator.url")
[ -n "$url" ] || { echo "emulator did not start:"; cat "$work/emulator.log"; exit 1; }
echo "listening at $url"

cat >"$work/monhost.yaml" <<YAML
database:
  connection: "$db"
monday:
  url: "$url/v2"
boards:
  items: 9200517329
  subitems: 9200771505
  items_metadata: "$(cd "$REF" && pwd)/board_9200517329_metadata.json"
  subitems_metadata: "$(cd "$REF" && pwd)/board_9200771505_metadata.json"
mappings_dir: "$(pwd)/mappings"
YAML

export MONDAY_API_TOKEN=test-token   # the emulator's token
echo "== sync (dry run of one customer first)"
"$BIN" run scripts/sync.lua --config "$work/monhost.yaml" --customer GREYSON --limit 2 --dry-run --quiet \
  | grep -E '^(mutation|sync)' | cut -c1-160
echo "== sync"
set +e
"$BIN" --log-level warn run scripts/sync.lua --config "$work/monhost.yaml" --all \
  --summary-json "$work/summary.json" --metrics-file "$work/monhost.prom"
code=$?
set -e
echo "exit code $code (0: everything synced)"
echo "== monhost status"
MONHOST_CONFIG="$work/monhost.yaml" "$BIN" status --runs 5
echo "== on the board"
"$BIN" run examples/show_board.lua "$url/v2" 9200517329 6
echo "== files: $work (summary.json, monhost.prom, orders.db, board.json)"
exit $code
