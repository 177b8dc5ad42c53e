# Shared parts of the benchmarks: the generated month, the test server, timing and medians.
# Source it after scripts/lib.sh.
BENCH_ROWS=1369765
BENCH_DATA=$PGPIPE_TMP/bench

# Generates (once) the month as .csv.gz and .csv, and with WITH_10X the month ten times over as
# one multi-member gzip; serves them from the test HTTP server; sets $BENCH_BASE.
bench_prepare_data() {
  say "preparing data: a generated month of $BENCH_ROWS rows (cached in $BENCH_DATA)"
  mkdir -p "$BENCH_DATA"
  [ -s "$BENCH_DATA/month.csv.gz" ] ||
    python3 "$PGPIPE_ROOT/test/fixtures/gen_taxi.py" --rows $BENCH_ROWS --out "$BENCH_DATA/month.csv.gz"
  [ -s "$BENCH_DATA/month.csv" ] || gunzip -c "$BENCH_DATA/month.csv.gz" >"$BENCH_DATA/month.csv"
  if [ -n "${WITH_10X:-}" ] && [ ! -s "$BENCH_DATA/month10.csv.gz" ]; then
    # The month, then nine headerless copies of it, each a gzip member of its own.
    tail -n +2 "$BENCH_DATA/month.csv" | gzip -1 >"$BENCH_DATA/body.gz"
    { cat "$BENCH_DATA/month.csv.gz"; for _ in 1 2 3 4 5 6 7 8 9; do cat "$BENCH_DATA/body.gz"; done; } >"$BENCH_DATA/month10.csv.gz"
    rm -f "$BENCH_DATA/body.gz"
  fi
  chmod -R a+rX "$BENCH_DATA"
  mkdir -p "$PGPIPE_TMP/www"
  # Hard links: the test server refuses paths that leave its root.
  for f in month.csv.gz month.csv month10.csv.gz; do
    [ -e "$BENCH_DATA/$f" ] && ln -f "$BENCH_DATA/$f" "$PGPIPE_TMP/www/$f"
  done
  ln -f "$BENCH_DATA/month.csv.gz" "$PGPIPE_TMP/www/yellow_tripdata_2021-01.csv.gz"
  serve_fixtures
  BENCH_BASE="http://127.0.0.1:$PGPIPE_HTTP_PORT/files"
}

# Creates table $1 typed as the taxi pipeline types the month.
bench_create_taxi_table() {
  psql_q -d postgres -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 (
    \"VendorID\" bigint, tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp,
    passenger_count bigint, trip_distance double precision, \"RatecodeID\" bigint,
    store_and_fwd_flag text, \"PULocationID\" bigint, \"DOLocationID\" bigint, payment_type bigint,
    fare_amount double precision, extra double precision, mta_tax double precision,
    tip_amount double precision, tolls_amount double precision,
    improvement_surcharge double precision, total_amount double precision,
    congestion_surcharge double precision)" >/dev/null
}

# Seconds the server spends on SQL statement $2, after running setup statement $1.
bench_time_sql() {
  psql_q -d postgres -c "$1" -c "CHECKPOINT" >/dev/null
  psql_q -d postgres -At <<SQL | tail -1
SELECT clock_timestamp() AS t0 \gset
$2;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 3);
SQL
}

# The median of the numbers on standard input.
bench_median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Peak RssAnon (kB) of the backend whose pg_stat_activity row matches SQL condition $1, sampled
# every 20 ms while process $2 (the client running the work) lives.
bench_peak_rss() {
  local where=$1 client=$2 pid="" peak=0 v
  while kill -0 "$client" 2>/dev/null; do
    [ -n "$pid" ] || pid=$(psql_q -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE $where LIMIT 1")
    if [ -n "$pid" ] && v=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null); then
      [ "${v:-0}" -gt "$peak" ] && peak=$v
    fi
    sleep 0.02
  done
  echo "$peak"
}
