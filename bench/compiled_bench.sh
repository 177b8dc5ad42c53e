#!/usr/bin/env bash
# Benchmark of a compiled Mage pipeline: the seed's api_to_postgres (test/fixtures/mage_python),
# imported with pipeline.import_project so that its three Python blocks compile to native ones,
# against the hand-written examples/nyc_taxi.yaml, on the same generated taxi month served over
# loopback HTTP, interleaved, in one run. The goal (issue 12): the imported pipeline within 1.1x
# of the hand-written one. On the benchmarks' own cluster (Postgres's default durability; the
# settings are printed). Prints each round, the medians of ROUNDS and their ratio.
# Usage (as root): bench/compiled_bench.sh [ROUNDS=5]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/common.sh"
need_root
rounds=${1:-5}
[ "$rounds" -ge 5 ] || { echo "at least 5 rounds, for a median" >&2; exit 2; }
build_and_install >/dev/null
bench_cluster_start
trap 'http_stop; cluster_stop' EXIT
bench_prepare_data
psql_q -d postgres -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS plpython3u" \
  -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" >/dev/null
psql_q -d postgres -v yaml="$(cat "$PGPIPE_ROOT/examples/nyc_taxi.yaml")" >/dev/null <<'SQL'
SELECT pipeline.register(:'yaml');
SQL
# The seed's project, its loader's URL pointed at the benchmark's month.
project=$PGPIPE_TMP/bench_mage_python
rm -rf "$project" && cp -a "$PGPIPE_ROOT/test/fixtures/mage_python" "$project"
sed -i "s|http://127.0.0.1:54340/files/|$BENCH_BASE/|" "$project/data_loaders/load_api_data.py"
chmod -R a+rX "$project"
say "importing the seed's api_to_postgres"
psql_q -d postgres -c "SELECT block, reason FROM pipeline.import_project('$project', 'seed')
                        WHERE pipeline = 'api_to_postgres' AND kind <> 'pipeline'" 2>/dev/null
native=$(psql_q -d postgres -At -c "SELECT count(*) FROM pipeline.import_project('$project', 'seed')
                                     WHERE pipeline = 'api_to_postgres' AND reason LIKE 'native:%'" 2>/dev/null)
[ "$native" = 3 ] || { echo "the seed's pipeline did not import all-native ($native of 3 blocks)" >&2; exit 1; }
bench_print_settings
hand_sql="SELECT pipeline.run('api_to_postgres', '{\"base_url\": \"$BENCH_BASE\"}')"
seed_sql="SELECT pipeline.run('api_to_postgres', project => 'seed')"

say "timing $rounds rounds (interleaved)"
hand_times="" seed_times=""
for r in $(seq "$rounds"); do
  t=$(bench_time_sql "SELECT 1" "$hand_sql")
  hand_times="$hand_times $t"
  printf '  round %s %-28s %6.3f s\n' "$r" "examples/nyc_taxi.yaml" "$t"
  t=$(bench_time_sql "SELECT 1" "$seed_sql")
  seed_times="$seed_times $t"
  printf '  round %s %-28s %6.3f s\n' "$r" "imported seed (compiled)" "$t"
done
hand=$(echo "$hand_times" | bench_median)
seed=$(echo "$seed_times" | bench_median)
say "results ($BENCH_ROWS rows, median of $rounds)"
awk -v h="$hand" -v s="$seed" -v n="$BENCH_ROWS" 'BEGIN {
  printf "  %-34s %8.3f s %10.0f rows/s\n", "examples/nyc_taxi.yaml", h, n / h
  printf "  %-34s %8.3f s %10.0f rows/s  %.3fx the hand-written pipeline (goal: at most 1.1x)\n", "imported seed api_to_postgres", s, n / s, s / h }'
say "the compiled run's log (last run)"
psql_q -d postgres -c "SELECT block_name, message FROM pipeline.run_log
                        WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY log_id"
