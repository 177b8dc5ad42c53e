#!/usr/bin/env bash
# Start/stop test/http_server.py in the background.
#   test/http_server.sh start DIR STATEDIR   prints the port once /health answers
#   test/http_server.sh stop STATEDIR
# STATEDIR gets pid, port and server.log.  HTTP_SERVER_MAX_SECONDS (default
# 3600) bounds the server's life even if stop is never called.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

case "${1:-}" in
start)
    [ $# -eq 3 ] || { echo "usage: $0 start DIR STATEDIR" >&2; exit 2; }
    dir=$2 state=$3
    mkdir -p "$state"
    rm -f "$state/port" "$state/pid"
    nohup python3 "$here/http_server.py" --root "$dir" --port 0 \
        --port-file "$state/port" --pid-file "$state/pid" \
        --max-seconds "${HTTP_SERVER_MAX_SECONDS:-3600}" \
        </dev/null >"$state/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        if [ -s "$state/port" ] && port=$(cat "$state/port") &&
           curl -fsS --max-time 1 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
            echo "$port"
            exit 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "http_server did not come up; log:" >&2
    cat "$state/server.log" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
    ;;
stop)
    [ $# -eq 2 ] || { echo "usage: $0 stop STATEDIR" >&2; exit 2; }
    pid=$(cat "$2/pid" 2>/dev/null) || exit 0
    # Only signal our own server, not a process that reused the pid.
    grep -qs http_server.py "/proc/$pid/cmdline" || exit 0
    kill "$pid" 2>/dev/null || exit 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$2/pid" "$2/port"
    ;;
*)
    echo "usage: $0 start DIR STATEDIR | stop STATEDIR" >&2
    exit 2
    ;;
esac
