# Shared shell functions of scripts/*.sh: build and install the extension, and run a private
# PostgreSQL 15 cluster as the postgres user on its own port and socket directory, listening on
# 127.0.0.1 only. Source it; do not run it.
#   PGPIPE_TMP   where the cluster, sockets and served fixtures live (default /tmp/pg_pipeline)
#   PGPIPE_PORT  the cluster's port (default 54329)

PGPIPE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGPIPE_TMP=${PGPIPE_TMP:-/tmp/pg_pipeline}
PGPIPE_PORT=${PGPIPE_PORT:-54329}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}  # a relocated copy works too (PG_CONFIG is taken from it)
PGDATA_DIR=$PGPIPE_TMP/data
PGSOCK=$PGPIPE_TMP/sock
export PGHOST=$PGSOCK PGPORT=$PGPIPE_PORT PGUSER=postgres

say() { printf '\n==> %s\n' "$*"; }

# Runs a command as the postgres user (initdb refuses root), from a directory it can read.
as_postgres() {
  if [ "$(id -un)" = postgres ]; then (cd / && "$@"); else (cd / && runuser -u postgres -- "$@"); fi
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "run as root (it installs Debian packages and the extension): sudo $0" >&2
    exit 1
  fi
}

# Installs packages, builds the extension and installs it into the system PostgreSQL 15.
build_and_install() {
  say "installing build and test dependencies (Debian packages)"
  bash "$PGPIPE_ROOT/scripts/install-deps.sh"
  say "building and installing pg_pipeline"
  make -C "$PGPIPE_ROOT" -s -j"$(nproc)" PG_CONFIG=$PGBIN/pg_config
  make -C "$PGPIPE_ROOT" -s install PG_CONFIG=$PGBIN/pg_config >/dev/null
}

# Creates (fresh) and starts the private cluster.
cluster_start() {
  cluster_stop
  rm -rf "$PGDATA_DIR"
  mkdir -p "$PGPIPE_TMP" "$PGSOCK"
  : >"$PGPIPE_TMP/server.log"  # a fresh log per cluster: the log check reads only this one
  chown postgres:postgres "$PGPIPE_TMP/server.log"
  chown postgres:postgres "$PGPIPE_TMP" "$PGSOCK" 2>/dev/null || true
  chmod 755 "$PGPIPE_TMP"
  say "starting a private cluster on port $PGPIPE_PORT (socket $PGSOCK)"
  as_postgres "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PGPIPE_TMP/initdb.log"
  cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPIPE_PORT
unix_socket_directories = '$PGSOCK'
shared_preload_libraries = 'pg_cron,pg_pipeline'
cron.database_name = 'postgres'
max_worker_processes = 16
fsync = off
# (a commit's WAL is written before it returns, not synced: the crash tests' immediate restarts
# must not lose a committed run; with fsync off this costs a write, not a disk flush)
synchronous_commit = on
full_page_writes = off
shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min
log_min_messages = warning
logging_collector = off
CONF
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGPIPE_TMP/server.log" -w -t 60 start >/dev/null
}

cluster_stop() {
  if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
}

# Copies the test fixtures where the server (running as postgres) can read them.
publish_fixtures() {
  rm -rf "$PGPIPE_TMP/fixtures"
  mkdir -p "$PGPIPE_TMP/fixtures"
  cp -a "$PGPIPE_ROOT/test/fixtures/." "$PGPIPE_TMP/fixtures/"
  chmod -R a+rX "$PGPIPE_TMP/fixtures"
}

psql_q() { "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }

# The scripted tests' vocabulary (test/scripts/*.sh): fail says why and stops the test; sql runs
# one statement in database $db (default postgres, or DB) and prints its unaligned result; check
# says "ok - DESCRIPTION" when the query returns t, and fails with what it returned otherwise;
# reconnect waits (60 s at most) until the server takes connections again after a crash.
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql_q -d "${2:-${db:-postgres}}" -At -c "$1"; }
check() {  # check DESCRIPTION SQL-RETURNING-t [DB]
  local got
  got=$(sql "$2" "${3:-${db:-postgres}}") || fail "$1 (query failed)"
  [ "$got" = t ] || fail "$1 (got '$got')"
  echo "ok - $1"
}
reconnect() {
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do sql "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "the server did not come back in 60 s"
}

# Waits until QUERY (run in database DB, default postgres) returns t, for at most SECONDS;
# on timeout says what it waited for and returns 1. Tests wait on conditions, never on time.
poll_until() {
  local what=$1 seconds=$2 query=$3 db=${4:-postgres}
  local deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt "$deadline" ]; do
    [ "$("$PGBIN/psql" -X -q -At -d "$db" -c "$query" 2>/dev/null)" = t ] && return 0
    sleep 0.1
  done
  echo "timed out after $seconds s waiting until $what" >&2
  return 1
}

# Waits until the server log, from byte OFFSET on, holds a line matching PATTERN (at most SECONDS).
poll_log() {
  local offset=$1 pattern=$2 seconds=$3
  local deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt "$deadline" ]; do
    tail -c +"$((offset + 1))" "$PGPIPE_TMP/server.log" | grep -qE "$pattern" && return 0
    sleep 0.1
  done
  echo "timed out after $seconds s waiting for '$pattern' in the server log" >&2
  return 1
}

# Generates the loader's test files under $PGPIPE_TMP/www (deterministic, cached by name) and
# starts the fault-injecting test HTTP server on 127.0.0.1:$PGPIPE_HTTP_PORT (default 54330).
PGPIPE_HTTP_PORT=${PGPIPE_HTTP_PORT:-54330}
serve_fixtures() {
  local www=$PGPIPE_TMP/www gen="python3 $PGPIPE_ROOT/test/fixtures/gen_taxi.py"
  mkdir -p "$www"
  [ -s "$www/small.csv" ] || $gen --rows 1000 --out "$www/small.csv" 2>/dev/null
  [ -s "$www/small.csv.gz" ] || $gen --rows 1000 --out "$www/small.csv.gz" 2>/dev/null
  [ -s "$www/members.csv.gz" ] || $gen --rows 1000 --members 3 --out "$www/members.csv.gz" 2>/dev/null
  [ -s "$www/big.csv.gz" ] || $gen --rows 200000 --out "$www/big.csv.gz" 2>/dev/null
  for kind in bad-int bad-timestamp bad-utf8 extra-column header-mismatch missing-column unterminated-quote; do
    [ -s "$www/$kind.csv" ] || $gen --rows 10 --bad "$kind" --out "$www/$kind.csv" 2>/dev/null
  done
  [ -s "$www/empty.csv" ] || : >"$www/empty.csv"
  # 50 MB of CSV in about 50 kB of gzip (a decompression bomb), and a gzip file followed by junk
  [ -s "$www/bomb.csv.gz" ] || python3 -c 'import gzip, sys; sys.stdout.buffer.write(gzip.compress(b"a,b\n" + b"1,2\n" * 12500000, 9))' >"$www/bomb.csv.gz"
  [ -s "$www/trailing.csv.gz" ] || { cat "$www/small.csv.gz"; printf 'not gzip at all'; } >"$www/trailing.csv.gz"
  # (small files for read_csv's options: na_values, optional_columns)
  mkdir -p "$www/pandas" && cp -a "$PGPIPE_ROOT/test/fixtures/pandas_csv/." "$www/pandas/"
  # (records crossing chunk boundaries, for loads split across workers)
  [ -s "$www/chunky/bad_two.csv" ] || python3 "$PGPIPE_ROOT/test/fixtures/gen_chunky.py" "$www/chunky"
  http_stop
  python3 "$PGPIPE_ROOT/test/http_server.py" --root "$www" --port "$PGPIPE_HTTP_PORT" \
    --port-file "$PGPIPE_TMP/http.port" --pid-file "$PGPIPE_TMP/http.pid" --max-seconds 3600 \
    </dev/null >"$PGPIPE_TMP/http.log" 2>&1 &
  for _ in $(seq 100); do
    curl -fsS --max-time 1 "http://127.0.0.1:$PGPIPE_HTTP_PORT/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "test HTTP server did not start:" >&2; cat "$PGPIPE_TMP/http.log" >&2; return 1
}

# The taxi files the Mage fixtures' loaders fetch (test/fixtures/mage_python, mage_shapes), under
# $PGPIPE_TMP/www: a yellow month of 20,000 rides, and three green months (the yellow
# generator's rows under the green files' pickup and dropoff names). Cached by name.
make_mage_taxi_files() {
  local www=$PGPIPE_TMP/www gen="$PGPIPE_ROOT/test/fixtures/gen_taxi.py" month
  [ -s "$www/yellow_tripdata_2021-01.csv.gz" ] ||
    python3 "$gen" --rows 20000 --out "$www/yellow_tripdata_2021-01.csv.gz" 2>/dev/null
  for month in 10 11 12; do
    [ -s "$www/green_tripdata_2020-$month.csv.gz" ] || {
      python3 "$gen" --rows 3000 --seed "20$month" --out - 2>/dev/null |
        sed '1s/tpep_/lpep_/g' | gzip -n >"$www/green_tripdata_2020-$month.csv.gz.tmp"
      mv "$www/green_tripdata_2020-$month.csv.gz.tmp" "$www/green_tripdata_2020-$month.csv.gz"
    }
  done
}

http_stop() {
  local pid
  pid=$(cat "$PGPIPE_TMP/http.pid" 2>/dev/null) || return 0
  grep -qs http_server.py "/proc/$pid/cmdline" && kill "$pid" 2>/dev/null
  rm -f "$PGPIPE_TMP/http.pid"
  return 0
}
