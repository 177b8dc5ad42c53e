#!/usr/bin/env bash
# Mage projects imported and run, on the cluster of scripts/test.sh (pg_cron and PL/Python in
# database postgres, the test HTTP server on $PGPIPE_HTTP_PORT serving $PGPIPE_TMP/www):
#   1. the mixed project (test/fixtures/mage_mixed): every row of import_project's result, its
#      profiles rendered, its two runnable pipelines run, its schedule imported when asked;
#   2. the seed's api_to_postgres and a green-taxi pipeline (test/fixtures/mage_python, copied
#      with the loaders' URLs pointed at the test server), every block compiled to a native one,
#      run to the tables Mage would publish: the same block code run by pandas outside the
#      server (test/python/mage_reference.py);
#   3. a hostile second user: no pipeline_python means Python pipelines refused (the SQL ones
#      import), no pg_read_server_files means no import, another role's project's profiles are
#      neither readable nor sent to its runs, and a project whose files point out of its folder
#      (.., absolute paths, symbolic links, a FIFO, an oversized file) reads nothing outside;
#   4. a remote profile: the (Python, native => false) exporter's rows go to a second cluster
#      (port $PGPIPE_PORT + 3) and not into this database; imported with the profile remote, the
#      exporter is not compiled.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
db=postgres
PY=/usr/bin/python3  # the interpreter PL/Python embeds, with pandas
work=$PGPIPE_TMP/mage_import
www=$PGPIPE_TMP/www
remote_port=$((PGPIPE_PORT + 3))
remote_data=$PGPIPE_TMP/remote_data
as() { local who=$1; shift; psql_q -d $db -At -F '|' -c "SET client_min_messages = warning" -c "SET ROLE $who" -c "$1" 2>&1; }
refused() {  # refused DESCRIPTION ROLE SQL EXPECTED-ERROR-TEXT
  local got
  got=$(as "$2" "$3" || true)
  grep -qF -- "$4" <<<"$got" || fail "$1: expected an error containing '$4', got: $got"
  echo "ok - $1"
}
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; }
remote_stop() {
  [ -f "$remote_data/postmaster.pid" ] && as_postgres "$PGBIN/pg_ctl" -D "$remote_data" -m fast -w stop >/dev/null 2>&1
  return 0
}
trap remote_stop EXIT

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS pg_pipeline CASCADE" \
  -c "CREATE EXTENSION IF NOT EXISTS plpython3u" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
  -c "CREATE EXTENSION pg_pipeline" -c "DROP SCHEMA IF EXISTS mixed, ny_taxi, mage, carol_s CASCADE" >/dev/null
for r in mi_alice mi_bob mi_carol; do psql_q -d $db -c "DROP OWNED BY $r" -c "DROP ROLE $r" >/dev/null 2>&1 || true; done
psql_q -d $db >/dev/null <<'SQL'
CREATE ROLE mi_bob LOGIN IN ROLE pipeline_python;            -- Python, but no server files
CREATE ROLE mi_carol LOGIN IN ROLE pipeline_user, pg_read_server_files;  -- server files, no Python
CREATE SCHEMA carol_s AUTHORIZATION mi_carol;
SQL

# The projects, copied where the server reads them; only the loaders' URLs change.
rm -rf "$work" && mkdir -p "$work"
cp -a "$PGPIPE_ROOT/test/fixtures/mage_mixed" "$work/mage_mixed"
cp -a "$PGPIPE_ROOT/test/fixtures/mage_python" "$work/mage_python"
grep -rl '127.0.0.1:54340' "$work/mage_python" | while read -r f; do
  sed -i "s|http://127.0.0.1:54340/files/|http://127.0.0.1:$PGPIPE_HTTP_PORT/files/|" "$f"
done
grep -q "127.0.0.1:$PGPIPE_HTTP_PORT/files/yellow_tripdata_2021-01.csv.gz" "$work/mage_python/data_loaders/load_api_data.py" ||
  fail "the loader's URL was not rewritten"
chmod -R a+rX "$work"
# The files the loaders fetch: a yellow month, and three green months (the yellow generator's
# rows under the green file's pickup and dropoff names).
make_mage_taxi_files

echo "# 1. the mixed project"
t0=$(date +%s.%N)
got=$(psql_q -d $db -At -F '|' -c "SELECT * FROM pipeline.import_project('$work/mage_mixed')" 2>"$PGPIPE_TMP/mage_import.notices")
mixed_s=$(seconds_since "$t0")
expected=$(cat <<'ROWS'
|default|profile||imported|
|dev|profile||imported|environment variables not set in the server: POSTGRES_DBNAME, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_HOST, POSTGRES_PORT (a block that reads one of these settings fails naming it)
api_to_gcs||pipeline||refused|block "taxi_to_gcs_parquet" imports mage_ai.io.google_cloud_storage (at line 3, column 6 of data_exporters/taxi_to_gcs_parquet.py), which pg_pipeline's mage_ai does not provide: its Python blocks load from and export to PostgreSQL (mage_ai.io.postgres) only
api_to_gcs|load_rides|data_loader|python|refused|not imported: pipeline "api_to_gcs" is refused
api_to_gcs|taxi_to_gcs_parquet|data_exporter|python|refused|block "taxi_to_gcs_parquet" imports mage_ai.io.google_cloud_storage (at line 3, column 6 of data_exporters/taxi_to_gcs_parquet.py), which pg_pipeline's mage_ai does not provide: its Python blocks load from and export to PostgreSQL (mage_ai.io.postgres) only
empty_pipeline||pipeline||skipped|pipelines/empty_pipeline has no metadata.yaml, so there is no pipeline to import
monthly_dynamic||pipeline||refused|block "months_to_load" is dynamic (configuration.dynamic at line 5, column 14 of pipelines/monthly_dynamic/metadata.yaml): Mage runs its downstream blocks once per item of its output, and pg_pipeline has no dynamic blocks
monthly_dynamic|months_to_load|data_loader|python|refused|block "months_to_load" is dynamic (configuration.dynamic at line 5, column 14 of pipelines/monthly_dynamic/metadata.yaml): Mage runs its downstream blocks once per item of its output, and pg_pipeline has no dynamic blocks
monthly_dynamic|load_month|transformer|python|refused|not imported: pipeline "monthly_dynamic" is refused
rides_python||pipeline||imported|
rides_python|load_rides|data_loader|python|imported|python: data_loaders/load_rides.py, line 13, column 12: pd.DataFrame({'VendorID': pd.array([1, 2, 2, 1, 2], dtype... is not a shape pg_pipeline compiles
rides_python|keep_passengers|transformer|python|imported|native: compiled from transformers/keep_passengers.py (log)
rides_python|export_rides|data_exporter|python|imported|native: compiled from data_exporters/export_rides.py (exports through the io_config profile 'dev', rename_columns)
rides_python|try_things|scratchpad|python|skipped|a scratchpad: Mage never runs scratchpads
rides_python|about_rides|markdown|markdown|skipped|a markdown block: documentation, not code
rides_python|passengers_per_vendor|chart|python|skipped|a chart: Mage draws it in its UI from block outputs, and runs do not need it
rides_python|every_morning|trigger||skipped|schedule '0 6 * * *' not imported: pass schedules => true
rides_python|on_demand|trigger||skipped|an API trigger: call pipeline.trigger('rides_python') instead (line 11, column 3 of pipelines/rides_python/triggers.yaml)
rides_sql||pipeline||imported|
rides_sql|load_rides_sql|data_loader|sql|imported|no language key: read as SQL (its file is .sql)
rides_sql|cleaning_drop_empty_rides|transformer|sql|imported|Mage uuid "cleaning/drop empty rides" is not a usable name: named "cleaning_drop_empty_rides" here
rides_sql|export_rides_sql|data_exporter|sql|imported|
rides_to_bigquery||pipeline||refused|block "rides_to_bigquery" runs its SQL in bigquery (configuration.data_provider at line 23, column 20 of pipelines/rides_to_bigquery/metadata.yaml); pg_pipeline runs SQL in this PostgreSQL database and exports to it only
rides_to_bigquery|load_rides_bq|data_loader|sql|refused|not imported: pipeline "rides_to_bigquery" is refused
rides_to_bigquery|rides_to_bigquery|data_exporter|sql|refused|block "rides_to_bigquery" runs its SQL in bigquery (configuration.data_provider at line 23, column 20 of pipelines/rides_to_bigquery/metadata.yaml); pg_pipeline runs SQL in this PostgreSQL database and exports to it only
streaming_rides||pipeline||refused|pipeline type "streaming" (line 54, column 7 of pipelines/streaming_rides/metadata.yaml): Mage streams it from Kafka, Kinesis and the like and it never ends; pg_pipeline runs batch pipelines; and 1 more (see the block rows)
streaming_rides|kafka_rides|data_loader|yaml|refused|block "kafka_rides" is written in YAML, a Mage data integration or streaming connector (language at line 10, column 13 of pipelines/streaming_rides/metadata.yaml): pg_pipeline runs SQL and Python blocks
streaming_rides|print_rides|transformer|python|refused|not imported: pipeline "streaming_rides" is refused
ROWS
)
if [ "$got" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$got") || true
  fail "the mixed project's outcome table differs from the expected one (above: < expected, > got)"
fi
echo "ok - every one of the $(wc -l <<<"$got") rows of the mixed project's outcome table (import took $mixed_s s)"
grep -qF 'NOTICE:  ignored chart "passengers_per_vendor" in downstream_blocks of block "keep_passengers" (line 23, column 5 of pipelines/rides_python/metadata.yaml)' \
  "$PGPIPE_TMP/mage_import.notices" || fail "no NOTICE for the chart in downstream_blocks: $(cat "$PGPIPE_TMP/mage_import.notices")"
echo "ok - the chart in downstream_blocks is named in a NOTICE"
check "the project is named after its folder, imported from the copy" \
  "SELECT source_dir = '$work/mage_mixed' FROM pipeline.projects WHERE name = 'mage_mixed'"
check "unquoted {{ env_var() }} in io_config.yaml became values, unset ones a marker (not {\"\": null})" \
  "SELECT settings ->> 'POSTGRES_PORT' = 'PG_PIPELINE_UNSET_ENV_VAR__POSTGRES_PORT__' AND settings ->> 'POSTGRES_SCHEMA' = 'public'
     AND jsonb_typeof(settings -> 'POSTGRES_DBNAME') = 'string' FROM pipeline.profiles WHERE project = 'mage_mixed' AND profile = 'dev'"
check "only the runnable pipelines are in the catalog" \
  "SELECT array_agg(name ORDER BY name) = '{rides_python,rides_sql}' FROM pipeline.pipelines WHERE project = 'mage_mixed'"
sql "SELECT pipeline.run('rides_sql', project => 'mage_mixed'), pipeline.run('rides_python', project => 'mage_mixed')" >/dev/null
check "rides_sql ran: the renamed block read as {{ df_1 }} and block_output('cleaning/drop empty rides')" \
  "SELECT array_agg(passenger_count ORDER BY vendor_id) = '{1,3}' FROM mixed.rides_sql"
check "rides_python ran (its loader in Python, the rest compiled): rows with passengers, columns lower-cased as Mage's exporter does" \
  "SELECT array_agg(passenger_count ORDER BY trip_distance) = '{2,1,3}' AND count(vendorid) = 3 FROM mixed.rides"
check "the transformer's print is in the run log" \
  "SELECT EXISTS (SELECT FROM pipeline.run_log WHERE message = 'Preprocessing: rows with zero passengers: 1')"
got=$(sql "SELECT outcome || ': ' || reason FROM pipeline.import_project('$work/mage_mixed', schedules => true) WHERE block = 'every_morning'" 2>/dev/null)
[[ "$got" == "imported: scheduled '0 6 * * *' as pg_cron job "* ]] || fail "schedules => true: $got"
check "schedules => true made the daily trigger a pg_cron schedule" \
  "SELECT s.cron = '0 6 * * *' AND j.schedule = '0 6 * * *' FROM pipeline.schedules s JOIN pipeline.pipelines p USING (pipeline_id)
     JOIN cron.job j USING (jobid) WHERE p.name = 'rides_python'"
sql "SELECT pipeline.unschedule('rides_python', 'mage_mixed')" >/dev/null

echo "# 2. api_to_postgres and green_taxi_etl, compiled to native blocks, against pandas"
t0=$(date +%s.%N)
got=$(sql "SELECT string_agg(pipeline || ' ' || outcome, ', ' ORDER BY pipeline) FROM pipeline.import_project('$work/mage_python', 'taxi') WHERE kind = 'pipeline'" 2>/dev/null)
python_s=$(seconds_since "$t0")
[ "$got" = "api_to_postgres imported, green_taxi_etl imported" ] || fail "importing mage_python: $got"
echo "ok - both Python pipelines imported (import took $python_s s)"
check "every block of both compiled to a native block (the catalog holds SQL blocks, no Python block)" \
  "SELECT count(*) = 6 AND bool_and(definition ->> 'language' IS DISTINCT FROM 'python') FROM pipeline.blocks WHERE project = 'taxi'"
check "a compiled block keeps its file's text and path, unchanged but for the URL" \
  "SELECT definition ->> 'python' = pg_read_file('$work/mage_python/transformers/transform_taxi_data.py')
     AND definition ->> 'compiled_from' = 'transformers/transform_taxi_data.py' FROM pipeline.blocks WHERE name = 'transform_taxi_data'"
got=$(sql "SELECT string_agg(block || ': ' || coalesce(reason, ''), E'\n' ORDER BY block) FROM pipeline.import_project('$work/mage_python', 'taxi')
            WHERE kind IN ('data_loader', 'transformer', 'data_exporter') AND reason NOT LIKE 'native: compiled from %'" 2>/dev/null)
[ -z "$got" ] || fail "importing mage_python again, blocks that are not native: $got"
echo "ok - the import rows say native: compiled from <file> for all six blocks"
t0=$(date +%s.%N)
sql "SELECT pipeline.run('api_to_postgres', project => 'taxi')" >/dev/null
echo "   (api_to_postgres ran in $(seconds_since "$t0") s)"
out=$($PY "$PGPIPE_ROOT/test/python/mage_reference.py" --project "$work/mage_python" --pipeline api_to_postgres \
  --table ny_taxi.yellow_taxi_data) || fail "api_to_postgres: $out"
echo "ok - $out"
check "its tests ran as SQL tests (the loader's and the transformer's @test passed) and the log says native" \
  "SELECT count(*) FILTER (WHERE message LIKE 'test passed: %') = 2
      AND count(*) FILTER (WHERE message LIKE 'native, compiled from %') = 3
     FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs)"
t0=$(date +%s.%N)
sql "SELECT pipeline.run('green_taxi_etl', project => 'taxi')" >/dev/null
echo "   (green_taxi_etl ran in $(seconds_since "$t0") s)"
out=$($PY "$PGPIPE_ROOT/test/python/mage_reference.py" --project "$work/mage_python" --pipeline green_taxi_etl \
  --table mage.green_taxi) || fail "green_taxi_etl: $out"
echo "ok - $out"
check "green_taxi_etl: three months, snake_case names, a date column, no zero passengers or distance" \
  "SELECT count(*) > 8000 AND count(*) FILTER (WHERE passenger_count = 0 OR trip_distance = 0) = 0
     AND min(lpep_pickup_date) IS NOT NULL FROM mage.green_taxi"
check "... typed as Mage's exporter types them (vendor_id bigint, lpep_pickup_date date)" \
  "SELECT array_agg(column_name || ' ' || data_type ORDER BY column_name) @> '{\"vendor_id bigint\",\"lpep_pickup_date date\",\"pu_location_id bigint\"}'
     FROM information_schema.columns WHERE table_schema = 'mage' AND table_name = 'green_taxi'"

echo "# 3. a hostile second user"
got=$(as mi_carol "SELECT pipeline || '|' || outcome || '|' || coalesce(reason, '') FROM pipeline.import_project('$work/mage_mixed', 'carol_mixed') WHERE kind = 'pipeline' AND pipeline IN ('rides_python', 'rides_sql') ORDER BY 1")
expected='rides_python|refused|pipeline "rides_python" has Python blocks (load_rides, keep_passengers, export_rides), and role "mi_carol" may not run Python (SQLSTATE 42501)
rides_sql|imported|'
[ "$got" = "$expected" ] || fail "without pipeline_python: got $got"
echo "ok - without pipeline_python the Python pipeline is refused (42501, precisely), the SQL one imported"
check "... and nothing of the refused pipeline is left (its shared blocks rolled back with it)" \
  "SELECT NOT EXISTS (SELECT FROM pipeline.blocks WHERE project = 'carol_mixed' AND name = 'load_rides')
     AND EXISTS (SELECT FROM pipeline.pipelines WHERE project = 'carol_mixed' AND name = 'rides_sql' AND owner = 'mi_carol'::regrole)"
refused "without pg_read_server_files there is no import" mi_bob \
  "SELECT * FROM pipeline.import_project('$work/mage_mixed', 'bobs')" \
  "permission denied to import a project from the server's file system"
refused "importing into another role's project is refused" mi_carol \
  "SELECT * FROM pipeline.import_project('$work/mage_mixed', 'taxi')" 'project "taxi" belongs to role "postgres"'
got=$(as mi_bob "SELECT count(*) FROM pipeline.profiles" | tail -1)
[ "$got" = 0 ] || fail "mi_bob reads $got profile rows of other roles' projects"
echo "ok - another role reads none of the projects' profiles (row-level security)"
refused "nor sets them" mi_bob "SELECT pipeline.set_profile('taxi', 'dev', '{\"POSTGRES_DBNAME\": \"x\"}')" \
  'project "taxi" belongs to role "postgres"'
# A pipeline of mi_bob's in the taxi project: its runs get the profiles mi_bob may read (none).
shows_profiles=$(cat <<'Y'
name: NAME
blocks:
  - name: show
    type: custom
    language: python
    python: |
      from pg_pipeline_runtime import context
      @custom
      def show(*args, **kwargs):
          print('profiles: %s' % sorted(context.current().request.io_config))
Y
)
register_as() {  # register_as ROLE NAME: that pipeline, in project taxi, as ROLE
  psql_q -d $db -v role="$1" -v y="$(sed "s/NAME/$2/" <<<"$shows_profiles")" >/dev/null <<'SQL'
SET ROLE :role;
SELECT pipeline.register(:'y', 'taxi');
SQL
}
register_as mi_bob bobs_view
register_as postgres owners_view
as mi_bob "SELECT pipeline.run('bobs_view', project => 'taxi')" >/dev/null
sql "SELECT pipeline.run('owners_view', project => 'taxi')" >/dev/null
check "a run of another role's pipeline in the project gets none of the owner's profiles; the owner's gets them" \
  "SELECT array_agg(l.message ORDER BY p.name) = '{\"profiles: []\",\"profiles: [''default'', ''dev'']\"}'
     FROM pipeline.run_log l JOIN pipeline.runs r USING (run_id) JOIN pipeline.pipelines p USING (pipeline_id)
    WHERE p.name IN ('bobs_view', 'owners_view') AND l.message LIKE 'profiles:%'"

# A project whose files point out of its folder.
hostile=$work/hostile
mkdir -p "$hostile"/pipelines/{up,absolute,linked_file,fifo,big,uuid} "$hostile/data_loaders"
printf 'blocks:\n- uuid: load\n  type: data_loader\n  configuration: {file_path: ../../../../../../etc/passwd}\n' >"$hostile/pipelines/up/metadata.yaml"
printf 'blocks:\n- uuid: load\n  type: data_loader\n  configuration: {file_source: {path: /etc/passwd}}\n' >"$hostile/pipelines/absolute/metadata.yaml"
printf 'blocks:\n- {uuid: "../../../../../../etc/passwd", type: data_loader, language: sql}\n' >"$hostile/pipelines/uuid/metadata.yaml"
ln -s /etc/passwd "$hostile/data_loaders/passwd.py"
printf 'blocks:\n- {uuid: passwd, type: data_loader, language: python}\n' >"$hostile/pipelines/linked_file/metadata.yaml"
mkfifo "$hostile/pipelines/fifo/metadata.yaml"
$PY -c "print('blocks:'); print('- {uuid: big, type: data_loader, language: sql, sql: \"select 1\"}'); print('#' * (1100 * 1024))" \
  >"$hostile/pipelines/big/metadata.yaml"
ln -s /etc "$hostile/pipelines/etc"
ln -s /etc/passwd "$hostile/io_config.yaml"
chmod -R a+rX "$hostile"
got=$(timeout 60 "$PGBIN/psql" -X -q -d $db -At -F '|' -c "SELECT pipeline, kind, outcome, reason FROM pipeline.import_project('$hostile') ORDER BY 1, 2" 2>&1) ||
  fail "importing the hostile project: $got"
expected=$(cat <<ROWS
absolute|data_loader|refused|block "load" names its file "/etc/passwd" (configuration.file_source.path at line 4, column 39 of pipelines/absolute/metadata.yaml), which is not inside the project folder: it is an absolute path
absolute|pipeline|refused|block "load" names its file "/etc/passwd" (configuration.file_source.path at line 4, column 39 of pipelines/absolute/metadata.yaml), which is not inside the project folder: it is an absolute path
big|pipeline|refused|"pipelines/big/metadata.yaml" is $(stat -c %s "$hostile/pipelines/big/metadata.yaml") bytes, more than the limit of 1048576 bytes
etc|pipeline|refused|pipelines/etc is a symbolic link, which the import does not follow
fifo|pipeline|refused|"pipelines/fifo/metadata.yaml" is not a regular file
linked_file|data_loader|refused|block "passwd": "data_loaders/passwd.py" is or goes through a symbolic link, which the import does not follow
linked_file|pipeline|refused|block "passwd": "data_loaders/passwd.py" is or goes through a symbolic link, which the import does not follow
up|data_loader|refused|block "load" names its file "../../../../../../etc/passwd" (configuration.file_path at line 4, column 30 of pipelines/up/metadata.yaml), which is not inside the project folder: it goes up out of the folder with ".."
up|pipeline|refused|block "load" names its file "../../../../../../etc/passwd" (configuration.file_path at line 4, column 30 of pipelines/up/metadata.yaml), which is not inside the project folder: it goes up out of the folder with ".."
uuid|data_loader|refused|block "../../../../../../etc/passwd"'s file "data_loaders/../../../../../../etc/passwd.sql" is not inside the project folder: it goes up out of the folder with ".."
uuid|pipeline|refused|block "../../../../../../etc/passwd"'s file "data_loaders/../../../../../../etc/passwd.sql" is not inside the project folder: it goes up out of the folder with ".."
|io_config|refused|"io_config.yaml" is or goes through a symbolic link, which the import does not follow
ROWS
)
if [ "$got" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$got") || true
  fail "the hostile project's outcome table differs (above: < expected, > got)"
fi
echo "ok - .., absolute paths, odd uuids, linked files and folders, a FIFO and a 1.1 MB file are refused, each named"
check "nothing of /etc/passwd reached the catalog" \
  "SELECT NOT EXISTS (SELECT FROM pipeline.blocks WHERE definition::text LIKE '%root:%')
     AND NOT EXISTS (SELECT FROM pipeline.profiles WHERE settings::text LIKE '%root:%')
     AND NOT EXISTS (SELECT FROM pipeline.pipelines WHERE project = 'hostile')"

echo "# 4. a remote profile: the exporter writes to another server"
rm -rf "$remote_data" && mkdir -p "$remote_data" && chown postgres:postgres "$remote_data"
as_postgres "$PGBIN/initdb" -D "$remote_data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PGPIPE_TMP/remote_initdb.log"
cat >>"$remote_data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $remote_port
unix_socket_directories = '$PGSOCK'
fsync = off
CONF
as_postgres "$PGBIN/pg_ctl" -D "$remote_data" -l "$PGPIPE_TMP/remote.log" -w -t 60 start >/dev/null
remote() { "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$remote_port" -U postgres -d postgres -c "$1"; }
local_rows=$(sql "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) || ' ' || count(*) FROM ny_taxi.yellow_taxi_data t")
sql "DROP TABLE ny_taxi.yellow_taxi_data" >/dev/null
# (a compiled exporter writes here: the profile is read at import; the Python one reads it at run time)
sql "SELECT count(*) FROM pipeline.import_project('$work/mage_python', 'taxi_remote', native => false)" >/dev/null 2>&1
sql "SELECT pipeline.set_profile('taxi_remote', 'dev', '{\"pg_pipeline_remote\": true, \"POSTGRES_HOST\": \"127.0.0.1\",
       \"POSTGRES_PORT\": $remote_port, \"POSTGRES_DBNAME\": \"postgres\", \"POSTGRES_USER\": \"postgres\",
       \"POSTGRES_PASSWORD\": \"unused\", \"POSTGRES_CONNECT_TIMEOUT\": 10}')" >/dev/null
check "native => false imported every block as Python" \
  "SELECT count(*) = 6 AND bool_and(definition ->> 'language' = 'python') FROM pipeline.blocks WHERE project = 'taxi_remote'"
sql "SELECT pipeline.run('api_to_postgres', project => 'taxi_remote')" >/dev/null
remote_rows=$(remote "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) || ' ' || count(*) FROM ny_taxi.yellow_taxi_data t")
[ "$remote_rows" = "$local_rows" ] || fail "the remote table ($remote_rows) is not what the local run published ($local_rows)"
echo "ok - through the remote profile the rows arrived on the second server (${local_rows#* } rows, the same as locally)"
check "... and not in this database" "SELECT to_regclass('ny_taxi.yellow_taxi_data') IS NULL"
check "the run log says where they went" \
  "SELECT EXISTS (SELECT FROM pipeline.run_log WHERE message LIKE 'created ny_taxi.yellow_taxi_data with % rows on the remote server')"
got=$(sql "SELECT reason FROM pipeline.import_project('$work/mage_python', 'taxi_remote') WHERE block = 'export_taxi_data_to_postgres'" 2>/dev/null)
[[ "$got" == "python: data_exporters/export_taxi_data_to_postgres.py, line "*"is another server"* ]] ||
  fail "importing with a remote profile: the exporter's row says: $got"
echo "ok - imported again with the profile remote, the exporter stays Python and its row says why"
remote_stop
echo "ok - the second cluster is stopped"
echo "   (imports: mage_mixed $mixed_s s, mage_python $python_s s)"
