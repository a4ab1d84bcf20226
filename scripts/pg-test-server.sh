#!/usr/bin/env bash
# A throwaway PostgreSQL + PostGIS server for the tests (docs/design.md §2: the store
# that several app servers share). It lives in a temporary folder, listens on
# 127.0.0.1 on a free port with a random password, and runs without fsync:
# it is for tests only, never for data.
#
#   scripts/pg-test-server.sh install        # Debian packages, when missing (root only)
#   scripts/pg-test-server.sh start [DIR]    # prints the URL of database township_test
#   scripts/pg-test-server.sh stop DIR       # stops it and removes DIR
#   scripts/pg-test-server.sh run CMD ...    # start, run CMD with TEST_DATABASE_URL set, stop
#
# Running as root (as CI does), the server runs as the `postgres` user: initdb
# refuses root. The tests make their own databases on it (tests/conftest.py).
set -euo pipefail

PG_PACKAGES=(postgresql postgresql-15-postgis-3)

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return 0
  return 1
}

has_postgis() {
  local bindir=$1 share
  share=$("$bindir/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$(basename "$(dirname "$bindir")")")
  [ -f "$share/extension/postgis.control" ]
}

cmd_install() {
  local bindir
  if bindir=$(pg_bindir) && has_postgis "$bindir"; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "The PostgreSQL tests need the Debian packages ${PG_PACKAGES[*]}: run 'sudo apt-get install ${PG_PACKAGES[*]}' or 'make test' as root." >&2
    exit 1
  fi
  echo "installing ${PG_PACKAGES[*]} ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PG_PACKAGES[@]}" >/dev/null
  bindir=$(pg_bindir) && has_postgis "$bindir" || { echo "PostgreSQL/PostGIS still missing after apt-get install" >&2; exit 1; }
}

# as_owner CMD...: run CMD as the server's owner (postgres when we are root)
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

cmd_start() {
  local dir=${1:-} bindir port password url
  bindir=$(pg_bindir) || { echo "PostgreSQL is not installed: run '$0 install' (as root)" >&2; exit 1; }
  if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/township-pg.XXXXXX"); fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  chmod 700 "$dir"
  password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  printf '%s\n' "$password" > "$dir/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/pwfile"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" -A scram-sha-256 \
    --no-locale --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  port=$(free_port)
  # fsync off and friends: a test server, thrown away after the run.
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c max_connections=300 \
     -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB" >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  export PGPASSWORD=$password
  psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE township_test" >/dev/null
  psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d township_test \
    -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  url="postgresql+psycopg://postgres:$password@127.0.0.1:$port/township_test"
  printf '%s\n' "$url" > "$dir/url"
  printf '%s\n' "$bindir" > "$dir/bindir"
  echo "$dir" > "$dir/dir"
  echo "$url"
  echo "PostgreSQL test server in $dir (stop it with: $0 stop $dir)" >&2
}

cmd_stop() {
  local dir=${1:?usage: $0 stop DIR}
  if [ -f "$dir/bindir" ] && [ -d "$dir/data" ]; then
    as_owner "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

RUN_DIR=
cmd_run() {
  local url rc
  cmd_install
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/township-pg.XXXXXX")
  trap 'cmd_stop "$RUN_DIR"' EXIT
  trap 'exit 130' INT TERM
  url=$(cmd_start "$RUN_DIR" 2>/dev/null) || { cat "$RUN_DIR"/*.log >&2 || true; exit 1; }
  echo "PostgreSQL $("$(cat "$RUN_DIR/bindir")/postgres" --version | awk '{print $3}') + PostGIS test server on ${url##*@}" >&2
  set +e
  TEST_DATABASE_URL=$url TEST_DATABASE_THROWAWAY=1 "$@"
  rc=$?
  set -e
  return $rc
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  run) shift; cmd_run "$@" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
