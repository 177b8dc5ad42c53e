#!/usr/bin/env bash
# Integration test of Python blocks: builds and installs the extension and its Python runtime
# into $PGBIN's tree, starts a private cluster (scripts/lib.sh) with plpython3u and pg_pipeline,
# serves a generated taxi month on 127.0.0.1, and runs
# test/python/in_server_checks.py, which drives pipeline._python_block with the seed's blocks
# (test/fixtures/mage_python). Ends with the server log check.
#
#   PGBIN=$(/work/tools/pgtree.sh python) test/python/run_in_server.sh [--rows N] [--measure] [--no-build] [--keep]
#
# --rows N     rows of the generated taxi file (default 20000)
# --measure    instead of the checks, time the three blocks and report each backend's peak
#              memory (test/python/measure_taxi.py); use with --rows 1369765 for a full month
# --no-build   use what is installed already
# --keep       leave the cluster and the HTTP server running afterwards
set -euo pipefail
export PGPIPE_TMP=${PGPIPE_TMP:-/tmp/pgpy} PGPIPE_PORT=${PGPIPE_PORT:-54339} PGPIPE_HTTP_PORT=${PGPIPE_HTTP_PORT:-54340}
source "$(dirname "$0")/../../scripts/lib.sh"
PY=/usr/bin/python3  # the interpreter PL/Python embeds, with pandas
rows=20000 build=1 keep=0 measure=0
while [ $# -gt 0 ]; do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --measure) measure=1; shift ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [ $build = 1 ]; then
  say "building and installing pg_pipeline and its Python runtime into $PGBIN/.."
  make -C "$PGPIPE_ROOT" -s -j2 PG_CONFIG="$PGBIN/pg_config"
  make -C "$PGPIPE_ROOT" -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi

cleanup() {
  if [ $keep = 0 ]; then http_stop; cluster_stop; fi
}
trap cleanup EXIT
cluster_start
publish_fixtures

# The taxi file, generated once per row count; the URL of the seed's loader names it.
www=$PGPIPE_TMP/www_python
mkdir -p "$www"
data=$PGPIPE_TMP/taxi_$rows.csv.gz
[ -s "$data" ] || $PY "$PGPIPE_ROOT/test/fixtures/gen_taxi.py" --rows "$rows" --out "$data"
rm -f "$www/yellow_tripdata_2021-01.csv.gz"
cp "$data" "$www/yellow_tripdata_2021-01.csv.gz"  # the server refuses symlinks
http_stop
$PY "$PGPIPE_ROOT/test/http_server.py" --root "$www" --port "$PGPIPE_HTTP_PORT" \
  --pid-file "$PGPIPE_TMP/http.pid" --max-seconds 3600 </dev/null >"$PGPIPE_TMP/http.log" 2>&1 &
deadline=$((SECONDS + 15))
until curl -fsS --max-time 1 "http://127.0.0.1:$PGPIPE_HTTP_PORT/health" >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { echo "test HTTP server did not start:" >&2; cat "$PGPIPE_TMP/http.log" >&2; exit 1; }
  sleep 0.1
done

say "installing plpython3u and pg_pipeline (which then makes pipeline._python_block)"
psql_q -c "SET client_min_messages = warning" -c "CREATE EXTENSION plpython3u" -c "CREATE EXTENSION pg_pipeline"

status=0
if [ $measure = 1 ]; then
  say "measuring the blocks in the server ($rows rows)"
  $PY "$PGPIPE_ROOT/test/python/measure_taxi.py" --project "$PGPIPE_TMP/fixtures/mage_python" \
    --http-port "$PGPIPE_HTTP_PORT" --rows "$rows" || status=1
else
  say "running the blocks in the server ($rows rows)"
  $PY "$PGPIPE_ROOT/test/python/in_server_checks.py" --project "$PGPIPE_TMP/fixtures/mage_python" \
    --remote-project "$PGPIPE_TMP/remote_project" --http-port "$PGPIPE_HTTP_PORT" --rows "$rows" -v || status=1
fi

say "server log check"
if grep -E "terminated by signal|leaked|WARNING" "$PGPIPE_TMP/server.log"; then
  echo "FAIL: the server log shows a crash or a warning (above)"; status=1
else
  echo "ok - no crash and no warning in the server log"
fi
exit $status
