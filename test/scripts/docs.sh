#!/usr/bin/env bash
# The docs cannot drift from the code: docs/sql-reference.md's tables of functions, GUCs and
# catalog tables must say exactly what the installed extension has (test/docs_check.py).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
psql_q -d postgres -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS plpython3u" \
  -c "CREATE EXTENSION IF NOT EXISTS pg_pipeline" -c "SELECT pipeline.enable_python()" >/dev/null
/usr/bin/python3 "$PGPIPE_ROOT/test/docs_check.py" "$PGBIN/psql" "$PGPIPE_ROOT/docs/sql-reference.md"
