#!/usr/bin/env bash
# Benchmark of the Mage paths with the taxi month: the course's api_to_postgres project
# (test/fixtures/mage_python, its loader pointed at the benchmark's server) imported twice and
# run in the server: compiled to native blocks (import_project's default; issue 12's goal: within
# 1.1x of the hand-written pipeline) and as Python (PL/Python and pandas, native => false);
# beside Mage's own way outside the server (bench/mage_way.py: pandas read_csv, filter, COPY FROM
# STDIN), the hand-written native pipeline (examples/nyc_taxi.yaml) and a plain server-side COPY
# of the decompressed month (the floor); interleaved rounds, medians of ROUNDS, on the
# benchmarks' own cluster (Postgres's default durability; settings printed). Memory: the peak
# RssAnon of the run's workers (sampled every 20 ms) and the Mage process's peak RSS.
# Usage (as root): bench/mage_bench.sh [ROUNDS=5]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/common.sh"
need_root
rounds=${1:-5}
PY=/usr/bin/python3  # the interpreter PL/Python embeds, with pandas
build_and_install >/dev/null
bench_cluster_start
trap 'http_stop; cluster_stop' EXIT
bench_prepare_data
psql_q -d postgres -c "CREATE EXTENSION IF NOT EXISTS plpython3u" -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" \
  -c "SELECT pipeline.enable_python()" -c "CREATE SCHEMA IF NOT EXISTS ny_taxi" >/dev/null
psql_q -d postgres -v yaml="$(cat "$PGPIPE_ROOT/examples/nyc_taxi.yaml")" >/dev/null <<'SQL'
SELECT pipeline.register(:'yaml');
SQL

# The project, copied where the server reads it, its URL on this benchmark's server.
project=$PGPIPE_TMP/bench_mage
rm -rf "$project" && cp -a "$PGPIPE_ROOT/test/fixtures/mage_python" "$project"
grep -rl '127.0.0.1:54340' "$project" | xargs sed -i "s|http://127.0.0.1:54340/files/|$BENCH_BASE/|"
chmod -R a+rX "$project"
for how in compiled python; do
  native=true; [ $how = python ] && native=false
  psql_q -d postgres -At -c "SELECT count(*) FILTER (WHERE outcome = 'imported') || ' rows imported as $how' FROM pipeline.import_project('$project', 'mage_$how', native => $native)"
  echo "  its blocks: $(psql_q -d postgres -At -c "SELECT string_agg(name || ' ' || coalesce(definition ->> 'language', 'sql'), ', ' ORDER BY block_id)
    FROM pipeline.blocks WHERE project = 'mage_$how' AND name IN ('load_api_data', 'transform_taxi_data', 'export_taxi_data_to_postgres')")"
done
bench_create_taxi_table bench_trips
bench_print_settings

native_sql="SELECT pipeline.run('api_to_postgres', '{\"base_url\": \"$BENCH_BASE\"}')"
compiled_sql="SELECT pipeline.run('api_to_postgres', project => 'mage_compiled')"
python_sql="SELECT pipeline.run('api_to_postgres', project => 'mage_python')"
dsn="host=$PGSOCK port=$PGPIPE_PORT dbname=postgres user=postgres"

# Peak RssAnon (kB) over every pg_pipeline worker while process $1 lives.
peak_workers() {
  local client=$1 peak=0 pid v
  while kill -0 "$client" 2>/dev/null; do
    for pid in $(psql_q -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type LIKE 'pg_pipeline%' AND backend_type <> 'pg_pipeline launcher'"); do
      v=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${v:-0}" -gt "$peak" ] && peak=$v
    done
    sleep 0.02
  done
  echo "$peak"
}

say "timing $rounds rounds (interleaved)"
copy_t="" native_t="" compiled_t="" python_t="" mage_t="" mage_rss=0
for r in $(seq "$rounds"); do
  t=$(bench_time_sql "TRUNCATE bench_trips" "COPY bench_trips FROM '$BENCH_DATA/month.csv' (FORMAT csv, HEADER true)")
  copy_t="$copy_t $t"; printf '  round %s %-28s %7.3f s\n' "$r" "plain COPY" "$t"
  t=$(bench_time_sql "SELECT 1" "$native_sql")
  native_t="$native_t $t"; printf '  round %s %-28s %7.3f s\n' "$r" "native pipeline" "$t"
  t=$(bench_time_sql "SELECT 1" "$compiled_sql")
  compiled_t="$compiled_t $t"; printf '  round %s %-28s %7.3f s\n' "$r" "imported, compiled" "$t"
  t=$(bench_time_sql "SELECT 1" "$python_sql")
  python_t="$python_t $t"; printf '  round %s %-28s %7.3f s\n' "$r" "imported, Python" "$t"
  read -r t rss rows < <(as_postgres env -u PYTHONPATH "$PY" "$PGPIPE_ROOT/bench/mage_way.py" "$BENCH_BASE/month.csv.gz" "$dsn" public.mage_way)
  mage_t="$mage_t $t"; [ "$rss" -gt "$mage_rss" ] && mage_rss=$rss
  printf '  round %s %-28s %7.3f s (%s rows)\n' "$r" "Mage's way (outside)" "$t" "$rows"
done
"$PGBIN/psql" -X -q -h "$PGSOCK" -p "$PGPIPE_PORT" -U postgres -d postgres -c "$python_sql" >/dev/null &
python_peak=$(peak_workers $!)
"$PGBIN/psql" -X -q -h "$PGSOCK" -p "$PGPIPE_PORT" -U postgres -d postgres -c "$native_sql" >/dev/null &
native_peak=$(peak_workers $!)
same=$(psql_q -d postgres -At -c "SELECT (SELECT count(*) FROM ny_taxi.yellow_taxi_data) = (SELECT count(*) FROM public.mage_way)")

f=$(echo "$copy_t" | bench_median); n=$(echo "$native_t" | bench_median)
p=$(echo "$python_t" | bench_median); m=$(echo "$mage_t" | bench_median); c=$(echo "$compiled_t" | bench_median)
say "results ($BENCH_ROWS rows, median of $rounds)"
awk -v f="$f" -v n="$n" -v c="$c" -v p="$p" -v m="$m" 'BEGIN {
  printf "  %-44s %8.3f s  1.00x\n", "plain COPY of the local CSV (the floor)", f
  printf "  %-44s %8.3f s  %.2fx\n", "native pipeline (examples/nyc_taxi.yaml)", n, n / f
  printf "  %-44s %8.3f s  %.2fx (%.2fx the native pipeline)\n", "imported Mage project, compiled to native", c, c / f, c / n
  printf "  %-44s %8.3f s  %.2fx\n", "imported Mage project, Python in the server", p, p / f
  printf "  %-44s %8.3f s  %.2fx\n", "Mage'"'"'s way: pandas outside, COPY FROM STDIN", m, m / f }'
echo "  peak RssAnon of the run's workers: Python $((python_peak / 1024)) MB, native $((native_peak / 1024)) MB; Mage's process peak RSS $mage_rss MB"
echo "  the same number of rows published by the server's runs and by Mage's way: $same"
