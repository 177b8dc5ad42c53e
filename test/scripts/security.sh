#!/usr/bin/env bash
# The security model, tried as a second, hostile user would (findings/security-audit-2026-11):
# three roles, alice (the victim: a pipeline user with a secret, a shared block in use, kept
# staging, a schedule), bob (an attacker with pipeline_user and CREATE on the database and on
# schema public) and mallory (a login with no pipeline_user at all). Every attack must fail with
# a precise error and change nothing of alice's; alice's runs keep working throughout.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
db=postgres
base="http://127.0.0.1:$PGPIPE_HTTP_PORT"
as() { local who=$1; shift; psql_q -d $db -At -c "SET ROLE $who" -c "$1" 2>&1 | tail -n +1; }
refused() {  # refused DESCRIPTION ROLE SQL EXPECTED-ERROR-TEXT
  local got
  got=$(psql_q -d $db -At -c "SET ROLE $2" -c "$3" 2>&1 || true)
  grep -qF -- "$4" <<<"$got" || fail "$1: expected an error containing '$4', got: $got"
  echo "ok - $1"
}
fingerprint() {  # everything of alice's that an attack must not change
  sql "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
         SELECT format('p %s %s %s', pipeline_id, name, owner) FROM pipeline.pipelines WHERE owner = 'sec_alice'::regrole
         UNION ALL SELECT format('v %s %s %s', pipeline_id, version, md5(spec::text)) FROM pipeline.pipeline_versions
         UNION ALL SELECT format('r %s %s %s %s', run_id, status, owner, worker_pid) FROM pipeline.runs WHERE owner = 'sec_alice'::regrole
         UNION ALL SELECT format('b %s %s %s %s', run_id, block_name, status, output_oid) FROM pipeline.block_runs
                    WHERE run_id IN (SELECT run_id FROM pipeline.runs WHERE owner = 'sec_alice'::regrole)
         UNION ALL SELECT format('s %s %s', name, md5(value)) FROM pipeline.secrets WHERE owner = 'sec_alice'::regrole
         UNION ALL SELECT format('k %s %s', relid, relid::regclass) FROM pipeline.staging WHERE owner = 'sec_alice'::regrole
         UNION ALL SELECT format('c %s %s', schedule_id, jobid) FROM pipeline.schedules WHERE owner = 'sec_alice'::regrole
         UNION ALL SELECT format('t %s', count(*)) FROM alice_data.numbers) AS t (x)"
}

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS pg_pipeline CASCADE" \
  -c "DROP SCHEMA IF EXISTS alice_data, bob_s CASCADE" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
  -c "CREATE EXTENSION IF NOT EXISTS plpython3u" >/dev/null
for r in sec_alice sec_bob sec_mallory; do psql_q -d $db -c "DROP OWNED BY $r" -c "DROP ROLE $r" >/dev/null 2>&1 || true; done
psql_q -d $db >/dev/null <<SQL
CREATE EXTENSION pg_pipeline;
CREATE ROLE sec_alice LOGIN IN ROLE pipeline_user;
CREATE ROLE sec_bob LOGIN IN ROLE pipeline_user;
CREATE ROLE sec_mallory LOGIN;
GRANT CREATE ON DATABASE $db TO sec_bob;
GRANT CREATE ON SCHEMA public TO sec_bob;
CREATE SCHEMA alice_data AUTHORIZATION sec_alice;
CREATE SCHEMA bob_s AUTHORIZATION sec_bob;
GRANT USAGE ON SCHEMA bob_s TO PUBLIC;
SQL
# bob's loot table: anything that runs as alice and reaches it is a breach.
as sec_bob "CREATE TABLE bob_s.loot (who text, secret text, what text); GRANT INSERT ON bob_s.loot TO PUBLIC;" >/dev/null
# bob publishes a harmless shared block first; alice uses it.
as sec_bob "SELECT pipeline.register(E'name: bob_lib\nblocks:\n  - {name: calendar, type: data_loader, shared: true, sql: \"select generate_series(1, 3) as d\"}\n')" >/dev/null
as sec_alice "SELECT pipeline.set_secret('api_key', 'ALICE-SECRET-123')" >/dev/null
as sec_alice "SELECT pipeline.register(E'name: alice_numbers\nblocks:\n  - {name: gen, type: data_loader, sql: \"select g as n, length(''{{ secret(''api_key'') }}'') as k from generate_series(1, 5) g\"}\n  - {name: keep, type: data_exporter, upstream: [gen], target: {schema: alice_data, table: numbers, if_exists: replace}}\n')" >/dev/null
as sec_alice "SELECT pipeline.register(E'name: alice_broken\nblocks:\n  - {name: load, type: data_loader, sql: \"select 1 as n\"}\n  - {name: bad, type: transformer, upstream: [load], materialize: table, sql: \"select n / 0 as x from {{ load }}\"}\n')" >/dev/null
as sec_alice "SELECT pipeline.register(E'name: alice_cal\nblocks:\n  - {name: calendar, shared: true}\n  - {name: keep, type: data_exporter, upstream: [calendar], target: {schema: alice_data, table: cal}}\n')" >/dev/null
as sec_alice "SELECT pipeline.run('alice_numbers')" >/dev/null
as sec_alice "SELECT pipeline.run('alice_broken')" >/dev/null 2>&1 || true
as sec_alice "SELECT pipeline.run('alice_cal')" >/dev/null
check "alice's runs work, and her failed run kept its staging" \
  "SELECT count(*) = 1 FROM pipeline.staging s JOIN pipeline.runs r USING (run_id) WHERE r.owner = 'sec_alice'::regrole AND r.status = 'failed'"
kept=$(sql "SELECT relid::regclass FROM pipeline.staging WHERE owner = 'sec_alice'::regrole LIMIT 1")
failed_run=$(sql "SELECT run_id FROM pipeline.runs WHERE owner = 'sec_alice'::regrole AND status = 'failed'")
as sec_alice "SELECT pipeline.schedule('alice_numbers', '0 3 * * *')" >/dev/null
sid=$(sql "SELECT schedule_id FROM pipeline.schedules WHERE owner = 'sec_alice'::regrole")
before=$(fingerprint)

echo "# writes only through the extension (H3, M1, M2, L1)"
refused "bob cannot insert a version with a poisoned spec (H3)" sec_bob \
  "INSERT INTO pipeline.pipeline_versions (pipeline_id, version, yaml, spec) SELECT pipeline_id, 2, 'x', '{\"settings\":{\"max_active_runs\":\"x\"}}' FROM pipeline.pipelines WHERE name = 'bob_lib'" \
  "permission denied for table pipeline_versions"
refused "bob cannot forge a running run of alice's pipeline (M1)" sec_bob \
  "INSERT INTO pipeline.runs (pipeline_id, version, status) SELECT pipeline_id, 1, 'running' FROM pipeline.pipelines" \
  "permission denied for table runs"
refused "bob cannot age his run or point its output at alice's staging (M2)" sec_bob \
  "UPDATE pipeline.block_runs SET output_relation = '$kept'" "permission denied for table block_runs"
refused "bob cannot plant a block in alice's pipeline (L1)" sec_bob \
  "INSERT INTO pipeline.blocks (project, pipeline_id, name, type, definition, yaml) VALUES ('default', 1, 'zz', 'transformer', '{}', 'x')" \
  "permission denied for table blocks"
refused "bob cannot delete alice's history" sec_bob "DELETE FROM pipeline.run_log" "permission denied for table run_log"
refused "bob cannot record staging" sec_bob "INSERT INTO pipeline.staging VALUES (1, 1, 'x', 'sec_bob', 'r')" \
  "permission denied for table staging"
refused "bob cannot write schedules" sec_bob "UPDATE pipeline.schedules SET cron = '* * * * *'" "permission denied for table schedules"
refused "bob cannot steal secrets by rewriting them" sec_bob "UPDATE pipeline.secrets SET owner = 'sec_bob'" \
  "permission denied for table secrets"
echo "# staging cannot be squatted (C1)"
refused "bob cannot create in pipeline_staging (0.1's shared staging schema)" sec_bob \
  "CREATE TABLE pipeline_staging.r99_load (a text)" "permission denied for schema pipeline_staging"
alice_schema=$(sql "SELECT schema_oid::regnamespace FROM pipeline.staging_schemas WHERE role = 'sec_alice'::regrole")
refused "bob cannot create in alice's staging schema" sec_bob \
  "CREATE TABLE $alice_schema.r99_load (a text)" "permission denied for schema"
refused "bob cannot read alice's kept staging" sec_bob "SELECT * FROM $kept" "permission denied for schema"
refused "bob cannot build a view on alice's staging (to block its clean-up)" sec_bob \
  "CREATE VIEW bob_s.hold AS SELECT * FROM $kept" "permission denied for schema"
check "staging names have a random part nobody can predict" \
  "SELECT bool_and(relid::regclass::text ~ '_[0-9a-f]{8}\"?\$') FROM pipeline.staging"
echo "# every function that writes checks whose rows it writes"
alice_run=$(sql "SELECT max(run_id) FROM pipeline.runs WHERE owner = 'sec_alice'::regrole")
refused "bob cannot run alice's pipeline" sec_bob "SELECT pipeline.run('alice_numbers')" 'pipeline "alice_numbers" does not exist'
refused "bob cannot trigger it" sec_bob "SELECT pipeline.trigger('alice_numbers')" 'pipeline "alice_numbers" does not exist'
refused "bob cannot backfill it" sec_bob "SELECT pipeline.backfill('alice_numbers', '2021-01-01', '2021-03-01', '1 month')" 'does not exist'
refused "bob cannot schedule it" sec_bob "SELECT pipeline.schedule('alice_numbers', '0 3 * * *')" 'does not exist'
refused "bob cannot draw it" sec_bob "SELECT pipeline.dag('alice_numbers')" 'does not exist'
refused "bob cannot cancel alice's run" sec_bob "SELECT pipeline.cancel($alice_run)" "run $alice_run does not exist"
refused "bob cannot retry alice's failed run (and reuse her staging)" sec_bob "SELECT pipeline.retry($failed_run)" "run $failed_run does not exist"
refused "bob cannot register over alice's pipeline" sec_bob \
  "SELECT pipeline.register(E'name: alice_numbers\nblocks:\n  - {name: x, type: data_loader, sql: \"select 1\"}\n')" \
  'pipeline "alice_numbers" in project "default" belongs to role "sec_alice"'
got=$(as sec_bob "SELECT pipeline.drop_pipeline('alice_numbers')" | tail -1)
[ "$got" = f ] || fail "bob's drop_pipeline of alice's pipeline returned '$got'"
refused "bob cannot fire alice's schedule as himself" sec_bob "SELECT pipeline._fire_schedule($sid)" "schedule $sid is not the calling role's"
got=$(as sec_bob "SELECT pipeline.unschedule('alice_numbers')" | tail -1)
[ "$got" = f ] || fail "bob's unschedule of alice's pipeline returned '$got'"
echo "ok - bob cannot unschedule or drop alice's pipeline"
seen=$(as sec_bob "SELECT (SELECT count(*) FROM pipeline.pipelines WHERE owner = 'sec_alice'::regrole) + (SELECT count(*) FROM pipeline.runs WHERE owner = 'sec_alice'::regrole) + (SELECT count(*) FROM pipeline.secrets) + (SELECT count(*) FROM pipeline.staging WHERE owner = 'sec_alice'::regrole) + (SELECT count(*) FROM pipeline.schedules WHERE owner = 'sec_alice'::regrole)" | tail -1)
[ "$seen" = 0 ] || fail "bob sees $seen of alice's rows"
refused "bob cannot read alice's secret through pipeline.secret()" sec_bob "SELECT pipeline.secret('api_key')" 'secret "api_key" does not exist'
refused "mallory, without pipeline_user, cannot even look" sec_mallory "SELECT * FROM pipeline.runs" "permission denied for schema pipeline"
refused "mallory cannot call the functions" sec_mallory "SELECT pipeline.trigger('x')" "permission denied for schema pipeline"
refused "nobody calls the DROP EXTENSION hook by hand" sec_bob "SELECT pipeline._on_drop_extension()" "permission denied for function _on_drop_extension"
echo "# limits belong to the administrator (L2, L3)"
for guc in max_redirects max_download_size connect_timeout low_speed_time allowed_url_prefixes fuse_blocks staging_retention; do
  refused "bob cannot SET pipeline.$guc" sec_bob "SET pipeline.$guc = 1" "permission denied to set parameter \"pipeline.$guc\""
done
after=$(fingerprint)
[ "$before" = "$after" ] || fail "the attacks changed alice's catalog rows, staging or table"
echo "ok - none of the attacks above changed anything of alice's (fingerprint $after)"
echo "# shared blocks are pinned (H1)"
as sec_bob "SELECT pipeline.register(E'name: bob_lib\nblocks:\n  - {name: calendar, type: callback, shared: true, on_success: \"insert into bob_s.loot select current_user, pipeline.secret(''api_key''), ''H1''\"}\n')" >/dev/null
refused "alice's run refuses the shared block bob changed" sec_alice "SELECT pipeline.run('alice_cal')" \
  'shared block "calendar" of project "default" changed after version 1 of pipeline "alice_cal" was registered'
as sec_alice "SELECT pipeline.register(E'name: alice_lib\nblocks:\n  - {name: mine, type: data_loader, shared: true, sql: \"select 1 as x\"}\n')" >/dev/null
refused "bob cannot change a shared block alice owns" sec_bob \
  "SELECT pipeline.register(E'name: bob3\nblocks:\n  - {name: mine, type: data_loader, shared: true, sql: \"select 2 as x\"}\n')" \
  'shared block "mine" of project "default" belongs to role "sec_alice"'
echo "# search_path in workers (M4) and who a worker is (I1)"
as sec_bob "CREATE FUNCTION public.secret(name text) RETURNS text LANGUAGE plpgsql AS \$f\$ BEGIN INSERT INTO bob_s.loot VALUES (current_user, pipeline.secret(name), 'M4'); RETURN pipeline.secret(name); END \$f\$; GRANT EXECUTE ON FUNCTION public.secret(text) TO PUBLIC;" >/dev/null
as sec_alice "SELECT pipeline.run('alice_numbers')" >/dev/null
check "a public.secret() of bob's does not stand in for pipeline.secret() in alice's templates" \
  "SELECT NOT EXISTS (SELECT FROM bob_s.loot)"
as sec_alice "SELECT pipeline.register(E'name: whoami\nblocks:\n  - {name: who, type: data_loader, sql: \"select session_user::text as s, current_user::text as c\"}\n  - {name: keep, type: data_exporter, upstream: [who], target: {schema: alice_data, table: whoami}}\n')" >/dev/null
as sec_alice "SELECT pipeline.run('whoami')" >/dev/null
check "a run's session_user and current_user are its role" "SELECT s = 'sec_alice' AND c = 'sec_alice' FROM alice_data.whoami"
as sec_bob "SELECT pipeline.register(E'name: climber\nblocks:\n  - {name: up, type: data_loader, sql: \"select 1 as n from (select set_config(''role'', ''sec_alice'', false)) s\"}\n')" >/dev/null
refused "bob's run cannot become alice" sec_bob "SELECT pipeline.run('climber')" 'permission denied to set role "sec_alice"'
as sec_bob "SELECT pipeline.register(E'name: forger\nblocks:\n  - {name: up, type: data_loader, sql: \"select 1 as n\"}\n  - {name: w, type: callback, upstream: [up], on_success: \"update pipeline.runs set status = ''failed''\"}\n')" >/dev/null
as sec_bob "SELECT pipeline.run('forger')" >/dev/null 2>&1 || true
check "bob's own run cannot write the catalog from inside it" \
  "SELECT error LIKE '%permission denied for table runs%' FROM pipeline.block_runs WHERE block_name = 'w' ORDER BY block_run_id DESC LIMIT 1"
echo "# schedules and drops work for a pipeline user with no pg_cron privilege (I2)"
check "alice's schedule is a pg_cron job that runs as alice" \
  "SELECT j.username = 'sec_alice' AND j.command = 'SELECT pipeline._fire_schedule($sid)' FROM cron.job j JOIN pipeline.schedules s USING (jobid) WHERE s.schedule_id = $sid"
check "alice has no privilege on pg_cron's schema" "SELECT NOT has_schema_privilege('sec_alice', 'cron', 'USAGE')"
as sec_alice "SELECT pipeline.register(E'name: alice_tmp\nblocks:\n  - {name: one, type: data_loader, sql: \"select 1 as n\"}\n')" >/dev/null
[ "$(as sec_alice "SELECT pipeline.schedule('alice_tmp', '0 4 * * *') > 0" | tail -1)" = t ] || fail "alice could not schedule"
[ "$(as sec_alice "SELECT pipeline.unschedule('alice_tmp')" | tail -1)" = t ] || fail "alice could not unschedule"
as sec_alice "SELECT pipeline.schedule('alice_tmp', '0 4 * * *')" >/dev/null
[ "$(as sec_alice "SELECT pipeline.drop_pipeline('alice_tmp')" | tail -1)" = t ] || fail "alice could not drop her scheduled pipeline"
check "alice scheduled, unscheduled and dropped a scheduled pipeline; its job went with it" \
  "SELECT NOT EXISTS (SELECT FROM cron.job WHERE jobname = 'pipeline:default.alice_tmp')"
echo "# Python blocks: code that runs as the server's operating-system user, for pipeline_python only"
before=$(fingerprint)
pyyaml='name: bob_py\nblocks:\n  - name: grab\n    type: data_loader\n    language: python\n    python: "import os"\n'
refused "bob (pipeline_user only) cannot register a Python pipeline" sec_bob \
  "SELECT pipeline.register(E'$pyyaml')" 'role "sec_bob" may not run Python'
refused "... nor call the Python runtime directly" sec_bob \
  "SELECT pipeline._python_block('{\"kind\": \"custom\", \"block\": \"x\", \"source\": \"import os\"}')" \
  "permission denied for function _python_block"
refused "... nor enable Python" sec_bob "SELECT pipeline.enable_python()" "permission denied for function enable_python"
# (alice lets everyone see her schema, not her table: only the table's own privileges stand)
sql "GRANT USAGE ON SCHEMA alice_data TO PUBLIC" >/dev/null
refused "the runtime's COPY helpers write only where the caller may INSERT" sec_bob \
  "SELECT pipeline._copy_in_columns('alice_data.numbers', 1, '{n}', '{i}', ARRAY['\\x0100000000000000'::bytea], ARRAY[''::bytea])" \
  "permission denied for table numbers"
refused "... and read only what the caller may SELECT" sec_bob \
  "SELECT count(*) FROM pipeline._copy_out_columns('alice_data.numbers')" "permission denied for table numbers"
sql "REVOKE USAGE ON SCHEMA alice_data FROM PUBLIC" >/dev/null
refused "mallory (no pipeline_user) cannot use them at all" sec_mallory \
  "SELECT count(*) FROM pipeline._copy_out_columns('pg_catalog.pg_class')" "permission denied for schema pipeline"
[ "$(fingerprint)" = "$before" ] || fail "a Python attack changed alice's state"
echo "ok - alice's state is unchanged by the Python attacks"
sql "GRANT pipeline_python TO sec_alice" >/dev/null
as sec_alice "SELECT pipeline.register(E'name: alice_py\nblocks:\n  - name: hello\n    type: custom\n    language: python\n    python: |\n      from mage_ai.io.config import ConfigFileLoader\n      from mage_ai.io.postgres import Postgres\n      @custom\n      def hello(*args, **kwargs):\n          with Postgres.with_config(ConfigFileLoader(None, \"default\")) as db:\n              print(\"hello from\", db.load(\"SELECT current_user AS u\")[\"u\"][0])\n')" >/dev/null ||
  fail "a member of pipeline_python could not register a Python pipeline"
r=$(as sec_alice "SELECT pipeline.run('alice_py')" | tail -1)
check "a member of pipeline_python runs Python blocks, as herself" \
  "SELECT EXISTS (SELECT FROM pipeline.run_log WHERE run_id = $r AND message = 'hello from sec_alice')"
sql "REVOKE pipeline_python FROM sec_alice" >/dev/null
refused "once pipeline_python is revoked, her Python pipeline no longer runs" sec_alice \
  "SELECT pipeline.run('alice_py')" 'role "sec_alice" may not run Python'

echo "# the launcher goes on for everyone"
as sec_bob "SELECT pipeline.register(E'name: bob_q\nblocks:\n  - {name: one, type: data_loader, sql: \"select 1 as n\"}\n')" >/dev/null
q=$(as sec_bob "SELECT pipeline.trigger('bob_q')" | tail -1)
psql_q -d $db -c "DROP OWNED BY sec_mallory" -c "ALTER ROLE sec_bob NOLOGIN" >/dev/null
check "a queued run of a role that cannot log in still runs (as that role)" "SELECT pipeline.wait($q, '30 s') = 'succeeded'"
as sec_alice "SELECT pipeline.trigger('alice_numbers')" >/dev/null
check "... and alice's queued run too" \
  "SELECT pipeline.wait((SELECT max(run_id) FROM pipeline.runs WHERE owner = 'sec_alice'::regrole), '30 s') = 'succeeded'"

check "nothing of the attacks reached bob's loot" "SELECT NOT EXISTS (SELECT FROM bob_s.loot)"
check "alice's failed run's staging is still there, recorded" "SELECT to_regclass('$kept') IS NOT NULL"
check "alice's secret is unchanged" "SELECT value = 'ALICE-SECRET-123' FROM pipeline.secrets WHERE owner = 'sec_alice'::regrole"

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION pg_pipeline" -c "DROP SCHEMA alice_data, bob_s CASCADE" \
  -c "DROP FUNCTION IF EXISTS public.secret(text)" -c "REVOKE CREATE ON SCHEMA public FROM sec_bob" >/dev/null
for r in sec_alice sec_bob sec_mallory; do psql_q -d $db -c "DROP OWNED BY $r" -c "DROP ROLE $r" >/dev/null; done
psql_q -d $db -c "CREATE EXTENSION pg_pipeline" >/dev/null
echo "ok"