#!/bin/sh
# Installs, with apt-get, exactly the Debian packages monhost needs to build,
# test, benchmark and run; does nothing when all are present. Then makes sure
# the emulator's npm packages are installed (npm ci, from its lockfile).
set -eu

PKGS="build-essential pkg-config
liblua5.4-dev lua-cjson-dev unixodbc unixodbc-dev libcurl4-openssl-dev libyaml-dev
libedit-dev libxxhash-dev
libsqliteodbc odbc-postgresql tdsodbc sqlite3 postgresql
python3 python3-pyodbc python3-requests valgrind procps"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js: the machine's own (20 from nodesource) if present, else Debian's 18.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/emulator/package-lock.json" ] && [ ! -d "$here/tests/emulator/node_modules" ]; then
  echo "install-deps: npm ci (tests/emulator)"
  (cd "$here/tests/emulator" && npm ci --silent --no-audit --no-fund)
fi
exit 0
