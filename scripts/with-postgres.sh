#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a throw-away PostgreSQL started in a temporary
# directory on a free port (Debian's postgresql package, installed when missing).
# Usage: scripts/with-postgres.sh <command> [args…]
# PG_KEEP_DIR=DIR: the cluster lives in DIR/data instead (created when missing, reused when
# present) and is stopped, not deleted, at the end — for benchmarks that keep their generated data.
set -euo pipefail
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
if [ -z "$pg_bin" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
fi
[ -n "$pg_bin" ] || { echo "PostgreSQL binaries not found" >&2; exit 1; }
keep="${PG_KEEP_DIR:-}"
if [ -n "$keep" ]; then mkdir -p "$keep"; pg_tmp=$(cd "$keep" && pwd); else pg_tmp=$(mktemp -d); fi
pg_port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pg_tmp"
if [ -n "$keep" ]; then
  cleanup() { run_pg "$pg_bin/pg_ctl" -D "$pg_tmp/data" -m fast stop >/dev/null 2>&1 || true; }
else
  cleanup() { run_pg "$pg_bin/pg_ctl" -D "$pg_tmp/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_tmp"; }
fi
trap cleanup EXIT
fresh=1
if [ -n "$keep" ] && [ -f "$pg_tmp/data/PG_VERSION" ]; then fresh=0; else
  run_pg "$pg_bin/initdb" -D "$pg_tmp/data" -U maillage --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
run_pg "$pg_bin/pg_ctl" -D "$pg_tmp/data" -l "$pg_tmp/log" -w \
  -o "-p $pg_port -k $pg_tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c shared_buffers=512MB" start >/dev/null
[ "$fresh" = 1 ] && run_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U maillage maillage
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $pg_port" >&2
DATABASE_URL="postgres://maillage@127.0.0.1:$pg_port/maillage" "$@"
