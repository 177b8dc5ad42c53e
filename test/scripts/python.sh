#!/usr/bin/env bash
# Python blocks in the suite's cluster: the seed's api_to_postgres blocks (test/fixtures/
# mage_python) run through pipeline._python_block and are compared with pandas running the same
# code outside the server (test/python/in_server_checks.py: 24 checks of types, filters, prints,
# @tests, exports, failures, privileges, cancel, statement_timeout, a memory ceiling, a remote
# profile); then a Python pipeline registered and run end to end by the executor; and a database
# without PL/Python refusing Python pipelines until a superuser enables it.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
PY=/usr/bin/python3  # the interpreter PL/Python embeds, with pandas
rows=20000

psql_q -d postgres -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS plpython3u" \
  -c "DROP EXTENSION IF EXISTS pg_pipeline CASCADE" -c "CREATE EXTENSION pg_pipeline" \
  -c "DROP SCHEMA IF EXISTS ny_taxi, ny_taxi_remote, ny_taxi_alice, pyt CASCADE" >/dev/null
for role in alice bob; do  # (the checks' own roles, left by an earlier run)
  psql_q -d postgres -c "DROP OWNED BY $role" -c "DROP ROLE $role" >/dev/null 2>&1 || true
done
www=$PGPIPE_TMP/www
$PY "$PGPIPE_ROOT/test/fixtures/gen_taxi.py" --rows $rows --out "$www/yellow_tripdata_2021-01.csv.gz" 2>/dev/null
project=$PGPIPE_TMP/fixtures/mage_python  # (publish_fixtures: where the server may read it)
[ -d "$project" ] || publish_fixtures

# 1. The runtime, block by block, against pandas.
$PY "$PGPIPE_ROOT/test/python/in_server_checks.py" --project "$project" \
  --remote-project "$PGPIPE_TMP/remote_project" --http-port "$PGPIPE_HTTP_PORT" --rows $rows >"$PGPIPE_TMP/in_server_checks.log" 2>&1 ||
  { tail -40 "$PGPIPE_TMP/in_server_checks.log"; fail "in_server_checks.py failed"; }
tail -3 "$PGPIPE_TMP/in_server_checks.log"
echo "ok - the seed's blocks in the server compute what pandas computes"

# 2. The executor: the three blocks as a registered pipeline, run like any other.
$PY - "$project" "$PGPIPE_HTTP_PORT" >"$PGPIPE_TMP/py_taxi.json" <<'PYEOF'
import json, sys
root, port = sys.argv[1], sys.argv[2]
def block(name, kind, path, upstream=None):
    source = open(f"{root}/{path}").read().replace("127.0.0.1:54340", f"127.0.0.1:{port}")
    b = {"name": name, "type": kind, "language": "python", "file": path, "python": source}
    if upstream:
        b["upstream"] = upstream
    return b
print(json.dumps({"name": "py_taxi", "blocks": [
    block("load_api_data", "data_loader", "data_loaders/load_api_data.py"),
    block("transform_taxi_data", "transformer", "transformers/transform_taxi_data.py", ["load_api_data"]),
    block("export_taxi_data_to_postgres", "data_exporter", "data_exporters/export_taxi_data_to_postgres.py",
          ["transform_taxi_data"])]}))
PYEOF
psql_q -d postgres -v y="$(cat "$PGPIPE_TMP/py_taxi.json")" -At <<'SQL' >/dev/null
SELECT pipeline.register(:'y');
SQL
r=$(sql "SELECT pipeline.run('py_taxi')")
check "the Python pipeline ran: loaded, filtered, exported" \
  "SELECT array_agg(block_name || ':' || status || ':' || coalesce(rows_out::text, '-') ORDER BY block_run_id)
        = ARRAY['load_api_data:succeeded:$rows', 'transform_taxi_data:succeeded:' || (SELECT count(*) FROM ny_taxi.yellow_taxi_data),
                'export_taxi_data_to_postgres:succeeded:-']
     FROM pipeline.block_runs WHERE run_id = $r"
check "rides without passengers were dropped, as the seed's transformer says" \
  "SELECT count(*) > 0 AND count(*) FILTER (WHERE passenger_count = 0 OR passenger_count IS NULL) = 0 FROM ny_taxi.yellow_taxi_data"
check "Mage's exporter lower-cases column names" \
  "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'ny_taxi' AND column_name = 'vendorid')"
check "its prints and @tests are in the run log" \
  "SELECT count(*) FILTER (WHERE message LIKE 'Preprocessing: records with zero passengers: %') = 1
      AND count(*) FILTER (WHERE message = 'test passed: test_output') = 2 FROM pipeline.run_log WHERE run_id = $r"
check "its staging was dropped with the run's success" "SELECT NOT EXISTS (SELECT FROM pipeline.staging WHERE run_id = $r)"

# 3. Without PL/Python, Python pipelines are refused saying how to enable it; enabling works.
psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS nopython" -c "CREATE DATABASE nopython" >/dev/null
psql_q -d nopython -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_pipeline" >/dev/null
err=$(psql_q -d nopython -At 2>&1 <<SQL || true
\set y \`cat $PGPIPE_TMP/py_taxi.json\`
SELECT pipeline.register(:'y');
SQL
)
grep -q 'this database cannot run Python blocks: PL/Python is not enabled' <<<"$err" || fail "no PL/Python: $err"
grep -q 'SELECT pipeline.enable_python()' <<<"$err" || fail "the refusal does not say how to enable Python: $err"
echo "ok - without PL/Python a Python pipeline is refused, saying how to enable it"
sql "SELECT pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1 as n}\n')" nopython >/dev/null
check "SQL pipelines work there all the same" "SELECT pipeline.run('p') > 0" nopython
check "a superuser enables Python afterwards" "SELECT pipeline.enable_python()" nopython
psql_q -d nopython -At >/dev/null <<SQL
\set y \`cat $PGPIPE_TMP/py_taxi.json\`
SELECT pipeline.register(:'y');
SQL
echo "ok - ... and then the Python pipeline registers"
check "DROP EXTENSION takes the Python runtime's function with it" \
  "SELECT pg_catalog.pg_describe_object(classid, objid, 0) IS NOT NULL FROM pg_depend
    WHERE objid = 'pipeline._python_block(jsonb)'::regprocedure AND deptype = 'e'" nopython
psql_q -d nopython -c "DROP EXTENSION pg_pipeline" >/dev/null
check "... leaving no function behind" "SELECT to_regprocedure('pipeline._python_block(jsonb)') IS NULL" nopython
psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE nopython" -c "DROP SCHEMA IF EXISTS ny_taxi CASCADE" >/dev/null
echo "ok"
