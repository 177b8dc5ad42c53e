#!/usr/bin/env bash
# Benchmark of the HTTP loader (issue: "The HTTP loader"). One run, same data, same server:
#   copy_local     server-side COPY of the already-decompressed month on local disk (the floor)
#   copy_program   COPY ... FROM PROGRAM 'curl ... | gunzip' (download and inflate in two
#                  other processes)
#   load_csv_gz    pipeline.load_csv of the .csv.gz from the local HTTP server
#   load_csv_plain pipeline.load_csv of the plain .csv from the local HTTP server
# Prints the median wall time of ROUNDS runs, rows per second and each ratio to copy_local; then
# the backend's peak private memory (RssAnon, sampled every 20 ms) loading the month and a
# month ten times as long, to show memory stays flat as the file grows.
# Usage (as root): bench/load_bench.sh [ROUNDS=3] ; BENCH_SKIP_10X=1 skips the 10x file.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
need_root
rounds=${1:-3}
rows=1369765
data=$PGPIPE_TMP/bench
build_and_install >/dev/null
cluster_start
trap 'http_stop; cluster_stop' EXIT

say "preparing data: a generated month of $rows rows (cached in $data)"
mkdir -p "$data"
if [ ! -s "$data/month.csv.gz" ]; then
  python3 "$PGPIPE_ROOT/test/fixtures/gen_taxi.py" --rows $rows --out "$data/month.csv.gz"
fi
[ -s "$data/month.csv" ] || gunzip -c "$data/month.csv.gz" >"$data/month.csv"
if [ -z "${BENCH_SKIP_10X:-}" ] && [ ! -s "$data/month10.csv.gz" ]; then
  # Ten months' worth as one multi-member gzip: the month, then nine headerless copies.
  tail -n +2 "$data/month.csv" | gzip -1 >"$data/body.gz"
  { cat "$data/month.csv.gz"; for _ in 1 2 3 4 5 6 7 8 9; do cat "$data/body.gz"; done; } >"$data/month10.csv.gz"
  rm -f "$data/body.gz"
fi
chmod -R a+rX "$data"
ls -l "$data"
# The test server serves $PGPIPE_TMP/www: point it at the bench data instead.
mkdir -p "$PGPIPE_TMP/www"
ln -f "$data/month.csv.gz" "$data/month.csv" "$PGPIPE_TMP/www/"  # hard links: the server refuses paths leaving its root
if [ -e "$data/month10.csv.gz" ]; then ln -f "$data/month10.csv.gz" "$PGPIPE_TMP/www/"; fi
serve_fixtures
base="http://127.0.0.1:$PGPIPE_HTTP_PORT/files"

psql_q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" >/dev/null
psql_q -d postgres <<SQL >/dev/null
DO \$\$ BEGIN EXECUTE format(\$f\$$(cat "$PGPIPE_ROOT/bench/taxi_table.sql" | grep -v '^--')\$f\$, 'bench_trips'); END \$\$;
CREATE OR REPLACE FUNCTION pg_temp.noop() RETURNS void LANGUAGE sql AS 'SELECT';
SQL

declare -A sql
sql[copy_local]="COPY bench_trips FROM '$data/month.csv' (FORMAT csv, HEADER true)"
sql[copy_program]="COPY bench_trips FROM PROGRAM 'curl -sS $base/month.csv.gz | gunzip' (FORMAT csv, HEADER true)"
sql[load_csv_gz]="SELECT pipeline.load_csv('$base/month.csv.gz', 'bench_trips')"
sql[load_csv_plain]="SELECT pipeline.load_csv('$base/month.csv', 'bench_trips')"
methods=(copy_local copy_program load_csv_gz load_csv_plain)

# Seconds one statement takes in the server, measured in the server; the table is emptied first.
time_one() {
  psql_q -d postgres -c "TRUNCATE bench_trips" -c "CHECKPOINT" >/dev/null
  psql_q -d postgres -At <<SQL
SELECT clock_timestamp() AS t0 \gset
${sql[$1]};
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 3);
SQL
}

say "timing $rounds rounds of each method (interleaved)"
declare -A times
for r in $(seq "$rounds"); do
  for m in "${methods[@]}"; do
    t=$(time_one "$m" | tail -1)
    times[$m]="${times[$m]:-} $t"
    printf '  round %s %-15s %6.3f s\n' "$r" "$m" "$t"
  done
done
count=$(psql_q -d postgres -At -c "SELECT count(*) FROM bench_trips")
[ "$count" = "$rows" ] || { echo "row count $count, expected $rows"; exit 1; }

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floor=$(echo "${times[copy_local]}" | median)
say "results ($rows rows, median of $rounds)"
printf '  %-15s %9s %12s %8s\n' method seconds rows/s ratio
for m in "${methods[@]}"; do
  t=$(echo "${times[$m]}" | median)
  awk -v m="$m" -v t="$t" -v f="$floor" -v n="$rows" 'BEGIN { printf "  %-15s %9.3f %12.0f %7.2fx\n", m, t, n / t, t / f }'
done

# Peak private memory of the backend running one load, sampled from /proc.
peak_rss() {
  local url=$1 app="bench_mem_$RANDOM" pid="" peak=0 v
  psql_q -d postgres -c "TRUNCATE bench_trips" >/dev/null
  PGAPPNAME=$app "$PGBIN/psql" -X -q -d postgres -c "SELECT pipeline.load_csv('$url', 'bench_trips')" >/dev/null &
  local client=$!
  while kill -0 $client 2>/dev/null; do
    [ -n "$pid" ] || pid=$(psql_q -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'")
    if [ -n "$pid" ] && v=$(awk '/^RssAnon/ {print $2}' /proc/$pid/status 2>/dev/null); then
      [ "${v:-0}" -gt "$peak" ] && peak=$v
    fi
    sleep 0.02
  done
  wait $client
  echo "$peak"
}
if [ -z "${BENCH_SKIP_10X:-}" ]; then
  say "memory: backend peak RssAnon while loading"
  m1=$(peak_rss "$base/month.csv.gz")
  r1=$(psql_q -d postgres -At -c "SELECT count(*) FROM bench_trips")
  m10=$(peak_rss "$base/month10.csv.gz")
  r10=$(psql_q -d postgres -At -c "SELECT count(*) FROM bench_trips")
  printf '  1x  (%9s rows): %7d kB\n' "$r1" "$m1"
  printf '  10x (%9s rows): %7d kB  (ratio %.2f)\n' "$r10" "$m10" "$(awk -v a="$m10" -v b="$m1" 'BEGIN {print a / b}')"
fi
