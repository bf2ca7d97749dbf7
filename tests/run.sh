#!/bin/sh
# Runs every test suite and ends with one line the CI reads:
#   N passed, N failed
# Suites: c (tests/c/test_*.c), lua (tests/lua/*_spec.lua), emulator
# (tests/emulator/run-tests), integration (tests/integration/*_spec.lua).
# Each suite prints TAP-like "ok"/"not ok" lines and its own
# "<suite>: N passed, N failed" line; a suite that dies without one counts as
# a failure. MONHOST_SUITES picks suites, MONHOST_BIN the binary (make check
# passes the sanitizer build), MONHOST_WRAP a wrapper such as valgrind, and
# MONHOST_ONLY a pattern to run only matching spec files.
set -u
cd "$(dirname "$0")/.."
BIN=${MONHOST_BIN:-./monhost}
SUITES=${MONHOST_SUITES:-"c lua emulator integration"}
WRAP=${MONHOST_WRAP:-}
ONLY=${MONHOST_ONLY:-}
export MONHOST_BIN="$BIN"
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run NAME CMD... : runs one suite, adds its counts
run() {
  name=$1; shift
  t0=$(date +%s)
  "$@" >"$log" 2>&1
  rc=$?
  cat "$log"
  echo "# $name: $(( $(date +%s) - t0 )) s"
  line=$(grep -E '([0-9]+) passed, ([0-9]+) failed' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/(^|.*[^0-9])([0-9]+) passed, ([0-9]+) failed.*/\2/')
    f=$(echo "$line" | sed -E 's/(^|.*[^0-9])([0-9]+) passed, ([0-9]+) failed.*/\3/')
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { echo "not ok - $name exited with status $rc"; f=1; }
  else
    echo "not ok - $name ended without a summary (exit status $rc)"
    p=0; f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
}

for suite in $SUITES; do
  case $suite in
  c)
    for src in tests/c/test_*.c; do
      [ -e "$src" ] || continue
      t=build/tests/$(basename "$src" .c)
      case "$BIN" in *asan*) t=$t-asan ;; esac
      if make --no-print-directory -s "$t" >"$log" 2>&1; then
        run "$t" $WRAP "$t"
      else
        cat "$log"; echo "not ok - build of $t failed"; total_fail=$((total_fail + 1))
      fi
    done ;;
  lua|integration)
    dir=tests/lua; [ "$suite" = integration ] && dir=tests/integration
    for spec in "$dir"/*_spec.lua; do
      [ -e "$spec" ] || continue
      [ -n "$ONLY" ] && ! echo "$spec" | grep -Eq -- "$ONLY" && continue
      run "$spec" $WRAP "$BIN" tests/support/spec.lua "$spec"
    done ;;
  emulator)
    if [ -x tests/emulator/run-tests ]; then run emulator tests/emulator/run-tests; fi ;;
  *) echo "unknown suite $suite"; total_fail=$((total_fail + 1)) ;;
  esac
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
