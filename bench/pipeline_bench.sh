#!/usr/bin/env bash
# Benchmark of the whole taxi pipeline (examples/nyc_taxi.yaml): fetch the month's CSV.gz over
# loopback HTTP, type it, drop rides without passengers, test, publish atomically, record the
# run; against, in one run, a plain server-side COPY of the already-decompressed month (the
# floor) and the same work done by hand (copy_where_new: BEGIN; CREATE TABLE; COPY ... FROM the
# local file WHERE passenger_count > 0; COMMIT), like with like. On the benchmarks' own cluster
# (Postgres's default durability, shared_buffers 1GB; the settings are printed). Prints the
# median of ROUNDS, the ratios, the time per block, and the run worker's peak private memory
# (RssAnon, sampled every 20 ms).
# Usage (as root): bench/pipeline_bench.sh [ROUNDS=5]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/common.sh"
need_root
rounds=${1:-5}
build_and_install >/dev/null
bench_cluster_start
trap 'http_stop; cluster_stop' EXIT
bench_prepare_data
psql_q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" >/dev/null
psql_q -d postgres -v yaml="$(cat "$PGPIPE_ROOT/examples/nyc_taxi.yaml")" >/dev/null <<'SQL'
SELECT pipeline.register(:'yaml');
SQL
bench_create_taxi_table bench_trips
bench_print_settings
run_sql="SELECT pipeline.run('api_to_postgres', '{\"base_url\": \"$BENCH_BASE\"}')"
same_sql="BEGIN; CREATE TABLE bench_new ($BENCH_TAXI_COLUMNS);
COPY bench_new FROM '$BENCH_DATA/month.csv' (FORMAT csv, HEADER true) WHERE passenger_count > 0; COMMIT"

say "timing $rounds rounds (interleaved)"
copy_times="" same_times="" pipeline_times="" peak=0
for r in $(seq "$rounds"); do
  t=$(bench_time_sql "TRUNCATE bench_trips" "COPY bench_trips FROM '$BENCH_DATA/month.csv' (FORMAT csv, HEADER true)")
  copy_times="$copy_times $t"
  printf '  round %s %-15s %6.3f s\n' "$r" copy_local "$t"
  t=$(bench_time_sql "DROP TABLE IF EXISTS bench_new" "$same_sql")
  same_times="$same_times $t"
  printf '  round %s %-15s %6.3f s\n' "$r" copy_where_new "$t"
  t=$(bench_time_sql "SELECT 1" "$run_sql")
  pipeline_times="$pipeline_times $t"
  printf '  round %s %-15s %6.3f s\n' "$r" pipeline "$t"
done
"$PGBIN/psql" -X -q -d postgres -c "$run_sql" >/dev/null &
peak=$(bench_peak_rss "backend_type = 'pg_pipeline run'" $!)

floor=$(echo "$copy_times" | bench_median)
same=$(echo "$same_times" | bench_median)
total=$(echo "$pipeline_times" | bench_median)
say "results ($BENCH_ROWS rows, median of $rounds)"
awk -v f="$floor" -v s="$same" -v t="$total" -v n="$BENCH_ROWS" 'BEGIN {
  printf "  %-42s %8.3f s %10.0f rows/s\n", "plain COPY of the local CSV (the floor)", f, n / f
  printf "  %-42s %8.3f s %10.0f rows/s  %.2fx the floor\n", "same work: new table + COPY ... WHERE", s, n / s, s / f
  printf "  %-42s %8.3f s %10.0f rows/s  %.2fx the floor, %.2fx the same work\n", "taxi pipeline (fetch..publish)", t, n / t, t / f, t / s }'
echo "  run worker peak RssAnon: $peak kB"
say "time per block (last run)"
psql_q -d postgres <<'SQL'
SELECT block_name AS block, rows_out,
       round(extract(epoch FROM finished_at - started_at)::numeric, 3) AS seconds
  FROM pipeline.block_runs WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY block_run_id;
SQL
