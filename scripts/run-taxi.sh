#!/usr/bin/env bash
# The main job: build and install pg_pipeline, start a private cluster, create the extension,
# register the NYC taxi pipeline (examples/nyc_taxi.yaml) and show it.
# Usage (as root): scripts/run-taxi.sh        The cluster keeps running afterwards; stop it with
#                                              scripts/run-taxi.sh stop
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ "${1:-}" = stop ]; then cluster_stop; echo "stopped"; exit 0; fi
need_root
build_and_install
cluster_start

say "creating the extension and registering the taxi pipeline"
psql_q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline"
psql_q -d postgres -At -v yaml="$(cat "$PGPIPE_ROOT/examples/nyc_taxi.yaml")" \
  -c "SELECT 'registered pipeline ' || pipeline.register(:'yaml')"

say "the pipeline's DAG (Mermaid)"
psql_q -d postgres -At -c "SELECT pipeline.dag('api_to_postgres')"
say "its blocks"
psql_q -d postgres -c "SELECT name, type, definition -> 'upstream' AS upstream FROM pipeline.blocks ORDER BY block_id"

cat <<MSG

The cluster is still running. Connect with:
  $PGBIN/psql -h $PGSOCK -p $PGPIPE_PORT -U postgres postgres
Stop it with: scripts/run-taxi.sh stop
MSG
