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
  psql_q -d postgres -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 ($BENCH_TAXI_COLUMNS)" >/dev/null
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

# CPU time (in clock ticks) the cluster and the test HTTP server have used so far: the
# postmaster's own and its reaped descendants' (backends, workers, and what they ran, such as
# curl and gunzip), its live children's, and the HTTP server's.
bench_cpu_ticks() {
  local pm total=0 pid
  pm=$(head -1 "$PGDATA_DIR/postmaster.pid")
  total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
  for pid in $(pgrep -P "$pm") $(cat "$PGPIPE_TMP/http.pid" 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# Like bench_time_sql, and the CPU seconds the cluster and the HTTP server spent on statement $2
# (a measure the machine's other jobs disturb far less than wall time): prints "SECONDS CPU".
bench_time_cpu_sql() {
  psql_q -d postgres -c "$1" -c "CHECKPOINT" >/dev/null
  local before after t
  before=$(bench_cpu_ticks)
  t=$(psql_q -d postgres -At <<SQL | tail -1
SELECT clock_timestamp() AS t0 \gset
$2;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 3);
SQL
)
  after=$(bench_cpu_ticks)
  echo "$t $(awk -v a="$before" -v b="$after" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) / hz}')"
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

# Starts the benchmarks' own cluster: scripts/lib.sh's, but with Postgres's default durability
# (fsync, full_page_writes and synchronous_commit on) and shared_buffers 1GB, so the numbers
# are those of a server that keeps its data, not of the test cluster (fsync off). Autovacuum is
# off: its ANALYZE of each table a round just loaded would land in the next round's timing.
bench_cluster_start() {
  cluster_start
  cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
# benchmarks: Postgres's default durability (these lines win over the test settings above)
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 1GB
autovacuum = off
CONF
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGPIPE_TMP/server.log" -w -t 60 restart >/dev/null
}

# Prints the machine and the server settings the numbers are measured with.
bench_print_settings() {
  say "machine and server settings"
  echo "  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, load average now $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "  this benchmark runs at nice $(nice) (the server and its workers inherit it)"
  psql_q -d postgres -At -F ' = ' -c "SELECT name, current_setting(name) FROM pg_settings
    WHERE name IN ('server_version', 'autovacuum', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers',
                   'max_wal_size', 'checkpoint_timeout', 'wal_compression', 'data_checksums', 'max_worker_processes',
                   'pipeline.load_workers', 'pipeline.load_chunk_size', 'pipeline.fuse_blocks')
    ORDER BY name" | sed 's/^/  /'
}

# The taxi pipeline (examples/nyc_taxi.yaml) registered as $1, its load split across $2 load
# workers, publishing to ny_taxi.$1.
bench_register_taxi() {
  local yaml
  yaml=$(sed -e "s/^name: api_to_postgres/name: $1/" -e "s/      format: csv/      format: csv\n      parallel: $2/" \
             -e "s/table: yellow_taxi_data/table: $1/" "$PGPIPE_ROOT/examples/nyc_taxi.yaml")
  psql_q -d postgres -v y="$yaml" >/dev/null <<'SQL'
SELECT pipeline.register(:'y');
SQL
}

# The taxi pipeline as $1 with a transformer that computes a column (it cannot be a plain filter):
# SELECT *, total_amount - tip_amount AS fare_without_tip ... WHERE passenger_count > 0, split
# across $2 load workers; with $3 = unfused, an alias on the loader keeps it from fusing (the same
# rows, block by block: staging, a view, CREATE TABLE AS).
bench_register_derived() {
  local from="{{ load_api_data }}" yaml
  [ "${3:-}" = unfused ] && from="{{ load_api_data }} AS rides"
  yaml=$(sed -e "s/^name: api_to_postgres/name: $1/" -e "s/      format: csv/      format: csv\n      parallel: $2/" \
             -e "s/table: yellow_taxi_data/table: $1/" \
             -e "s|sql: SELECT \* FROM {{ load_api_data }} WHERE passenger_count > 0|sql: SELECT *, total_amount - tip_amount AS fare_without_tip FROM $from WHERE passenger_count > 0|" \
             "$PGPIPE_ROOT/examples/nyc_taxi.yaml")
  grep -q fare_without_tip <<<"$yaml" || { echo "bench_register_derived: the example changed" >&2; return 1; }
  psql_q -d postgres -v y="$yaml" >/dev/null <<'SQL'
SELECT pipeline.register(:'y');
SQL
}

# The taxi table's CREATE TABLE column list (the pipeline's types).
BENCH_TAXI_COLUMNS='"VendorID" bigint, tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp,
    passenger_count bigint, trip_distance double precision, "RatecodeID" bigint,
    store_and_fwd_flag text, "PULocationID" bigint, "DOLocationID" bigint, payment_type bigint,
    fare_amount double precision, extra double precision, mta_tax double precision,
    tip_amount double precision, tolls_amount double precision,
    improvement_surcharge double precision, total_amount double precision,
    congestion_surcharge double precision'

# Peak RssAnon (kB) of the run's leader while its load workers run, of the leader over the whole
# run (its tests and publication included), and of its load workers (the largest one), and the
# most files seen in the cluster's temporary directories, sampled every 20 ms while process $1
# (the client running the work) lives. Prints "SPLIT_KB LEADER_KB WORKER_KB TEMP_FILES".
bench_peak_load_rss() {
  local client=$1 split=0 leader=0 worker=0 temp=0 v n pid kind loading
  while kill -0 "$client" 2>/dev/null; do
    loading=0 v=0
    while read -r pid kind; do
      [ "$kind" = load ] && loading=1
    done < <(psql_q -d postgres -At -F ' ' -c "SELECT pid, split_part(backend_type, ' ', 2) FROM pg_stat_activity
                                                WHERE backend_type IN ('pg_pipeline run', 'pg_pipeline load')")
    while read -r pid kind; do
      v=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
      if [ "$kind" = run ]; then
        [ "${v:-0}" -gt "$leader" ] && leader=$v
        [ "$loading" = 1 ] && [ "${v:-0}" -gt "$split" ] && split=$v
      else
        [ "${v:-0}" -gt "$worker" ] && worker=$v
      fi
    done < <(psql_q -d postgres -At -F ' ' -c "SELECT pid, split_part(backend_type, ' ', 2) FROM pg_stat_activity
                                                WHERE backend_type IN ('pg_pipeline run', 'pg_pipeline load')")
    n=$(find "$PGDATA_DIR/base" -path '*pgsql_tmp*' -type f 2>/dev/null | wc -l)
    [ "$n" -gt "$temp" ] && temp=$n
    sleep 0.02
  done
  echo "$split $leader $worker $temp"
}
