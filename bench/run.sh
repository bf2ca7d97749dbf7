#!/bin/sh
# make bench: runs every bench/*.bench.sh and bench/*.bench.lua in name order.
# Each prints its own table of ratios, measured side by side in this run
# (monhost vs the baseline on the same data); no absolute-time claims.
set -u
cd "$(dirname "$0")/.."
BIN=${MONHOST_BIN:-./monhost}
status=0
for b in bench/*.bench.sh bench/*.bench.lua; do
  [ -e "$b" ] || continue
  echo "== $b"
  case $b in
  *.sh) sh "$b" || status=1 ;;
  *.lua) "$BIN" "$b" || status=1 ;;
  esac
  echo
done
exit $status
