#!/usr/bin/env bash
# What SQL alone cannot show about a load in flight: pipeline.load_progress (and
# pg_stat_progress_copy) report it from another session while it runs, and pg_cancel_backend
# stops a stalled transfer within a second, leaving the target unchanged; pg_terminate_backend
# (a FATAL) during a load exits cleanly.
# Runs against the cluster and test HTTP server of scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
base="http://127.0.0.1:$PGPIPE_HTTP_PORT"
db=postgres
psql_q -d $db -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" \
  -c "DROP TABLE IF EXISTS progress_trips" \
  -c "SELECT pipeline.load_csv('$base/files/small.csv', 'progress_trips', '{\"create\": true}')" >/dev/null

# 1. Progress: a slow download (40 kB/s of a 0.9 MB gzip) watched from another session.
PGAPPNAME=progress_load "$PGBIN/psql" -X -q -d $db \
  -c "SELECT pipeline.load_csv('$base/trickle/big.csv.gz?bps=40000', 'progress_trips')" >/dev/null 2>&1 &
loader=$!
seen=""
for _ in $(seq 50); do
  row=$(psql_q -d $db -At -F' ' -c "SELECT p.bytes_downloaded, p.bytes_processed, p.rows_processed, p.target
      FROM pipeline.load_progress p JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'progress_load'")
  if [ -n "$row" ]; then
    set -- $row
    if [ "$1" -gt 0 ] && [ -n "$seen" ] && [ "$1" -gt "$(cut -d' ' -f1 <<<"$seen")" ]; then
      echo "progress seen: downloaded $(cut -d' ' -f1 <<<"$seen") then $1 bytes; processed $2 bytes, $3 rows into $4"
      copy_rows=$(psql_q -d $db -At -c "SELECT count(*) FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid)
          WHERE a.application_name = 'progress_load' AND c.type = 'CALLBACK' AND c.command = 'COPY FROM'")
      [ "$copy_rows" = 1 ] || fail "pg_stat_progress_copy does not show the load as a COPY FROM callback"
      break
    fi
    seen="$row"
  fi
  sleep 0.2
done
[ -n "$seen" ] || fail "the load never appeared in pipeline.load_progress"
psql_q -d $db -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'progress_load'" >/dev/null
wait $loader || true

# 2. Cancel: a transfer that stalls after 2 kB (the stall limit is 30 s by default).
before=$(psql_q -d $db -At -c "SELECT count(*) FROM progress_trips")
PGAPPNAME=stalled_load "$PGBIN/psql" -X -q -d $db \
  -c "SELECT pipeline.load_csv('$base/stall/small.csv.gz?after=2000&hold=60', 'progress_trips')" >"$PGPIPE_TMP/cancel.out" 2>&1 &
loader=$!
poll_until "the stalled load is active" 10 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'stalled_load' AND state = 'active')" $db ||
  fail "the stalled load never started"
pid=$(psql_q -d $db -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'stalled_load' AND state = 'active'")
poll_until "the load stalls after its first 2 kB" 30 "SELECT coalesce(max(bytes_downloaded), 0) >= 2000 FROM pipeline.load_progress WHERE pid = $pid" ||
  fail "the stalled load never downloaded its first bytes"
t0=$(date +%s.%N)
psql_q -d $db -At -c "SELECT pg_cancel_backend($pid)" >/dev/null
wait $loader || true
t1=$(date +%s.%N)
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
grep -q "canceling statement due to user request" "$PGPIPE_TMP/cancel.out" || { cat "$PGPIPE_TMP/cancel.out"; fail "no cancel message"; }
awk -v e="$elapsed" 'BEGIN { exit !(e < 1.0) }' || fail "cancel took $elapsed s"
after=$(psql_q -d $db -At -c "SELECT count(*) FROM progress_trips")
[ "$before" = "$after" ] || fail "target changed by a cancelled load ($before -> $after rows)"
echo "cancel of a stalled load returned in $elapsed s; target unchanged ($after rows)"

# 3. A FATAL (pg_terminate_backend) during a load: the backend exits at once; its fetch thread is
#    stopped and joined on the way out (an exit callback), so the exit is clean: no crash, the
#    server keeps running and the target is unchanged.
started=$(psql_q -d $db -At -c "SELECT pg_postmaster_start_time()")
log_at=$(stat -c %s "$PGPIPE_TMP/server.log")
PGAPPNAME=terminated_load "$PGBIN/psql" -X -q -d $db \
  -c "SELECT pipeline.load_csv('$base/stall/small.csv.gz?after=2000&hold=60', 'progress_trips')" >"$PGPIPE_TMP/terminate.out" 2>&1 &
loader=$!
poll_until "the load to be terminated is under way" 30 "SELECT coalesce(max(bytes_downloaded), 0) >= 2000 FROM pipeline.load_progress p
    JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'terminated_load'" || fail "the load never started"
psql_q -d $db -At -c "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'terminated_load'" | grep -qx t ||
  fail "pg_terminate_backend did not end the loading backend within 5 s"
wait $loader || true
grep -q "terminating connection due to administrator command" "$PGPIPE_TMP/terminate.out" || { cat "$PGPIPE_TMP/terminate.out"; fail "no FATAL"; }
! tail -c +"$((log_at + 1))" "$PGPIPE_TMP/server.log" | grep -qE "terminated by signal|was terminated by|reinitializing" ||
  fail "the backend did not exit cleanly: $(tail -c +"$((log_at + 1))" "$PGPIPE_TMP/server.log" | grep -E "signal|reinitializing")"
[ "$(psql_q -d $db -At -c "SELECT pg_postmaster_start_time()")" = "$started" ] || fail "the server restarted"
after=$(psql_q -d $db -At -c "SELECT count(*) FROM progress_trips")
[ "$before" = "$after" ] || fail "target changed by a terminated load ($before -> $after rows)"
echo "a FATAL during a load exited cleanly (no crash, no restart); target unchanged ($after rows)"

psql_q -d $db -c "DROP TABLE progress_trips" >/dev/null
echo "ok"
