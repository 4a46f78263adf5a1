#!/usr/bin/env bash
# Checks that a pg_dump backup restores into a working Maillage database, as docs/deployment.md
# describes: data written through the CLI (an import, an invitation: audited), a custom-format
# dump, a restore into a new database, then the restored copy's audit chain verified against the
# head noted before the dump, and its rows counted against the original's.
# Usage: scripts/with-postgres.sh scripts/check-backup-restore.sh   (needs DATABASE_URL)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?run it through scripts/with-postgres.sh, or set DATABASE_URL to a scratch database}"
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_dump" ] && pg_bin="$d"; done
[ -n "$pg_bin" ] || { echo "pg_dump not found (Debian package postgresql-client)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LOG_LEVEL=warn
maillage() { node bin/maillage.mjs "$@"; }
count() { "$pg_bin/psql" -At -d "$1" -c "SELECT (SELECT count(*) FROM places.place) || ' places, ' || (SELECT count(*) FROM accounts.users) || ' users, ' || (SELECT count(*) FROM platform.audit_entry) || ' audit entries'"; }

echo "== write some data (migrations applied by the first command)"
example=${SHARED_DATA_DIR:-../shared/data}/standards/lieux-mediation-numerique/exemple-valide.csv
if [ -f "$example" ]; then maillage import "$example" --source sauvegarde >/dev/null; fi
maillage accounts invite sauvegarde@example.fr "Essai de sauvegarde" --role admin >/dev/null
head=$(maillage audit head | head -n 1)
before=$(count "$DATABASE_URL")
echo "   $before; audit head $head"

echo "== pg_dump (custom format)"
"$pg_bin/pg_dump" --format=custom --no-owner --file="$work/maillage.dump" "$DATABASE_URL"
ls -l "$work/maillage.dump" | awk '{print "   " $5 " bytes"}'

echo "== restore into a new database"
restored="${DATABASE_URL%/*}/maillage_restored_$$"
"$pg_bin/psql" -q -d "$DATABASE_URL" -c "CREATE DATABASE maillage_restored_$$"
"$pg_bin/pg_restore" --no-owner --exit-on-error --dbname="$restored" "$work/maillage.dump"
after=$(count "$restored")
echo "   $after"
[ "$before" = "$after" ] || { echo "FAILED: the restored database differs ($before / $after)" >&2; exit 1; }

echo "== the restored copy works: migrations up to date, audit chain intact up to the noted head"
DATABASE_URL="$restored" maillage migrate
DATABASE_URL="$restored" maillage audit verify --expect-head "$head"
"$pg_bin/psql" -q -d "$DATABASE_URL" -c "DROP DATABASE maillage_restored_$$"
echo "backup and restore: OK"
