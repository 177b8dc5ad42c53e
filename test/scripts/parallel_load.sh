#!/usr/bin/env bash
# Parallel ingest, what SQL alone cannot show (the rows, checksums and error lines are in
# sql/parallel_load.sql), on the cluster of scripts/test.sh: a split load seen from another
# session (pipeline.progress adds up every load worker under the block; pg_stat_progress_copy
# has a row per worker and one for the leader); pipeline.cancel stopping a split load at once,
# nothing published and nothing left in staging; kill -9 of one load worker: the fused run (no
# retries on its transformer and exporter) fails and the plain loader (a retry) is recovered and
# succeeds, neither leaving a relation behind and the target loaded once.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
base="http://127.0.0.1:$PGPIPE_HTTP_PORT"
db=postgres
register() { psql_q -d $db -v y="$1" >/dev/null <<'SQL'
SELECT pipeline.register(:'y');
SQL
}
# Staging of run $1 still recorded, or still in a staging schema, and new tables beside targets.
left_behind() {
  sql "SELECT (SELECT count(*) FROM pipeline.staging WHERE run_id = $1)
            + (SELECT count(*) FROM pg_class c JOIN pipeline.staging_schemas s ON c.relnamespace = s.schema_oid
                WHERE c.relname LIKE 'r$1\_%')
            + (SELECT count(*) FROM pg_class WHERE relname LIKE '%pgp_new%')"
}
# The taxi pipeline (examples/nyc_taxi.yaml) as $1, loading URL $2 split across 2 workers,
# publishing to ny_taxi.$1, the loader retried $3 times.
taxi() {
  sed -e "s/^name: api_to_postgres/name: $1/" \
      -e "s|url: \"{{ base_url }}.*|url: \"$2\"\n      parallel: 2|" \
      -e "s/table: yellow_taxi_data/table: $1/" \
      -e "s/retries: 3, delay: 5s, max_delay: 60s, exponential_backoff: true/retries: $3, delay: 0s/" \
      "$PGPIPE_ROOT/examples/nyc_taxi.yaml"
}

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS pg_pipeline CASCADE" \
  -c "CREATE EXTENSION pg_pipeline" -c "DROP SCHEMA IF EXISTS ny_taxi CASCADE" >/dev/null
# (small chunks: every load below has dozens of them)
sql "ALTER SYSTEM SET pipeline.load_chunk_size = '256kB'" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
trap 'sql "ALTER SYSTEM RESET pipeline.load_chunk_size" >/dev/null 2>&1; sql "SELECT pg_reload_conf()" >/dev/null 2>&1' EXIT
poll_until "the new chunk size is the server's" 10 "SELECT current_setting('pipeline.load_chunk_size') = '256kB'" ||
  fail "pipeline.load_chunk_size did not change"

# 1. Progress of a split load (the 200,000-row file at 400 kB/s, so it runs ~10 s), then a cancel.
register "$(taxi slow_split "$base/trickle/big.csv.gz?bps=400000" 0)"
r=$(sql "SELECT pipeline.trigger('slow_split')")
poll_until "both load workers have rows" 30 \
  "SELECT count(*) = 2 FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid)
    WHERE a.backend_type = 'pg_pipeline load' AND c.tuples_processed > 0" || fail "the load workers never loaded a row"
leader=$(sql "SELECT worker_pid FROM pipeline.runs WHERE run_id = $r")
check "pg_stat_progress_copy shows the leader and both load workers as COPY FROM callback rows" \
  "SELECT count(*) = 3 FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid)
    WHERE (a.pid = $leader OR a.backend_type = 'pg_pipeline load') AND c.command = 'COPY FROM' AND c.type = 'CALLBACK'"
check "the load workers are marked as parts of the leader's load" \
  "SELECT count(*) = 2 FROM pg_stat_get_progress_info('COPY') WHERE param13 = $leader"
check "pipeline.progress adds up the workers' rows under each block of the fused chain" \
  "SELECT count(*) = 3 AND min(rows_loaded) > 0 AND min(bytes_downloaded) > 0 FROM pipeline.progress WHERE run_id = $r"
check "pipeline.load_progress lists the leader and both workers" \
  "SELECT count(*) = 3 FROM pipeline.load_progress p JOIN pg_stat_activity a USING (pid)
    WHERE a.pid = $leader OR a.backend_type = 'pg_pipeline load'"
t0=$(date +%s.%N)
check "pipeline.cancel reaches the run" "SELECT pipeline.cancel($r)"
poll_until "the run ends cancelled" 20 "SELECT status = 'cancelled' FROM pipeline.runs WHERE run_id = $r" ||
  fail "the cancelled split load did not end"
poll_until "no load worker is left" 20 "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_pipeline load'" ||
  fail "load workers outlived the cancel"
t1=$(date +%s.%N)
echo "ok - the cancelled split load ended, its workers gone, in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"
check "nothing was published" "SELECT to_regclass('ny_taxi.slow_split') IS NULL"
[ "$(left_behind "$r")" = 0 ] || fail "the cancelled load left $(left_behind "$r") relations behind"
echo "ok - the cancelled load left no relation behind"
check "the loader is recorded cancelled" \
  "SELECT status = 'cancelled' FROM pipeline.block_runs WHERE run_id = $r AND block_name = 'load_api_data'"

# 2. kill -9 of one load worker of a fused chain: every backend restarts; the launcher recovers
#    the run, which fails (its transformer and exporter have no retries); the target keeps its
#    one earlier load, and the half-loaded relation is dropped.
register "$(taxi killed_fused "$base/trickle/big.csv.gz?bps=400000" 1)"
sql "SELECT pipeline.run('killed_fused', '{}')" >/dev/null 2>&1 || true  # (the first load: from the trickle too)
before=$(sql "SELECT count(*) FROM ny_taxi.killed_fused")
[ "$before" = 181000 ] || fail "the first load of killed_fused has $before rows"
kill_one_worker() {  # kills a load worker of run $1 once both have rows
  poll_until "both load workers have rows" 30 \
    "SELECT count(*) = 2 FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid)
      WHERE a.backend_type = 'pg_pipeline load' AND c.tuples_processed > 0" || fail "run $1's load workers never loaded a row"
  local pid log_at
  pid=$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_pipeline load' ORDER BY pid LIMIT 1")
  log_at=$(stat -c %s "$PGPIPE_TMP/server.log")
  kill -9 "$pid"
  poll_log "$log_at" "all server processes terminated; reinitializing" 30 || fail "the server did not restart its backends"
  reconnect
}
r=$(sql "SELECT pipeline.trigger('killed_fused')")
kill_one_worker "$r"
poll_until "the launcher ends the recovered run" 90 \
  "SELECT status NOT IN ('queued', 'running') FROM pipeline.runs WHERE run_id = $r" || fail "run $r never ended"
check "the fused run failed: its other blocks have no retries" \
  "SELECT status = 'failed' AND error LIKE '%died and it had no retries left' FROM pipeline.runs WHERE run_id = $r"
check "the target still holds its one earlier load" "SELECT count(*) = $before FROM ny_taxi.killed_fused"
[ "$(left_behind "$r")" = 0 ] || fail "the killed fused load left $(left_behind "$r") relations behind"
echo "ok - kill -9 of a load worker of a fused chain: run failed, target unchanged, nothing left behind"

# 3. kill -9 of one load worker of a plain loader with a retry: the run is recovered and succeeds;
#    the target is loaded once, and the relation of the killed attempt is gone.
register "$(cat <<Y
name: killed_plain
blocks:
  - name: load
    type: data_loader
    source: {url: "$base/trickle/big.csv.gz?bps=400000", parallel: 2}
    retry: {retries: 1}
  - {name: publish, type: data_exporter, upstream: [load], target: {schema: ny_taxi, table: killed_plain}}
Y
)"
r=$(sql "SELECT pipeline.trigger('killed_plain')")
kill_one_worker "$r"
status=$(sql "SELECT pipeline.wait($r, '120 s')")
[ "$status" = succeeded ] || fail "the killed plain load ended '$status'"
check "attempt 1 died, attempt 2 succeeded" \
  "SELECT array_agg(status ORDER BY attempt) = '{failed,succeeded}' FROM pipeline.block_attempts WHERE run_id = $r AND block_name = 'load'"
check "the target has exactly one load" "SELECT count(*) = 200000 FROM ny_taxi.killed_plain"
[ "$(left_behind "$r")" = 0 ] || fail "the recovered plain load left $(left_behind "$r") relations behind"
echo "ok - kill -9 of a load worker of a plain loader: recovered, loaded once, nothing left behind"
