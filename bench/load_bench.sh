#!/usr/bin/env bash
# Benchmark of the HTTP loader. One run, same data, same server:
#   copy_local     server-side COPY of the already-decompressed month on local disk (the floor)
#   copy_program   COPY ... FROM PROGRAM 'curl ... | gunzip' (download and inflate in two
#                  other processes)
#   load_csv_gz    pipeline.load_csv of the .csv.gz from the local HTTP server
#   load_csv_plain pipeline.load_csv of the plain .csv from the local HTTP server
# Prints the median wall time of ROUNDS runs, rows per second and each ratio to copy_local; then
# the backend's peak private memory (RssAnon, sampled every 20 ms) loading the month and a
# month ten times as long, to show memory stays flat as the file grows. On the benchmarks' own
# cluster (Postgres's default durability, shared_buffers 1GB; the settings are printed).
# Usage (as root): bench/load_bench.sh [ROUNDS=3] ; BENCH_SKIP_10X=1 skips the 10x file.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/common.sh"
need_root
rounds=${1:-3}
build_and_install >/dev/null
bench_cluster_start
trap 'http_stop; cluster_stop' EXIT
[ -n "${BENCH_SKIP_10X:-}" ] || WITH_10X=1
bench_prepare_data
psql_q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" >/dev/null
bench_create_taxi_table bench_trips
bench_print_settings

declare -A sql
sql[copy_local]="COPY bench_trips FROM '$BENCH_DATA/month.csv' (FORMAT csv, HEADER true)"
sql[copy_program]="COPY bench_trips FROM PROGRAM 'curl -sS $BENCH_BASE/month.csv.gz | gunzip' (FORMAT csv, HEADER true)"
sql[load_csv_gz]="SELECT pipeline.load_csv('$BENCH_BASE/month.csv.gz', 'bench_trips')"
sql[load_csv_plain]="SELECT pipeline.load_csv('$BENCH_BASE/month.csv', 'bench_trips')"
methods=(copy_local copy_program load_csv_gz load_csv_plain)

say "timing $rounds rounds of each method (interleaved)"
declare -A times
for r in $(seq "$rounds"); do
  for m in "${methods[@]}"; do
    t=$(bench_time_sql "TRUNCATE bench_trips" "${sql[$m]}")
    times[$m]="${times[$m]:-} $t"
    printf '  round %s %-15s %6.3f s\n' "$r" "$m" "$t"
  done
done
count=$(psql_q -d postgres -At -c "SELECT count(*) FROM bench_trips")
[ "$count" = "$BENCH_ROWS" ] || { echo "row count $count, expected $BENCH_ROWS"; exit 1; }

floor=$(echo "${times[copy_local]}" | bench_median)
say "results ($BENCH_ROWS rows, median of $rounds)"
printf '  %-15s %9s %12s %8s\n' method seconds rows/s ratio
for m in "${methods[@]}"; do
  t=$(echo "${times[$m]}" | bench_median)
  awk -v m="$m" -v t="$t" -v f="$floor" -v n="$BENCH_ROWS" 'BEGIN { printf "  %-15s %9.3f %12.0f %7.2fx\n", m, t, n / t, t / f }'
done

peak_load() {
  psql_q -d postgres -c "TRUNCATE bench_trips" >/dev/null
  PGAPPNAME=bench_mem "$PGBIN/psql" -X -q -d postgres -c "SELECT pipeline.load_csv('$1', 'bench_trips')" >/dev/null &
  bench_peak_rss "application_name = 'bench_mem'" $!
}
if [ -z "${BENCH_SKIP_10X:-}" ]; then
  say "memory: backend peak RssAnon while loading"
  m1=$(peak_load "$BENCH_BASE/month.csv.gz")
  r1=$(psql_q -d postgres -At -c "SELECT count(*) FROM bench_trips")
  m10=$(peak_load "$BENCH_BASE/month10.csv.gz")
  r10=$(psql_q -d postgres -At -c "SELECT count(*) FROM bench_trips")
  printf '  1x  (%9s rows): %7d kB\n' "$r1" "$m1"
  printf '  10x (%9s rows): %7d kB  (ratio %.2f)\n' "$r10" "$m10" "$(awk -v a="$m10" -v b="$m1" 'BEGIN {print a / b}')"
fi
