#!/usr/bin/env bash
# What a new user does, on a machine without this team's ../shared/: clone the project alone into
# a temporary folder, run the README's `npm install && npm start`, and check that the site serves.
#   1. with the official addresses pointed at a local mirror (scripts/territories-mirror.mjs
#      serving ../shared's files at the official paths): the home page, a search and a coverage
#      page answer, and the coverage is measured;
#   2. with no source reachable at all: the site still serves and says what is missing.
# Reuses the npm cache; DEMO_PLACES is reduced to keep it quick. Prints the first-start times.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="${SHARED_DATA_DIR:-$root/../shared/data}"
port="${CI_FRESH_PORT:-3181}"
mirror_port="${CI_MIRROR_PORT:-3182}"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

git clone -q --no-hardlinks "$root" "$tmp/maillage"
cd "$tmp/maillage"
[ ! -e ../shared ] || { echo "unexpected ../shared beside the clone"; exit 1; }
npm install --no-audit --no-fund --prefer-offline >/dev/null

# The local stand-in for the official sources (served from the original checkout, which has ../shared).
setsid node "$root/scripts/territories-mirror.mjs" --port "$mirror_port" --shared "$shared" >"$tmp/mirror.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do grep -q listening "$tmp/mirror.log" && break; sleep 0.2; done
grep -q listening "$tmp/mirror.log" || { cat "$tmp/mirror.log"; exit 1; }

# start NAME MIRROR: runs `npm start` on a fresh data directory and waits until it serves.
start() {
  local name=$1 mirror=$2 started
  rm -rf data
  started=$(date +%s%N)
  env -u SHARED_DATA_DIR -u DATABASE_URL PORT="$port" DEMO_PLACES="${CI_DEMO_PLACES:-2000}" TERRITORIES_SOURCE_MIRROR="$mirror" \
    TERRITORIES_SOURCE_TIMEOUT=10 setsid npm start >"$tmp/$name.log" 2>&1 &
  server=$!
  pids+=("$server")
  for _ in $(seq 1 1200); do
    grep -q "Maillage est prêt" "$tmp/$name.log" && break
    kill -0 "$server" 2>/dev/null || { cat "$tmp/$name.log"; echo "npm start exited"; exit 1; }
    sleep 0.25
  done
  grep -q "Maillage est prêt" "$tmp/$name.log" || { cat "$tmp/$name.log"; echo "npm start did not serve"; exit 1; }
  echo "  $name: first start served after $(( ($(date +%s%N) - started) / 1000000 )) ms (DEMO_PLACES=${CI_DEMO_PLACES:-2000})"
}
stop() {
  kill -TERM -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
page() { # page URL [PATTERN]: 200 and, when given, the pattern in the body
  local body
  body=$(curl -sS -f "http://127.0.0.1:$port$1") || { echo "GET $1 failed"; exit 1; }
  if [ -n "${2:-}" ] && ! grep -q -- "$2" <<<"$body"; then echo "GET $1: \"$2\" not found"; exit 1; fi
  echo "  GET $1: ok"
}

echo "-- official sources (local mirror at the official paths)"
start official "http://127.0.0.1:$mirror_port"
page / 'Maillage'
page '/recherche?q=mediatheque' 'Médiathèque'
page /couverture/departement/27 'Eure'
if curl -sS "http://127.0.0.1:$port/couverture/departement/27" | grep -q 'Couverture non mesurable'; then echo "coverage not measured"; exit 1; fi
page /carte/fond/regions.geojson 'FeatureCollection'
# The demo data of every module with public pages.
page /feuilles-de-route 'Feuilles de route'
page /appels 'href="/appels/'
page /appels/subventions
page /concertations 'href="/concertations/'
page /mandats/verifier
page /donnees 'Subventions des appels à projets'
stop
# territories status names each official file's address (here the mirror), licence and date, and
# lists the gaps of the reference data (issue #12).
status=$(env -u SHARED_DATA_DIR -u DATABASE_URL npx maillage territories status)
sed -n '1,8p' <<<"$status"
for pattern in "Centres: loaded; polygons: loaded" "http://127.0.0.1:$mirror_port/" "Licence Ouverte" "fetched 20" "SHA-256 [0-9a-f]\{64\}" "Gaps of the reference data" "municipal arrondissements"; do
  grep -q -- "$pattern" <<<"$status" || { echo "territories status: \"$pattern\" not found"; echo "$status"; exit 1; }
done

echo "-- no source reachable at all"
start offline "http://127.0.0.1:1"
page / 'Maillage'
page '/recherche?q=mediatheque' 'Médiathèque'
page /couverture/departement/27 'territories load'
stop
grep -q "No reference geography" "$tmp/offline.log" || { cat "$tmp/offline.log"; exit 1; }
# …and territories status says what is missing and how to load it.
status=$(env -u SHARED_DATA_DIR -u DATABASE_URL npx maillage territories status)
for pattern in "Centres: MISSING" "Missing geometry: run \"maillage territories load\""; do
  grep -q -- "$pattern" <<<"$status" || { echo "offline territories status: \"$pattern\" not found"; echo "$status"; exit 1; }
done
echo "fresh clone: ok"
