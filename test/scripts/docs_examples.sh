#!/usr/bin/env bash
# Every SQL example of README.md and docs/*.md runs, and shows what it prints: test/docs_examples.py
# runs each document's ```sql blocks in order in a database of its own and compares the
# ```output blocks and `-- => value` comments (the convention is at the top of that file and in
# docs/sql-reference.md, "Examples in these pages"). The documents' files are served by the
# suite's test HTTP server: generated NYC taxi months and the loader's small test file under
# /files/docs/. Runs against the cluster of scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
files_dir=$PGPIPE_TMP/www/docs
mkdir -p "$files_dir"
# A month of the taxi example per month of 2021 (month m has 1000 * m rides), named as the
# DataTalksClub release names them, so base_url can point here; generated once, then cached.
for m in $(seq 1 12); do
  f=$(printf '%s/yellow_tripdata_2021-%02d.csv.gz' "$files_dir" "$m")
  [ -s "$f" ] || python3 "$PGPIPE_ROOT/test/fixtures/gen_taxi.py" --rows $((1000 * m)) --month "2021-$(printf %02d "$m")" \
    --out "$f" 2>/dev/null
done
[ -s "$files_dir/small.csv.gz" ] || python3 "$PGPIPE_ROOT/test/fixtures/gen_taxi.py" --rows 1000 --out "$files_dir/small.csv.gz" 2>/dev/null
chmod -R a+rX "$files_dir"
curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$PGPIPE_HTTP_PORT/files/docs/small.csv.gz" ||
  { echo "the test HTTP server does not serve $files_dir (start it with serve_fixtures)" >&2; exit 1; }

fixtures=${PGPIPE_FIXTURES:-$PGPIPE_TMP/fixtures}
[ -d "$fixtures/mage_project" ] || publish_fixtures

# (arguments: runner options and documents instead of the three, e.g. --keep README.md)
docs=("$@")
[ $# -gt 0 ] || docs=("$PGPIPE_ROOT/README.md" "$PGPIPE_ROOT"/docs/*.md)
/usr/bin/python3 "$PGPIPE_ROOT/test/docs_examples.py" --psql "$PGBIN/psql" --cwd "$PGPIPE_ROOT" \
  --var base="http://127.0.0.1:$PGPIPE_HTTP_PORT" \
  --var files="http://127.0.0.1:$PGPIPE_HTTP_PORT/files/docs" \
  --var fixtures="$fixtures" \
  --file-var taxi=examples/nyc_taxi.yaml \
  "${docs[@]}"
