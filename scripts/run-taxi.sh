#!/usr/bin/env bash
# The main job, end to end: build and install pg_pipeline, start a private cluster, register the
# NYC taxi pipeline (examples/nyc_taxi.yaml) and run it: fetch the month's CSV.gz over HTTP,
# type it, drop rides without passengers, test, publish ny_taxi.yellow_taxi_data, and show the
# run. The month comes from the real DataTalksClub URL when the network allows; otherwise a
# generated month of the same shape (1,369,765 rows) is served on 127.0.0.1, and it says so.
# Usage (as root): scripts/run-taxi.sh         The cluster keeps running afterwards; stop it with
#                                              scripts/run-taxi.sh stop
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ "${1:-}" = stop ]; then http_stop; cluster_stop; echo "stopped"; exit 0; fi
need_root
build_and_install
cluster_start

real_base=https://github.com/DataTalksClub/nyc-tlc-data/releases/download/yellow
month_file=yellow_tripdata_2021-01.csv.gz
say "where the month comes from"
if curl -fsSIL --max-time 10 -o /dev/null "$real_base/$month_file" 2>/dev/null; then
  base_url=$real_base
  echo "the network allows it: fetching the real month from $real_base"
else
  echo "no route to $real_base: serving a generated month of the same shape on 127.0.0.1"
  www=$PGPIPE_TMP/www
  mkdir -p "$www"
  if [ ! -s "$www/$month_file" ]; then
    python3 "$PGPIPE_ROOT/test/fixtures/gen_taxi.py" --rows 1369765 --out "$www/$month_file"
  fi
  serve_fixtures
  base_url="http://127.0.0.1:$PGPIPE_HTTP_PORT/files"
fi

say "registering and running the taxi pipeline"
# (PL/Python first, so Mage Python blocks can run here too: pg_pipeline enables them when it
# finds it, and enable_python does it for an extension made before)
psql_q -d postgres -At -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS plpython3u" \
  -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" \
  -c "SELECT CASE WHEN pipeline.enable_python() THEN 'Python blocks enabled (pipeline_python members may run them)' END"
psql_q -d postgres -At -v yaml="$(cat "$PGPIPE_ROOT/examples/nyc_taxi.yaml")" <<'SQL'
SELECT 'registered pipeline ' || pipeline.register(:'yaml');
SQL
psql_q -d postgres -At -c "SELECT pipeline.dag('api_to_postgres')"
run_id=$(psql_q -d postgres -At -v base="$base_url" <<'SQL'
SELECT pipeline.run('api_to_postgres', jsonb_build_object('base_url', :'base', 'year', 2021, 'month', 1));
SQL
)

say "run $run_id"
psql_q -d postgres <<SQL
SELECT run_id, status, finished_at - started_at AS took FROM pipeline.runs WHERE run_id = $run_id;
SELECT block_name AS block, status, rows_in, rows_out,
       round(bytes / 1e6, 1) AS mb_downloaded,
       round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds
  FROM pipeline.block_runs WHERE run_id = $run_id ORDER BY block_run_id;
SELECT block_name AS block, message FROM pipeline.run_log WHERE run_id = $run_id ORDER BY log_id;
SQL

say "the result: ny_taxi.yellow_taxi_data"
psql_q -d postgres <<'SQL'
SELECT count(*) AS rides, count(*) FILTER (WHERE passenger_count = 0) AS without_passengers,
       min(tpep_pickup_datetime) AS first_pickup, max(tpep_pickup_datetime) AS last_pickup
  FROM ny_taxi.yellow_taxi_data;
SELECT passenger_count, count(*) AS rides, round(avg(total_amount)::numeric, 2) AS avg_total
  FROM ny_taxi.yellow_taxi_data GROUP BY 1 ORDER BY 1;
SQL

cat <<MSG

The cluster is still running. Connect with:
  $PGBIN/psql -h $PGSOCK -p $PGPIPE_PORT -U postgres postgres
Stop it with: scripts/run-taxi.sh stop
MSG
