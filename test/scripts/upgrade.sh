#!/usr/bin/env bash
# ALTER EXTENSION pg_pipeline UPDATE from a populated 0.1 catalog: the rows 0.1 made
# (test/fixtures/upgrade/catalog_0.1.sql: pipelines, versions, a shared block in use, runs
# succeeded, failed and queued, a secret), the staging a failed run kept and the pg_cron job a
# 0.1 schedule made come through; the updated catalog (0.1 -> 0.2 -> 0.3) equals a fresh 0.3
# install, fact for fact; and pipelines run afterwards, the queued run included. Then a 0.2
# catalog: this library runs its fused chains as 0.2 did (tests scanning the loaded table: 0.2
# has no pipeline._count_row), and after the update to 0.3 with the tests counted by the load,
# with the same verdicts.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
root=$PGPIPE_ROOT
db=postgres  # (pg_cron's database: a 0.1 schedule lives there)

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS pg_pipeline CASCADE" \
  -c "DROP SCHEMA IF EXISTS pipeline CASCADE" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
  -c "CREATE EXTENSION IF NOT EXISTS plpython3u" \
  -c "DROP SCHEMA IF EXISTS alice_data CASCADE" -c "DROP DATABASE IF EXISTS fresh02" >/dev/null
psql_q -d $db -c "DROP OWNED BY u01_alice" -c "DROP ROLE u01_alice" >/dev/null 2>&1 || true

# A 0.1 installation, as 0.1 made it: the extension lives in schema pipeline (0.2 lives in
# pg_catalog, so the shipped 0.1 script is given its schema, and the extension put back in it).
psql_q -d $db >/dev/null <<'SQL'
CREATE SCHEMA pipeline;
CREATE EXTENSION pg_pipeline VERSION '0.1';
UPDATE pg_extension SET extnamespace = 'pipeline'::regnamespace WHERE extname = 'pg_pipeline';
INSERT INTO pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
SELECT 'pg_extension'::regclass, oid, 0, 'pg_namespace'::regclass, 'pipeline'::regnamespace, 0, 'n'
  FROM pg_extension WHERE extname = 'pg_pipeline';
CREATE ROLE u01_alice LOGIN IN ROLE pipeline_user;
CREATE SCHEMA alice_data AUTHORIZATION u01_alice;
SQL
psql_q -d $db -v alice=u01_alice -f "$root/test/fixtures/upgrade/catalog_0.1.sql" >/dev/null
psql_q -d $db >/dev/null <<'SQL'
-- the staging 0.1 kept for failed run 3, and the pg_cron job of a 0.1 schedule
CREATE UNLOGGED TABLE pipeline_staging.r3_load AS SELECT 1 AS n;
ALTER TABLE pipeline_staging.r3_load OWNER TO u01_alice;
-- a project imported by 0.1 with its io_config.yaml, password and all, in pipeline.projects
INSERT INTO pipeline.projects (name, owner, source_dir, io_config)
VALUES ('zoom01', 'u01_alice', '/srv/mage/zoom01',
        '{"version": "0.1.1", "dev": {"POSTGRES_DBNAME": "ny_taxi", "POSTGRES_PASSWORD": "s3cret"}, "default": {}}');
SELECT cron.schedule_in_database('pipeline:default.numbers', '0 6 * * *', $c$DO $job$ BEGIN IF to_regprocedure('pipeline._scheduled_trigger(text,text,text,jsonb)') IS NULL THEN PERFORM cron.unschedule('pipeline:default.numbers'); ELSE PERFORM pipeline._scheduled_trigger('numbers', 'default', '0 6 * * *', '{"n": 7}'::jsonb); END IF; END $job$;$c$, current_database(), 'u01_alice');
SQL
check "a populated 0.1 catalog" "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_pipeline') = '0.1'
  AND (SELECT count(*) FROM pipeline.pipelines) = 4 AND (SELECT count(*) FROM pipeline.runs) = 6"

sql "ALTER EXTENSION pg_pipeline UPDATE" >/dev/null
check "ALTER EXTENSION pg_pipeline UPDATE reaches 0.3" "SELECT extversion = '0.3' FROM pg_extension WHERE extname = 'pg_pipeline'"
check "schema pipeline is now the extension's own (DROP EXTENSION removes it)" \
  "SELECT EXISTS (SELECT FROM pg_depend WHERE classid = 'pg_namespace'::regclass AND objid = 'pipeline'::regnamespace AND deptype = 'e')"
check "every row came through" "SELECT (SELECT count(*) FROM pipeline.pipelines) = 4 AND (SELECT count(*) FROM pipeline.pipeline_versions) = 4
  AND (SELECT count(*) FROM pipeline.runs) = 6 AND (SELECT count(*) FROM pipeline.secrets) = 1 AND (SELECT count(*) FROM pipeline.run_log) > 0"
check "the version using the shared block pins it" \
  "SELECT b ->> 'pin' = (SELECT hash FROM pipeline.blocks WHERE name = 'gen' AND pipeline_id IS NULL)
     FROM pipeline.pipeline_versions v JOIN pipeline.pipelines p USING (pipeline_id), jsonb_array_elements(v.spec -> 'blocks') b
    WHERE p.name = 'uses_gen' AND b ->> 'name' = 'gen'"
check "the kept staging is recorded by OID, as its run's role's" \
  "SELECT relid = 'pipeline_staging.r3_load'::regclass AND owner = 'u01_alice'::regrole FROM pipeline.staging WHERE run_id = 3"
check "the 0.1 schedule became a schedule whose job fires it" \
  "SELECT s.variables = '{\"n\": 7}' AND s.owner = 'u01_alice'::regrole AND j.command = format('SELECT pipeline._fire_schedule(%s)', s.schedule_id)
     FROM pipeline.schedules s JOIN cron.job j USING (jobid)"
check "with PL/Python in the database, the update made Python blocks runnable, by pipeline_python only" \
  "SELECT has_function_privilege('pipeline_python', 'pipeline._python_block(jsonb)', 'EXECUTE')
     AND NOT has_function_privilege('pipeline_user', 'pipeline._python_block(jsonb)', 'EXECUTE')"
check "0.1's io_config became profiles owned by the project's owner, and left pipeline.projects" \
  "SELECT jsonb_object_agg(profile, jsonb_build_object('settings', settings, 'owner', owner::text))
          = '{\"default\": {\"owner\": \"u01_alice\", \"settings\": {}},
              \"dev\": {\"owner\": \"u01_alice\", \"settings\": {\"POSTGRES_DBNAME\": \"ny_taxi\", \"POSTGRES_PASSWORD\": \"s3cret\"}}}'
     AND NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'pipeline.projects'::regclass AND attname = 'io_config' AND NOT attisdropped)
     FROM pipeline.profiles WHERE project = 'zoom01'"
check "pipeline_user writes no catalog table any more" \
  "SELECT NOT has_table_privilege('pipeline_user', 'pipeline.runs', 'INSERT') AND NOT has_table_privilege('pipeline_user', 'pipeline.pipeline_versions', 'UPDATE')
     AND NOT has_schema_privilege('pipeline_user', 'pipeline_staging', 'CREATE')"

# The same catalog as a fresh install, fact for fact.
psql_q -d $db -c "CREATE DATABASE fresh02" >/dev/null
psql_q -d fresh02 -c "CREATE EXTENSION plpython3u" -c "CREATE EXTENSION pg_pipeline" >/dev/null
fingerprint=$root/test/fixtures/upgrade/fingerprint.sql
diff <(psql_q -d $db -f "$fingerprint") <(psql_q -d fresh02 -f "$fingerprint") > "$PGPIPE_TMP/upgrade.diff" ||
  { head -40 "$PGPIPE_TMP/upgrade.diff"; fail "the upgraded catalog differs from a fresh 0.3 install (above)"; }
echo "ok - the upgraded catalog equals a fresh 0.3 install ($(psql_q -d $db -f "$fingerprint" | wc -l) facts)"
psql_q -d postgres -c "DROP DATABASE fresh02" >/dev/null

# Pipelines run afterwards: the queued 0.1 run is started by the launcher, and new runs work.
check "the run 0.1 left queued ran after the update" "SELECT pipeline.wait(6, '60 s') = 'succeeded'"
check "... as its role, publishing its rows" "SELECT count(*) = 3 FROM alice_data.numbers"
r=$(psql_q -d $db -At -c "SET ROLE u01_alice" -c "SELECT pipeline.run('uses_gen', '{\"n\": 4}')" | tail -1)
check "a new run of the pipeline using the shared block succeeds" "SELECT status = 'succeeded' FROM pipeline.runs WHERE run_id = $r"
r=$(psql_q -d $db -At -c "SET ROLE u01_alice" -c "SELECT pipeline.retry(3)" | tail -1)
check "a retry of the failed 0.1 run runs (its kept load reused, its broken block failing again)" \
  "SELECT pipeline.wait($r, '60 s') = 'failed' AND (SELECT status FROM pipeline.block_runs WHERE run_id = $r AND block_name = 'load') = 'succeeded'"

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION pg_pipeline" -c "DROP SCHEMA alice_data CASCADE" >/dev/null
check "DROP EXTENSION leaves no schema, job or staging behind" \
  "SELECT NOT EXISTS (SELECT FROM pg_namespace WHERE nspname LIKE 'pipeline%') AND NOT EXISTS (SELECT FROM cron.job WHERE jobname LIKE 'pipeline:%')"
psql_q -d $db -c "DROP OWNED BY u01_alice" -c "DROP ROLE u01_alice" >/dev/null

# A 0.2 catalog with this library: a fused chain's tests scan the loaded table, as under 0.2;
# updated to 0.3, the load counts them; the verdicts are the same.
psql_q -d $db -c "CREATE EXTENSION pg_pipeline VERSION '0.2'" >/dev/null
psql_q -d $db -v base="http://127.0.0.1:$PGPIPE_HTTP_PORT/files/chunky" >/dev/null <<'SQL'
SELECT pipeline.register(format($y$
name: counted02
blocks:
  - name: load
    type: data_loader
    source: {url: "%s/quoted.csv", columns: {id: bigint, amount: float64, at: timestamp}}
  - name: keep
    type: transformer
    upstream: [load]
    sql: SELECT * FROM {{ load }} WHERE id %% 7 <> 0
    tests: [{expression: "amount < 500", severity: warn}]
  - {name: export, type: data_exporter, upstream: [keep], target: {schema: public, table: counted02}}
$y$, :'base'));
SQL
verdict="SELECT string_agg(message, ' | ' ORDER BY log_id) FROM pipeline.run_log
          WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) AND block_name = 'keep' AND message LIKE 'test%'"
counted="SELECT EXISTS (SELECT FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) AND message LIKE '%counted by the load%')"
check "a fused chain runs on a 0.2 catalog" "SELECT pipeline.run('counted02') > 0"
before=$(psql_q -d $db -At -c "$verdict")
check "... its tests scanning the table (0.2 has no pipeline._count_row)" "SELECT NOT ($counted)"
sql "ALTER EXTENSION pg_pipeline UPDATE" >/dev/null
check "ALTER EXTENSION pg_pipeline UPDATE takes 0.2 to 0.3" "SELECT extversion = '0.3' FROM pg_extension WHERE extname = 'pg_pipeline'"
check "the chain runs after the update" "SELECT pipeline.run('counted02') > 0"
check "... its tests counted by the load" "$counted"
after=$(psql_q -d $db -At -c "$verdict")
[ "$before" = "$after" ] || fail "the verdicts differ: before the update '$before', after '$after'"
echo "ok - the same verdicts before and after: $after"
psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION pg_pipeline" -c "DROP TABLE counted02" \
  -c "CREATE EXTENSION pg_pipeline" >/dev/null
echo "ok"
