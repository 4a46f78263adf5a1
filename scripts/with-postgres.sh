#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a throw-away PostgreSQL started in a temporary
# directory on a free port (Debian's postgresql package, installed when missing).
# Usage: scripts/with-postgres.sh <command> [args…]
# PG_KEEP_DIR=dir: the server's data lives in dir/data and is KEPT (stopped cleanly and synced to
# disk at the end); when dir/data already exists, that database is started again instead of a new
# one (the benchmarks use it to re-measure on data that is long to generate).
set -euo pipefail
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
if [ -z "$pg_bin" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
fi
[ -n "$pg_bin" ] || { echo "PostgreSQL binaries not found" >&2; exit 1; }
pg_tmp=$(mktemp -d)
pg_data="$pg_tmp/data"
pg_log="$pg_tmp/log"
if [ -n "${PG_KEEP_DIR:-}" ]; then
  mkdir -p "$PG_KEEP_DIR"
  pg_data="$(cd "$PG_KEEP_DIR" && pwd)/data"
  pg_log="$(cd "$PG_KEEP_DIR" && pwd)/postgresql.log"
fi
pg_port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pg_tmp"
if [ -n "${PG_KEEP_DIR:-}" ]; then
  # Kept data: a clean shutdown (fsync is off), then the OS buffers written out.
  cleanup() { run_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true; sync; rm -rf "$pg_tmp"; }
else
  cleanup() { run_pg "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_tmp"; }
fi
trap cleanup EXIT
fresh=1
if [ -n "${PG_KEEP_DIR:-}" ] && [ -f "$pg_data/PG_VERSION" ]; then
  fresh=0
  echo "Reusing the PostgreSQL data kept in $pg_data" >&2
else
  if [ -n "${PG_KEEP_DIR:-}" ]; then mkdir -p "$pg_data"; [ "$(id -u)" = 0 ] && chown postgres "$pg_data"; chmod 700 "$pg_data"; fi
  run_pg "$pg_bin/initdb" -D "$pg_data" -U maillage --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
[ "$(id -u)" = 0 ] && [ -n "${PG_KEEP_DIR:-}" ] && { touch "$pg_log"; chown postgres "$pg_log"; }
run_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_log" -w \
  -o "-p $pg_port -k $pg_tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c shared_buffers=512MB" start >/dev/null
[ "$fresh" = 1 ] && run_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U maillage maillage
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $pg_port" >&2
DATABASE_URL="postgres://maillage@127.0.0.1:$pg_port/maillage" "$@"
