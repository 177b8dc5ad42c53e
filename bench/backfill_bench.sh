#!/usr/bin/env bash
# Benchmark of the background workers: twelve taxi months backfilled (each a full taxi
# pipeline run: fetch over loopback HTTP, type, filter, test, append to one table), with
# pipeline.max_workers = 1 and = 2, ROUNDS times each (3) in alternating order (1 2, 2 1, 1 2,
# ...), so that what drifts during the run (the machine's load, the cache) weighs on both; each
# backfill starts only once the launcher has logged that it works with the new setting (a
# condition, not a sleep). On the benchmarks' own cluster (Postgres's default durability;
# settings printed). Prints every backfill, the medians and the speed-up.
# (The twelve months are the generated month served under twelve names.)
# Usage (as root): bench/backfill_bench.sh [ROUNDS=3]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/common.sh"
need_root
rounds=${1:-3}
build_and_install >/dev/null
bench_cluster_start
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

bench_print_settings

backfill_with() {
  local log_at
  log_at=$(stat -c %s "$PGPIPE_TMP/server.log")
  psql_q -d postgres -c "ALTER SYSTEM SET pipeline.max_workers = $1" -c "SELECT pg_reload_conf()" \
    -c "DROP TABLE IF EXISTS ny_taxi.yellow_taxi_2021" -c "CHECKPOINT" >/dev/null
  poll_log "$log_at" "pg_pipeline launcher: configuration reloaded: pipeline.max_workers = $1\$" 60 >&2 ||
    { echo "the launcher never took pipeline.max_workers = $1" >&2; exit 1; }
  local t0 t1 id
  t0=$(date +%s.%N)
  id=$(psql_q -d postgres -At -c "SELECT pipeline.backfill('taxi_backfill', '2021-01-01', '2022-01-01', '1 month', '{\"base_url\": \"$BENCH_BASE\"}')")
  poll_until "backfill $id is done" 1200 "SELECT remaining = 0 FROM pipeline.backfills WHERE backfill_id = $id" >&2 ||
    { psql_q -d postgres -c "SELECT * FROM pipeline.backfills" >&2; exit 1; }
  t1=$(date +%s.%N)
  local ok
  ok=$(psql_q -d postgres -At -c "SELECT done = 12 FROM pipeline.backfills WHERE backfill_id = $id")
  [ "$ok" = t ] || { psql_q -d postgres -c "SELECT * FROM pipeline.backfills" >&2; echo "backfill failed" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

say "twelve months, $rounds times with one worker and with two, in alternating order"
one="" two=""
for r in $(seq "$rounds"); do
  order="1 2"
  [ $((r % 2)) = 0 ] && order="2 1"
  for w in $order; do
    t=$(backfill_with "$w")
    if [ "$w" = 1 ]; then one="$one $t"; else two="$two $t"; fi
    printf '  round %s, %s worker(s): %7.2f s   (load average %s)\n' "$r" "$w" "$t" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
rows=$(psql_q -d postgres -At -c "SELECT count(*) FROM ny_taxi.yellow_taxi_2021")
m1=$(echo "$one" | bench_median)
m2=$(echo "$two" | bench_median)
say "results (median of $rounds)"
awk -v a="$m1" -v b="$m2" -v r="$rows" 'BEGIN {
  printf "  1 worker : %7.2f s\n  2 workers: %7.2f s\n  speed-up : %.2fx (%d rows published by the last backfill)\n", a, b, a / b, r }'
