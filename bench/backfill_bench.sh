#!/usr/bin/env bash
# Benchmark of the background workers: twelve taxi months backfilled (each a full taxi
# pipeline run: fetch over loopback HTTP, type, filter, test, append to one table), first with
# pipeline.max_workers = 1, then with 2, in one run. Prints both wall times and the speed-up.
# (The twelve months are the generated month served under twelve names.)
# Usage (as root): bench/backfill_bench.sh
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/common.sh"
need_root
build_and_install >/dev/null
cluster_start
trap 'http_stop; cluster_stop' EXIT
bench_prepare_data
for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
  ln -f "$BENCH_DATA/month.csv.gz" "$PGPIPE_TMP/www/yellow_tripdata_2021-$m.csv.gz"
done
psql_q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" >/dev/null
# The taxi pipeline, with the month taken from the run's execution_date and every month
# appended to one table; two runs may be active at once.
yaml=$(sed -e "s/{{ year }}-{{ lpad(month::text, 2, '0') }}/{{ to_char(execution_date, 'YYYY-MM') }}/" \
           -e 's/^name: api_to_postgres/name: taxi_backfill/' \
           -e 's/table: yellow_taxi_data, if_exists: replace/table: yellow_taxi_2021, if_exists: append/' \
           -e 's/^blocks:/settings: {max_active_runs: 2}\nblocks:/' "$PGPIPE_ROOT/examples/nyc_taxi.yaml")
psql_q -d postgres -v y="$yaml" >/dev/null <<'SQL'
SELECT pipeline.register(:'y');
SQL

backfill_with() {
  psql_q -d postgres -c "ALTER SYSTEM SET pipeline.max_workers = $1" -c "SELECT pg_reload_conf()" \
    -c "DROP TABLE IF EXISTS ny_taxi.yellow_taxi_2021" -c "CHECKPOINT" >/dev/null
  sleep 1
  local t0 t1 id left
  t0=$(date +%s.%N)
  id=$(psql_q -d postgres -At -c "SELECT pipeline.backfill('taxi_backfill', '2021-01-01', '2022-01-01', '1 month', '{\"base_url\": \"$BENCH_BASE\"}')")
  for _ in $(seq 2400); do
    left=$(psql_q -d postgres -At -c "SELECT remaining FROM pipeline.backfills WHERE backfill_id = $id")
    [ "$left" = 0 ] && break
    sleep 0.25
  done
  t1=$(date +%s.%N)
  local ok
  ok=$(psql_q -d postgres -At -c "SELECT done = 12 FROM pipeline.backfills WHERE backfill_id = $id")
  [ "$ok" = t ] || { psql_q -d postgres -c "SELECT * FROM pipeline.backfills"; echo "backfill failed"; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

say "twelve months with one worker"
one=$(backfill_with 1); echo "  $one s"
say "twelve months with two workers"
two=$(backfill_with 2); echo "  $two s"
rows=$(psql_q -d postgres -At -c "SELECT count(*) FROM ny_taxi.yellow_taxi_2021")
say "results"
awk -v a="$one" -v b="$two" -v r="$rows" 'BEGIN {
  printf "  1 worker : %7.2f s\n  2 workers: %7.2f s\n  speed-up : %.2fx (%d rows published)\n", a, b, a / b, r }'
