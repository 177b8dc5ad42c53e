#!/usr/bin/env bash
# The background workers, shown on the cluster of scripts/test.sh (pg_pipeline and pg_cron
# preloaded, pipeline.database = postgres): queued runs and their events, max_active_runs and
# overlap, a twelve-interval backfill on two workers, cancel mid-load, kill -9 of a worker
# mid-load, a server crash mid-run, retry of failed blocks only, a failure webhook, role
# isolation, and a pg_cron schedule firing a run.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
base="http://127.0.0.1:$PGPIPE_HTTP_PORT"
db=postgres

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS pg_pipeline CASCADE" \
  -c "CREATE EXTENSION pg_pipeline" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
  -c "DROP SCHEMA IF EXISTS w CASCADE" -c "CREATE SCHEMA w" >/dev/null
sql "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_pipeline launcher'" | grep -qx t ||
  fail "no launcher is running"
echo "ok - the launcher runs"

register() { psql_q -d $db -v y="$1" >/dev/null <<'SQL'
SELECT pipeline.register(:'y');
SQL
}

# 1. trigger returns at once; the run's state changes are NOTIFY events on pipeline_events.
register "$(cat <<'Y'
name: quick
blocks:
  - {name: one, type: data_loader, sql: "SELECT 1 AS n"}
Y
)"
events=$("$PGBIN/psql" -X -d $db 2>&1 <<'SQL'
LISTEN pipeline_events;
SELECT pipeline.trigger('quick') AS r \gset
SELECT pipeline.wait(:r, '20 s');
SELECT 1;
SQL
)
for state in queued running succeeded; do
  grep -q "\"status\" : \"$state\"" <<<"$events" || fail "no $state event in: $events"
done
err=$(sql "SELECT pipeline.wait(pipeline.trigger('quick'))" 2>&1 || true)
grep -q "was queued in this transaction, which has not committed" <<<"$err" || fail "waiting in the queuing transaction: $err"
echo "ok - trigger + wait, with queued/running/succeeded events on pipeline_events"

# 2. max_active_runs 1 (the default): two triggers run one after the other; overlap: skip skips.
register "$(cat <<'Y'
name: serial
blocks:
  - {name: nap, type: data_loader, sql: "SELECT pg_sleep(0.7)::text AS slept"}
Y
)"
a=$(sql "SELECT pipeline.trigger('serial')"); b=$(sql "SELECT pipeline.trigger('serial')")
sql "SELECT pipeline.wait($a, '30 s'), pipeline.wait($b, '30 s')" >/dev/null
check "two triggers of a max_active_runs 1 pipeline did not overlap" \
  "SELECT (SELECT finished_at FROM pipeline.runs WHERE run_id = $a) <= (SELECT started_at FROM pipeline.runs WHERE run_id = $b)"
register "$(cat <<'Y'
name: skipper
settings: {overlap: skip}
blocks:
  - {name: nap, type: data_loader, sql: "SELECT pg_sleep(0.7)::text AS slept"}
Y
)"
a=$(sql "SELECT pipeline.trigger('skipper')"); b=$(sql "SELECT pipeline.trigger('skipper')")
[ -n "$a" ] && [ -z "$b" ] || fail "overlap: skip should skip the second trigger (got '$a' and '$b')"
sql "SELECT pipeline.wait($a, '30 s')" >/dev/null
echo "ok - overlap: skip skips a trigger while a run is active"

# 3. A twelve-interval backfill, two workers at once, each with its own execution_date.
register "$(cat <<'Y'
name: monthly
settings: {max_active_runs: 2}
blocks:
  - {name: month, type: data_loader, sql: "SELECT '{{ execution_date }}'::timestamptz AS month, pg_sleep(0.5)::text AS slept"}
  - {name: keep, type: data_exporter, upstream: [month], target: {schema: w, table: months, if_exists: append}}
Y
)"
t0=$(date +%s.%N)
bf=$(sql "SELECT pipeline.backfill('monthly', '2021-01-01', '2022-01-01', '1 month')")
poll_until "the backfill has no run left" 30 "SELECT remaining = 0 FROM pipeline.backfills WHERE backfill_id = $bf" ||
  fail "the backfill did not finish in 30 s"
t1=$(date +%s.%N)
check "the backfill did all twelve months" "SELECT done = 12 AND failed = 0 FROM pipeline.backfills WHERE backfill_id = $bf"
check "each run had its own month" "SELECT count(DISTINCT month) = 12 AND min(month) = '2021-01-01' FROM w.months"
check "two runs overlapped in time (two workers)" \
  "SELECT EXISTS (SELECT FROM pipeline.runs a JOIN pipeline.runs b ON a.run_id < b.run_id AND a.backfill_id = b.backfill_id
                   AND a.started_at < b.finished_at AND b.started_at < a.finished_at WHERE a.backfill_id = $bf)"
echo "   (12 intervals of 0.5 s of work took $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s)"

# 3b. Independent blocks of one run execute at once, on different workers; a conditional run
#     by a block worker still skips what follows it.
register "$(cat <<'Y'
name: fan_out
blocks:
  - {name: left, type: data_loader, sql: "SELECT 1 AS k, pg_sleep(1)::text AS s"}
  - {name: right, type: data_loader, sql: "SELECT 1 AS k, pg_sleep(1)::text AS s"}
  - {name: never, type: conditional, sql: "SELECT false"}
  - {name: both, type: data_exporter, upstream: [left, right], sql: "SELECT k FROM {{ left }} JOIN {{ right }} USING (k)", target: {schema: w, table: fan_out}}
  - {name: gated, type: data_exporter, upstream: [never, left], sql: "SELECT k FROM {{ left }}", target: {schema: w, table: gated}}
Y
)"
t0=$(date +%s.%N)
r=$(sql "SELECT pipeline.run('fan_out')")
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
check "the two sleeping loaders overlapped"   "SELECT l.started_at < r.finished_at AND r.started_at < l.finished_at FROM pipeline.block_runs l, pipeline.block_runs r
    WHERE l.run_id = $r AND r.run_id = $r AND l.block_name = 'left' AND r.block_name = 'right'"
check "in different workers"   "SELECT count(DISTINCT worker_pid) = 2 FROM pipeline.block_runs WHERE run_id = $r AND block_name IN ('left', 'right')"
check "the join was published and the gated export skipped"   "SELECT (SELECT count(*) FROM w.fan_out) = 1 AND (SELECT status FROM pipeline.block_runs WHERE run_id = $r AND block_name = 'gated') = 'skipped'"
# (the overlap above is the proof; the wall clock of a busy machine is only reported)
echo "   (the run with two independent 1 s blocks took $took s)"

# 4. Cancel mid-load: the running block stops within seconds, the run ends cancelled, the target
#    is never created, and pipeline.progress showed the load while it ran.
register "$(cat <<Y
name: stalled
blocks:
  - {name: load, type: data_loader, source: {url: "$base/stall/small.csv.gz?after=2000&hold=60"}}
  - {name: publish, type: data_exporter, upstream: [load], target: {schema: w, table: never}}
Y
)"
r=$(sql "SELECT pipeline.trigger('stalled')")
poll_until "the load runs" 10 "SELECT EXISTS (SELECT FROM pipeline.progress WHERE run_id = $r AND block_name = 'load')" ||
  fail "the load never started"
check "pipeline.progress shows the running load" "SELECT block_name = 'load' AND attempt = 1 FROM pipeline.progress WHERE run_id = $r"
t0=$(date +%s.%N)
check "cancel accepts a running run" "SELECT pipeline.cancel($r)"
status=$(sql "SELECT pipeline.wait($r, '10 s')")
t1=$(date +%s.%N)
[ "$status" = cancelled ] || fail "cancelled run ended '$status'"
echo "ok - the cancelled run ended cancelled in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"
check "nothing was published" "SELECT to_regclass('w.never') IS NULL"
check "the block is recorded cancelled" "SELECT status = 'cancelled' FROM pipeline.block_runs WHERE run_id = $r AND block_name = 'load'"
check "a finished run cannot be cancelled again" "SELECT NOT pipeline.cancel($r)"

# 5. kill -9 of a worker mid-load: the postmaster restarts every backend; the launcher finds
#    the orphaned run and, with a retry left, queues it again; it then succeeds.
register "$(cat <<Y
name: killed
blocks:
  - name: load
    type: data_loader
    source: {url: "$base/trickle/small.csv.gz?bps=8000"}
    retry: {retries: 1}
  - {name: publish, type: data_exporter, upstream: [load], target: {schema: w, table: survived}}
Y
)"
r=$(sql "SELECT pipeline.trigger('killed')")
poll_until "the run's worker is at its block" 10 \
  "SELECT worker_pid IS NOT NULL AND EXISTS (SELECT FROM pipeline.progress p WHERE p.run_id = $r) FROM pipeline.runs WHERE run_id = $r AND status = 'running'" ||
  fail "the run never started"
pid=$(sql "SELECT worker_pid FROM pipeline.runs WHERE run_id = $r")
[ -n "$pid" ] || fail "the run never started"
poll_until "the load has rows" 30 "SELECT coalesce(sum(rows_loaded), 0) > 0 FROM pipeline.progress WHERE run_id = $r" ||
  fail "the load never loaded a row"
log_at=$(stat -c %s "$PGPIPE_TMP/server.log")
kill -9 "$pid"
poll_log "$log_at" "all server processes terminated; reinitializing" 30 || fail "the server did not restart its backends"
reconnect
status=$(sql "SELECT pipeline.wait($r, '60 s')")
[ "$status" = succeeded ] || fail "the killed run ended '$status'"
check "attempt 1 died, attempt 2 succeeded" \
  "SELECT array_agg(status ORDER BY attempt) = '{failed,succeeded}' FROM pipeline.block_attempts WHERE run_id = $r AND block_name = 'load'"
check "the target has exactly one load" "SELECT count(*) = 1000 FROM w.survived"
echo "ok - kill -9 of a worker mid-load: run recovered and succeeded"

# 6. A server crash mid-run with no retries: the run ends failed, the target stays as it was.
register "$(cat <<'Y'
name: crashed
blocks:
  - {name: slow, type: data_loader, sql: "SELECT g AS n, pg_sleep(0.002)::text AS s FROM generate_series(1, 2000) g"}
  - {name: publish, type: data_exporter, upstream: [slow], target: {schema: w, table: survived, if_exists: replace}}
Y
)"
before=$(sql "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM w.survived t")
r=$(sql "SELECT pipeline.trigger('crashed')")
poll_until "the slow block runs" 30 \
  "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'pg_pipeline run' AND query = 'pg_pipeline run $r: block slow')" ||
  fail "the slow block never started"
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 60 restart -l "$PGPIPE_TMP/server.log" >/dev/null
reconnect
status=$(sql "SELECT pipeline.wait($r, '60 s')")
[ "$status" = failed ] || fail "the crashed run ended '$status'"
after=$(sql "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM w.survived t")
[ "$before" = "$after" ] || fail "the target changed after a crash mid-run"
check "the run says its worker died" "SELECT error LIKE '%worker%died%' FROM pipeline.runs WHERE run_id = $r"
echo "ok - server crash mid-run: run failed, target intact"

# 6b. A clean (fast) shutdown mid-run is not a cancel: the run goes back to the queue and
#     finishes after the restart.
register "$(cat <<'Y'
name: restarted
blocks:
  - {name: slow, type: data_loader, sql: "SELECT pg_sleep(2)::text AS slept"}
  - {name: publish, type: data_exporter, upstream: [slow], target: {schema: w, table: restarted}}
Y
)"
r=$(sql "SELECT pipeline.trigger('restarted')")
poll_until "the run is at its block" 10 "SELECT EXISTS (SELECT FROM pipeline.progress WHERE run_id = $r)" ||
  fail "the run never started"
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 restart -l "$PGPIPE_TMP/server.log" >/dev/null
reconnect
status=$(sql "SELECT pipeline.wait($r, '60 s')")
[ "$status" = succeeded ] || fail "the run interrupted by a fast restart ended '$status'"
check "it says it was queued again" "SELECT EXISTS (SELECT FROM pipeline.run_log WHERE run_id = $r AND message LIKE '%told to exit%queued again%')"
check "and published once" "SELECT count(*) = 1 FROM w.restarted"
echo "ok - a fast restart mid-run re-queued the run, which then succeeded"

# 6c. Bounded: a run whose worker is interrupted every time (here it terminates itself) is
#     queued again at most pipeline.max_recoveries times (3), then fails saying so.
register "$(cat <<'Y'
name: self_terminating
blocks:
  - {name: die, type: data_loader, sql: "SELECT pg_terminate_backend(pg_backend_pid())::text AS t"}
Y
)"
r=$(sql "SELECT pipeline.trigger('self_terminating')")
[ "$(sql "SELECT pipeline.wait($r, '60 s')")" = failed ] || fail "the self-terminating run did not fail"
check "an endlessly interrupted run fails after 3 re-queues" \
  "SELECT recoveries = 3 AND error LIKE 'the run was interrupted 4 times%not queued again%'
     FROM pipeline.runs WHERE run_id = $r"
#     ... and so is a run whose worker dies: with pipeline.max_recoveries = 0, a kill -9 fails it
#     though its block had retries left.
psql_q -d $db -c "ALTER SYSTEM SET pipeline.max_recoveries = 0" -c "SELECT pg_reload_conf()" >/dev/null
poll_until "the launcher has the new setting" 10 "SELECT current_setting('pipeline.max_recoveries') = '0'" || fail "no reload"
register "$(cat <<Y
name: killed_once
blocks:
  - name: load
    type: data_loader
    source: {url: "$base/trickle/small.csv.gz?bps=8000"}
    retry: {retries: 3}
Y
)"
r=$(sql "SELECT pipeline.trigger('killed_once')")
poll_until "the load has rows" 30 "SELECT coalesce(sum(rows_loaded), 0) > 0 FROM pipeline.progress WHERE run_id = $r" ||
  fail "the load never loaded a row"
pid=$(sql "SELECT worker_pid FROM pipeline.runs WHERE run_id = $r")
log_at=$(stat -c %s "$PGPIPE_TMP/server.log")
kill -9 "$pid"
poll_log "$log_at" "all server processes terminated; reinitializing" 30 || fail "the server did not restart its backends"
reconnect
[ "$(sql "SELECT pipeline.wait($r, '60 s')")" = failed ] || fail "the killed run did not fail"
check "a run whose worker died fails when no recovery is allowed" \
  "SELECT error LIKE 'its worker died 1 times; it is not queued again%' FROM pipeline.runs WHERE run_id = $r"
psql_q -d $db -c "ALTER SYSTEM RESET pipeline.max_recoveries" -c "SELECT pg_reload_conf()" >/dev/null
echo "ok - recovery is bounded by pipeline.max_recoveries"

# 6d. pipeline.wait refuses a snapshot that would never see the run end.
err=$(psql_q -d $db -At -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT pipeline.wait($r, '1 s')" 2>&1 || true)
grep -q "pipeline.wait cannot wait in a REPEATABLE READ transaction" <<<"$err" || fail "wait under REPEATABLE READ: $err"
echo "ok - pipeline.wait refuses REPEATABLE READ at once"

# 6e. Staging retention: a failed run's staging is kept for pipeline.staging_retention, then
#     dropped (by OID, as recorded) by the launcher's sweep.
register "$(cat <<'Y'
name: kept
blocks:
  - {name: load, type: data_loader, sql: "SELECT 1 AS n"}
  - {name: bad, type: transformer, upstream: [load], materialize: table, sql: "SELECT n / 0 AS x FROM {{ load }}"}
Y
)"
r=$(sql "SELECT pipeline.trigger('kept')")
[ "$(sql "SELECT pipeline.wait($r, '30 s')")" = failed ] || fail "the broken run did not fail"
staged=$(sql "SELECT relid::regclass FROM pipeline.staging WHERE run_id = $r")
check "the failed run's staging is kept" "SELECT to_regclass('$staged') IS NOT NULL"
poll_until "the run is older than a 1 s retention" 10 "SELECT finished_at < now() - interval '1.5 s' FROM pipeline.runs WHERE run_id = $r" ||
  fail "the run did not age"
psql_q -d $db -c "ALTER SYSTEM SET pipeline.staging_retention = 1" -c "SELECT pg_reload_conf()" >/dev/null
poll_until "the launcher dropped the expired staging" 20 "SELECT to_regclass('$staged') IS NULL" || fail "expired staging was kept"
check "... and its record" "SELECT NOT EXISTS (SELECT FROM pipeline.staging WHERE run_id = $r)"
psql_q -d $db -c "ALTER SYSTEM RESET pipeline.staging_retention" -c "SELECT pg_reload_conf()" >/dev/null
echo "ok - staging past pipeline.staging_retention is dropped"

# 7. retry re-runs only the failed and never-run blocks.
sql "CREATE TABLE IF NOT EXISTS w.switch (broken boolean); TRUNCATE w.switch; INSERT INTO w.switch VALUES (true)" >/dev/null
register "$(cat <<Y
name: fixable
settings: {webhook_url: "$base/hook/fixable"}
blocks:
  - {name: load, type: data_loader, sql: "SELECT g AS n FROM generate_series(1, 3) g"}
  - {name: check, type: transformer, upstream: [load], materialize: table, sql: "SELECT n, 1 / (CASE WHEN (SELECT broken FROM w.switch) THEN 0 ELSE 1 END) AS ok FROM {{ load }}"}
  - {name: publish, type: data_exporter, upstream: [check], target: {schema: w, table: fixed}}
Y
)"
r=$(sql "SELECT pipeline.trigger('fixable')")
[ "$(sql "SELECT pipeline.wait($r, '30 s')")" = failed ] || fail "the broken run did not fail"
hook=""
deadline=$((SECONDS + 10))
while [ $SECONDS -lt $deadline ]; do  # the worker posts right after it commits the failure
  hook=$(curl -fsS "$base/hook/fixable" 2>/dev/null || true)
  grep -q "\"run_id\":$r" <<<"$hook" && break; sleep 0.1
done
grep -q "\"run_id\":$r" <<<"$hook" && grep -q '"status":"failed"' <<<"$hook" || fail "no webhook call for the failed run: '$hook'"
echo "ok - the failure was posted to the webhook: $hook"
sql "UPDATE w.switch SET broken = false" >/dev/null
r2=$(sql "SELECT pipeline.retry($r)")
[ "$(sql "SELECT pipeline.wait($r2, '30 s')")" = succeeded ] || fail "the retry did not succeed"
check "the retry kept the load and re-ran the rest" \
  "SELECT string_agg(block_name || '=' || (started_at IS NULL)::text, ',' ORDER BY block_name) = 'check=false,load=true,publish=false' FROM pipeline.block_runs WHERE run_id = $r2"
check "retry_of links the runs" "SELECT retry_of = $r FROM pipeline.runs WHERE run_id = $r2"

# 8. Roles see and cancel only their own runs.
psql_q -d $db -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS w_alice" -c "DROP ROLE IF EXISTS w_bob" \
  -c "CREATE ROLE w_alice IN ROLE pipeline_user" -c "CREATE ROLE w_bob IN ROLE pipeline_user" >/dev/null
ar=$(psql_q -d $db -At -c "SET ROLE w_alice" -c "SELECT pipeline.register(E'name: alices\nblocks:\n  - {name: nap, type: data_loader, sql: \"SELECT pg_sleep(3)::text AS s\"}\n')" \
      -c "SELECT pipeline.trigger('alices')" | tail -1)
seen=$(psql_q -d $db -At -c "SET ROLE w_bob" -c "SELECT count(*) FROM pipeline.runs WHERE run_id = $ar")
[ "$seen" = 0 ] || fail "bob sees alice's run"
psql_q -d $db -At -c "SET ROLE w_bob" -c "SELECT pipeline.cancel($ar)" >/dev/null 2>&1 && fail "bob cancelled alice's run"
owner=$(sql "SELECT owner FROM pipeline.runs WHERE run_id = $ar")
[ "$owner" = w_alice ] || fail "the run belongs to '$owner'"
psql_q -d $db -At -c "SET ROLE w_alice" -c "SELECT pipeline.cancel($ar)" | tail -1 | grep -qx t || fail "alice could not cancel her run"
[ "$(sql "SELECT pipeline.wait($ar, '20 s')")" = cancelled ] || fail "alice's run did not end cancelled"
echo "ok - bob can neither see nor cancel alice's run; alice can"
# the catalog is not a user's to write: no forged worker_pid can point a cancel at another
# process (here: the launcher); cancel signals the processes shared memory records for the run
launcher=$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_pipeline launcher'")
fr=$(psql_q -d $db -At -c "SET ROLE w_bob" -c "SELECT pipeline.register(E'name: bobs\nblocks:\n  - {name: nap, type: data_loader, sql: \"SELECT pg_sleep(2)::text AS s\"}\n')" \
      -c "SELECT pipeline.trigger('bobs')" | tail -1)
poll_until "bob's run is running" 10 "SELECT status = 'running' FROM pipeline.runs WHERE run_id = $fr" || fail "bob's run never started"
err=$(psql_q -d $db -At -c "SET ROLE w_bob" -c "UPDATE pipeline.runs SET worker_pid = $launcher WHERE run_id = $fr" 2>&1 || true)
grep -q "permission denied for table runs" <<<"$err" || fail "bob could write pipeline.runs: $err"
psql_q -d $db -At -c "SET ROLE w_bob" -c "SELECT pipeline.cancel($fr)" >/dev/null
[ "$(sql "SELECT pipeline.wait($fr, '20 s')")" = cancelled ] || fail "bob's run was not cancelled"
[ "$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_pipeline launcher'")" = "$launcher" ] ||
  fail "the launcher was signalled"
echo "ok - cancel signals the run's own workers, not a pid written into the catalog"
psql_q -d $db -c "DROP OWNED BY w_alice, w_bob" -c "DROP ROLE w_alice, w_bob" >/dev/null

# 9. pg_cron: a schedule is a cron job named after the pipeline that only triggers; it fires
#    (pg_cron 1.4 counts in minutes) and the run gets its interval; unschedule removes it.
jid=$(sql "SELECT pipeline.schedule('quick', '* * * * *', '{\"from\": \"cron\"}')")
check "the cron job is named after the pipeline" "SELECT jobname = 'pipeline:default.quick' AND command = format('SELECT pipeline._fire_schedule(%s)', s.schedule_id) FROM cron.job j, pipeline.schedules s WHERE j.jobid = $jid AND s.jobid = $jid"
check "rescheduling replaces the job" "SELECT pipeline.schedule('quick', '* * * * *') = $jid AND (SELECT count(*) FROM cron.job) = 1"
poll_until "pg_cron fired the schedule" 70 "SELECT EXISTS (SELECT FROM pipeline.runs WHERE trigger = 'schedule')" ||
  fail "pg_cron did not fire in 70 s"
check "a scheduled run was queued with a one-minute interval" \
  "SELECT interval_end - interval_start = interval '1 minute' AND execution_date = interval_start FROM pipeline.runs WHERE trigger = 'schedule' ORDER BY run_id LIMIT 1"
check "unschedule says it removed the job" "SELECT pipeline.unschedule('quick')"
check "... and the job is gone" "SELECT NOT EXISTS (SELECT FROM cron.job)"
sql "SELECT pipeline.schedule('quick', '0 3 * * *')" >/dev/null
check "dropping the pipeline says it dropped it" "SELECT pipeline.drop_pipeline('quick')"
check "... and its job is gone" "SELECT NOT EXISTS (SELECT FROM cron.job)"
err=$(sql "SELECT pipeline.schedule('serial', '61 * * * *')" 2>&1 || true)
grep -q 'invalid cron expression "61 \* \* \* \*"' <<<"$err" || fail "bad cron expression: $err"
echo "ok - a bad cron expression is refused by name"

# 9b. Catch-up: firings missed while the server was down are run as the schedule says (none:
#     nothing, latest: the newest once, all: each in order), once each, when the launcher
#     starts. The daily 03:17 firing's last run is set back three days, as if the server had
#     been down since.
for policy in none latest all; do
  register "$(printf 'name: cu_%s\nblocks:\n  - {name: one, type: data_loader, sql: "SELECT 1 AS one"}\n' $policy)"
  sql "SELECT pipeline.schedule('cu_$policy', '17 3 * * *', catch_up => '$policy')" >/dev/null
done
check "scheduling marks every past firing as done" \
  "SELECT bool_and(last_fire = pipeline._cron_previous('17 3 * * *', now())) FROM pipeline.schedules"
err=$(sql "SELECT pipeline.schedule('cu_all', '17 3 * * *', catch_up => 'some')" 2>&1 || true)
grep -q 'catch_up must be none, latest or all, not "some"' <<<"$err" || fail "bad catch_up: $err"
sql "UPDATE pipeline.schedules SET last_fire = last_fire - interval '3 days'" >/dev/null
log_at=$(stat -c %s "$PGPIPE_TMP/server.log")
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 restart -l "$PGPIPE_TMP/server.log" >/dev/null
reconnect
poll_log "$log_at" "schedule [0-9]* caught up: queued 3 missed" 30 || fail "the launcher did not catch up"
runs_of() { echo "(SELECT r.* FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) WHERE p.name = '$1')"; }
check "catch_up none queued nothing" "SELECT count(*) = 0 FROM $(runs_of cu_none) r"
check "catch_up latest queued the newest firing once" \
  "SELECT count(*) = 1 AND max(interval_end) = pipeline._cron_previous('17 3 * * *', now())
     AND bool_and(trigger = 'schedule' AND interval_end - interval_start = interval '1 day') FROM $(runs_of cu_latest) r"
check "catch_up all queued each of the 3 missed firings, oldest first" \
  "SELECT array_agg(interval_end ORDER BY run_id) = ARRAY(SELECT pipeline._cron_previous('17 3 * * *', now()) - d * interval '1 day'
     FROM generate_series(2, 0, -1) d) FROM $(runs_of cu_all) r"
check "as the role that scheduled them" "SELECT bool_and(r.owner = s.owner) FROM pipeline.runs r JOIN pipeline.schedules s USING (pipeline_id)"
check "firing a caught-up schedule again queues nothing" \
  "SELECT pipeline._fire_schedule(schedule_id) IS NULL FROM pipeline.schedules s JOIN pipeline.pipelines p USING (pipeline_id) WHERE p.name = 'cu_all'"
poll_until "the caught-up runs finished" 30 "SELECT NOT EXISTS (SELECT FROM pipeline.runs WHERE status IN ('queued', 'running'))" ||
  fail "caught-up runs did not finish"
log_at=$(stat -c %s "$PGPIPE_TMP/server.log")
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 restart -l "$PGPIPE_TMP/server.log" >/dev/null
reconnect
# (the launcher catches up before it starts its first queued run: once this run is done, it has)
r=$(sql "SELECT pipeline.trigger('cu_none')")
[ "$(sql "SELECT pipeline.wait($r, '60 s')")" = succeeded ] || fail "the run after the second restart did not succeed"
check "a second restart owes nothing" \
  "SELECT count(*) = 4 FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) WHERE p.name LIKE 'cu%' AND r.trigger = 'schedule'"
for policy in none latest all; do sql "SELECT pipeline.drop_pipeline('cu_$policy')" >/dev/null; done
echo "ok - missed firings are caught up as each schedule says, once"

# 10. Retention: runs finished longer ago than pipeline.history_retention are pruned (the
#     launcher prunes every 10 minutes, and at once after a configuration reload).
old_runs=$(sql "SELECT count(*) FROM pipeline.runs WHERE finished_at IS NOT NULL")
poll_until "every finished run is older than the retention (1 s)" 10 \
  "SELECT coalesce(max(finished_at) < now() - interval '1.5 s', true) FROM pipeline.runs" || fail "runs did not age"
psql_q -d $db -c "ALTER SYSTEM SET pipeline.history_retention = 1" -c "SELECT pg_reload_conf()" >/dev/null
poll_until "the launcher pruned the old runs" 10 "SELECT NOT EXISTS (SELECT FROM pipeline.runs WHERE finished_at IS NOT NULL)" ||
  fail "history was not pruned in 10 s"
check "history older than the retention was pruned ($old_runs runs)" \
  "SELECT count(*) = 0 AND $old_runs > 0 FROM pipeline.runs WHERE finished_at IS NOT NULL"
check "with their block runs and log" \
  "SELECT NOT EXISTS (SELECT FROM pipeline.block_runs) AND NOT EXISTS (SELECT FROM pipeline.run_log)"
psql_q -d $db -c "ALTER SYSTEM RESET pipeline.history_retention" -c "SELECT pg_reload_conf()" >/dev/null

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP SCHEMA w CASCADE" -c "DROP EXTENSION pg_pipeline CASCADE" >/dev/null
echo "ok"
