#!/usr/bin/env bash
# User rows of the catalog survive pg_dump and pg_restore: projects and their profiles, pipelines with all their
# versions, shared and local blocks, runs; identity sequences continue past restored ids.
# Runs against the cluster of scripts/test.sh (PGHOST/PGPORT/PGUSER set by scripts/lib.sh).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
root=$PGPIPE_ROOT
dump=$PGPIPE_TMP/dump_restore.dump
psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS dump_src" -c "DROP DATABASE IF EXISTS dump_dst" -c "CREATE DATABASE dump_src"
psql_q -d dump_src -v taxi="$(cat "$root/examples/nyc_taxi.yaml")" >/dev/null <<'SQL'
CREATE EXTENSION pg_pipeline;
SELECT pipeline.register(:'taxi');
SELECT pipeline.register(replace(:'taxi', 'Load a month', 'Load one month'));
SELECT pipeline.create_project('shop');
SELECT pipeline.register(E'name: orders\nblocks:\n  - {name: today, type: data_loader, shared: true, sql: select 1 as n}\n', 'shop');
SELECT pipeline.set_profile('shop', 'dev', '{"pg_pipeline_remote": true, "POSTGRES_HOST": "db", "POSTGRES_DBNAME": "shop", "POSTGRES_USER": "u"}');
INSERT INTO pipeline.runs (pipeline_id, version) SELECT pipeline_id, 1 FROM pipeline.pipelines;
INSERT INTO pipeline.run_log (run_id, message) SELECT run_id, 'hello from before the dump' FROM pipeline.runs;
SQL
fingerprint() {
  "$PGBIN/psql" -X -At -d "$1" -c "
    SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
      SELECT format('%s/%s/%s', project, name, description) FROM pipeline.pipelines
      UNION ALL SELECT format('%s/%s', version, md5(yaml)) FROM pipeline.pipeline_versions
      UNION ALL SELECT format('%s/%s/%s', project, name, pipeline_id IS NULL) FROM pipeline.blocks
      UNION ALL SELECT format('%s/%s', name, source_dir) FROM pipeline.projects
      UNION ALL SELECT format('%s/%s/%s/%s', project, profile, settings, owner) FROM pipeline.profiles
      UNION ALL SELECT format('%s/%s', run_id, status) FROM pipeline.runs
      UNION ALL SELECT message FROM pipeline.run_log) AS t (x)"
}
before=$(fingerprint dump_src)
"$PGBIN/pg_dump" -Fc -d dump_src -f "$dump"
psql_q -d postgres -c "CREATE DATABASE dump_dst"
"$PGBIN/pg_restore" -d dump_dst "$dump"
after=$(fingerprint dump_dst)
if [ "$before" != "$after" ]; then
  echo "FAIL: catalog differs after restore ($before vs $after)"; exit 1
fi
# New ids continue after the restored ones, and the restored pipeline still works.
new_run=$(psql_q -At -d dump_dst -c "INSERT INTO pipeline.runs (pipeline_id, version) SELECT pipeline_id, 1 FROM pipeline.pipelines WHERE name = 'orders' RETURNING run_id")
max_old=$(psql_q -At -d dump_src -c "SELECT max(run_id) FROM pipeline.runs")
[ "$new_run" -gt "$max_old" ] || { echo "FAIL: run id $new_run reused (max before dump $max_old)"; exit 1; }
dag=$(psql_q -At -d dump_dst -c "SELECT pipeline.dag('api_to_postgres')")
grep -q "load_api_data --> transform_taxi_data" <<<"$dag" || { echo "FAIL: dag after restore: $dag"; exit 1; }
echo "ok: catalog identical after pg_dump/pg_restore (fingerprint $before), ids continue ($new_run > $max_old)"
# pg_pipeline alone, as docs/sql-reference.md ("pg_dump") says: -n pipeline by itself dumps none
# of it (the schema is the extension's, whose rows come only with the extension); -e pg_pipeline
# -n pipeline is CREATE EXTENSION and the catalog's rows, restored into a database without it.
if "$PGBIN/pg_dump" -n pipeline -d dump_src | grep -qE '^(COPY|CREATE EXTENSION)'; then
  echo "FAIL: pg_dump -n pipeline dumped part of the extension; docs/sql-reference.md says it dumps none"; exit 1
fi
psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS dump_one" -c "CREATE DATABASE dump_one"
"$PGBIN/pg_dump" -e pg_pipeline -n pipeline -d dump_src | psql_q -d dump_one -v ON_ERROR_STOP=1 >/dev/null
one=$(fingerprint dump_one)
[ "$before" = "$one" ] || { echo "FAIL: catalog differs after pg_dump -e pg_pipeline -n pipeline ($before vs $one)"; exit 1; }
psql_q -d postgres -c "DROP DATABASE dump_src" -c "DROP DATABASE dump_dst" -c "DROP DATABASE dump_one"
echo "ok: pg_dump -n pipeline dumps none of the extension; pg_dump -e pg_pipeline -n pipeline restores the catalog alone"
