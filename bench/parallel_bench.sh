#!/usr/bin/env bash
# Benchmark of parallel ingest: the taxi pipeline (examples/nyc_taxi.yaml: fetch the month's
# CSV.gz over loopback HTTP, type it, drop rides without passengers, test, publish atomically,
# record the run) with its load split across 1, 2 and 4 load workers (parallel: N; 1 is the
# single COPY), against, in the same run and on the same data:
#   copy_local       plain server-side COPY of the decompressed month from local disk into an
#                    existing table (the floor)
#   copy_halves      the same rows as two COPYs at once, each of half the file (what two cores
#                    give two COPYs here: the split load's own floor)
#   program_where    COPY ... FROM PROGRAM 'curl ... | gunzip' WHERE passenger_count > 0 (the
#                    same download, inflate and filter as a one-liner)
#   copy_where_new   BEGIN; CREATE TABLE ...; COPY ... FROM '<local file>' WHERE
#                    passenger_count > 0; COMMIT (the same filtered rows into a new table, locally)
# (each starting from an empty target, as the baselines do; pipeline_2_replace replaces the
# month pipeline_2 published, its drop included), and the taxi pipeline whose transformer also
# computes a column (SELECT *, total_amount -
# tip_amount AS fare_without_tip ... WHERE ...), unfused (staging, a view, CREATE TABLE AS; an
# alias on the loader keeps it from fusing) and fused as a projection, with 1 and 2 load workers;
# on the benchmarks' own cluster: Postgres's default durability (fsync, full_page_writes,
# synchronous_commit on), shared_buffers 1GB; the settings are printed. Rounds are interleaved;
# each method's median of ROUNDS (5), its ratio to the floor and to copy_where_new, and the median
# CPU seconds the server and the HTTP server spent (which other jobs on the machine disturb less). Then the
# published tables are compared (rows and an order-free checksum). Then, unless BENCH_SKIP_10X=1,
# the month ten times over (13.7M rows) with 2 load workers: its time against ten months, the
# peak RssAnon of the leader and of a load worker at 1x and 10x, and temporary files.
# Usage (as root): bench/parallel_bench.sh [ROUNDS=5]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/common.sh"
need_root
rounds=${1:-5}
build_and_install >/dev/null
bench_cluster_start
trap 'http_stop; cluster_stop' EXIT
[ -n "${BENCH_SKIP_10X:-}" ] || WITH_10X=1
bench_prepare_data
[ -z "${WITH_10X:-}" ] || ln -f "$BENCH_DATA/month10.csv.gz" "$PGPIPE_TMP/www/yellow_tripdata_2031-01.csv.gz"
psql_q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" >/dev/null
for n in 1 2 4; do bench_register_taxi "taxi_par$n" "$n"; done
bench_register_derived derived_unfused_1 1 unfused
bench_register_derived derived_unfused_2 2 unfused
bench_register_derived derived_fused_1 1
bench_register_derived derived_fused_2 2
bench_create_taxi_table bench_trips
bench_print_settings

# The floor split in two by hand: two COPYs at once, each of half the month's rows (split at a
# line: the generated month has no quoted line breaks), into the floor's table; timed by the
# client, psql's two connections included. What two cores give two COPYs on this machine.
[ -s "$BENCH_DATA/half2.csv" ] || {
  half=$(( ($(wc -l <"$BENCH_DATA/month.csv") - 1) / 2 ))
  { head -1 "$BENCH_DATA/month.csv"; sed -n "2,$((half + 1))p" "$BENCH_DATA/month.csv"; } >"$BENCH_DATA/half1.csv"
  { head -1 "$BENCH_DATA/month.csv"; tail -n +$((half + 2)) "$BENCH_DATA/month.csv"; } >"$BENCH_DATA/half2.csv"
  chmod a+r "$BENCH_DATA"/half?.csv
}
bench_time_halves() {  # prints "SECONDS CPU"
  psql_q -d postgres -c "TRUNCATE bench_trips" -c "CHECKPOINT" >/dev/null
  local before after t0 t1
  before=$(bench_cpu_ticks)
  t0=$(date +%s.%N)
  psql_q -d postgres -c "COPY bench_trips FROM '$BENCH_DATA/half1.csv' (FORMAT csv, HEADER true)" >/dev/null &
  psql_q -d postgres -c "COPY bench_trips FROM '$BENCH_DATA/half2.csv' (FORMAT csv, HEADER true)" >/dev/null
  wait
  t1=$(date +%s.%N)
  after=$(bench_cpu_ticks)
  awk -v a="$t0" -v b="$t1" -v c0="$before" -v c1="$after" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%.3f %.2f\n", b - a, (c1 - c0) / hz}'
}

declare -A sql
sql[copy_local]="COPY bench_trips FROM '$BENCH_DATA/month.csv' (FORMAT csv, HEADER true)"
sql[program_where]="COPY bench_trips FROM PROGRAM 'curl -sS $BENCH_BASE/month.csv.gz | gunzip' (FORMAT csv, HEADER true) WHERE passenger_count > 0"
sql[copy_where_new]="BEGIN; CREATE TABLE bench_new ($BENCH_TAXI_COLUMNS);
COPY bench_new FROM '$BENCH_DATA/month.csv' (FORMAT csv, HEADER true) WHERE passenger_count > 0; COMMIT"
declare -A setup
setup[copy_local]="TRUNCATE bench_trips"
setup[program_where]="TRUNCATE bench_trips"
setup[copy_where_new]="DROP TABLE IF EXISTS bench_new"
methods=(copy_local copy_halves program_where copy_where_new)
# Every method starts without the rows of its last round, removed before the clock starts: the
# floor's table truncated, copy_where_new's table and the pipelines' targets dropped. Replacing a
# month already published also drops it (its file's pages leave the OS cache at commit):
# pipeline_2_replace runs right after pipeline_2, onto its table, and shows that cost.
for n in 1 2 4; do
  sql[pipeline_$n]="SELECT pipeline.run('taxi_par$n', '{\"base_url\": \"$BENCH_BASE\"}')"
  setup[pipeline_$n]="DROP TABLE IF EXISTS ny_taxi.taxi_par$n"
  methods+=("pipeline_$n")
  if [ "$n" = 2 ]; then
    sql[pipeline_2_replace]=${sql[pipeline_2]}
    setup[pipeline_2_replace]="SELECT 1"
    methods+=(pipeline_2_replace)
  fi
done
for d in derived_unfused_1 derived_fused_1 derived_unfused_2 derived_fused_2; do
  sql[$d]="SELECT pipeline.run('$d', '{\"base_url\": \"$BENCH_BASE\"}')"
  setup[$d]="DROP TABLE IF EXISTS ny_taxi.$d"
  methods+=("$d")
done

say "timing $rounds rounds of each method (interleaved)"
declare -A times cpus
for r in $(seq "$rounds"); do
  for m in "${methods[@]}"; do
    if [ "$m" = copy_halves ]; then
      read -r t c < <(bench_time_halves)
    else
      read -r t c < <(bench_time_cpu_sql "${setup[$m]}" "${sql[$m]}")
    fi
    times[$m]="${times[$m]:-} $t"
    cpus[$m]="${cpus[$m]:-} $c"
    printf '  round %s %-17s %7.3f s  %6.2f CPU s   (load average %s)\n' "$r" "$m" "$t" "$c" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done

floor=$(echo "${times[copy_local]}" | bench_median)
same=$(echo "${times[copy_where_new]}" | bench_median)
say "results ($BENCH_ROWS rows, median of $rounds)"
printf '  %-17s %9s %12s %10s %14s %9s\n' method seconds rows/s "vs floor" "vs same work" "CPU s"
for m in "${methods[@]}"; do
  t=$(echo "${times[$m]}" | bench_median)
  c=$(echo "${cpus[$m]}" | bench_median)
  awk -v m="$m" -v t="$t" -v c="$c" -v f="$floor" -v s="$same" -v n="$BENCH_ROWS" \
    'BEGIN { printf "  %-17s %9.3f %12.0f %9.2fx %13.2fx %9.2f\n", m, t, n / t, t / f, t / s, c }'
done
echo "  (CPU s: CPU seconds the server's processes and the test HTTP server spent; on 2 idle cores a"
echo "   method cannot take less wall time than half of it)"
say "the published tables hold the same rows"
psql_q -d postgres <<'SQL'
SELECT t AS "table", count(*) AS rows, sum(hashtext(x::text)::bigint) AS checksum
  FROM (SELECT 'bench_new' AS t, b::text AS x FROM bench_new b
        UNION ALL SELECT 'ny_taxi.taxi_par1', p::text FROM ny_taxi.taxi_par1 p
        UNION ALL SELECT 'ny_taxi.taxi_par2', p::text FROM ny_taxi.taxi_par2 p
        UNION ALL SELECT 'ny_taxi.taxi_par4', p::text FROM ny_taxi.taxi_par4 p) u
 GROUP BY t ORDER BY t;
SELECT t AS "table (a computed column)", count(*) AS rows, sum(hashtext(x::text)::bigint) AS checksum,
       (SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = ('ny_taxi.' || t)::regclass AND attnum > 0 AND NOT attisdropped) = (SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'ny_taxi.derived_unfused_1'::regclass AND attnum > 0 AND NOT attisdropped) AS same_types
  FROM (SELECT 'derived_unfused_1' AS t, p::text AS x FROM ny_taxi.derived_unfused_1 p
        UNION ALL SELECT 'derived_unfused_2', p::text FROM ny_taxi.derived_unfused_2 p
        UNION ALL SELECT 'derived_fused_1', p::text FROM ny_taxi.derived_fused_1 p
        UNION ALL SELECT 'derived_fused_2', p::text FROM ny_taxi.derived_fused_2 p) u
 GROUP BY t ORDER BY t;
SQL
say "time per block and load workers (last run of each)"
psql_q -d postgres <<'SQL'
SELECT p.name AS pipeline, b.block_name AS block, b.rows_out,
       round(extract(epoch FROM b.finished_at - b.started_at)::numeric, 3) AS seconds,
       substring(l.message FROM 'split across [0-9]+ load workers|by this worker alone[^:]*') AS split
  FROM pipeline.block_runs b JOIN pipeline.runs r USING (run_id) JOIN pipeline.pipelines p USING (pipeline_id)
  LEFT JOIN pipeline.run_log l ON l.run_id = b.run_id AND l.block_name = b.block_name AND l.message LIKE 'loaded %'
 WHERE b.run_id IN (SELECT max(run_id) FROM pipeline.runs GROUP BY pipeline_id)
 ORDER BY p.name, b.block_run_id;
SQL

if [ -z "${BENCH_SKIP_10X:-}" ]; then
  say "ten months (13.7M rows) with 2 load workers: time, memory, temporary files"
  measure() {  # runs taxi_par2 on year $1; prints "SECONDS SPLIT_KB LEADER_KB WORKER_KB TEMP_FILES TEMP_FILES_STAT"
    local before after t0 t1 peaks
    psql_q -d postgres -c "CHECKPOINT" >/dev/null
    before=$(psql_q -d postgres -At -c "SELECT temp_files FROM pg_stat_database WHERE datname = current_database()")
    t0=$(date +%s.%N)
    "$PGBIN/psql" -X -q -d postgres -c "SELECT pipeline.run('taxi_par2', '{\"base_url\": \"$BENCH_BASE\", \"year\": $1}')" >/dev/null &
    peaks=$(bench_peak_load_rss $!)
    wait $!
    t1=$(date +%s.%N)
    # (the run's worker and its load workers have exited, and a backend reports its statistics as it exits)
    after=$(psql_q -d postgres -At -c "SELECT temp_files FROM pg_stat_database WHERE datname = current_database()")
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') $peaks $((after - before))"
  }
  read -r s1 p1 l1 w1 f1 d1 < <(measure 2021)
  read -r s10 p10 l10 w10 f10 d10 < <(measure 2031)
  rows10=$(psql_q -d postgres -At -c "SELECT count(*) FROM ny_taxi.taxi_par2")
  printf '  %-4s %9s %12s %18s %18s %18s %11s\n' "" seconds rows "leader splitting" "leader, whole run" "largest worker" "temp files"
  printf '  %-4s %9.3f %12s %15d kB %15d kB %15d kB %5d (%d)\n' 1x "$s1" "$BENCH_ROWS" "$p1" "$l1" "$w1" "$f1" "$d1"
  printf '  %-4s %9.3f %12s %15d kB %15d kB %15d kB %5d (%d)\n' 10x "$s10" "$rows10" "$p10" "$l10" "$w10" "$f10" "$d10"
  awk -v a="$s1" -v b="$s10" -v p1="$p1" -v p10="$p10" -v w1="$w1" -v w10="$w10" 'BEGIN {
    printf "  10x time / (10 x 1x time): %.2f   leader splitting 10x/1x: %.2f   worker 10x/1x: %.2f\n", b / (10 * a), p10 / p1, w10 / w1 }'
  echo "  (temp files: the most seen in base/pgsql_tmp, and in parentheses pg_stat_database's count for the run)"
fi
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
