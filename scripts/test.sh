#!/usr/bin/env bash
# Runs every test of pg_pipeline and exits non-zero on any failure:
#   1. C++ unit tests of src/core (GoogleTest through CTest), and the Python runtime's (unittest)
#   2. pg_regress tests (sql/*.sql but the install script, against expected/)
#   3. pgTAP tests (test/pgtap/*.sql through pg_prove)
#   4. scripted tests (test/scripts/*.sh: dump/restore, server log checks, ...)
# It installs what it needs (Debian packages), builds and installs the extension, and runs its
# own private cluster as the postgres user. Usage: sudo scripts/test.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_root
set -e
build_and_install
set +e

failed=()
summary=()

say "1/4 unit tests (CTest)"
cmake -S "$PGPIPE_ROOT" -B "$PGPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
  cmake --build "$PGPIPE_ROOT/build" -j"$(nproc)" >"$PGPIPE_TMP.cmake.log" 2>&1 ||
  { cat "$PGPIPE_TMP.cmake.log"; failed+=("unit build"); }
(cd "$PGPIPE_ROOT/build" && ctest --output-on-failure --timeout 120) | tee "$PGPIPE_TMP.ctest.log"
[ "${PIPESTATUS[0]}" = 0 ] || failed+=("unit")
summary+=("unit (CTest):  $(grep -E 'tests passed' "$PGPIPE_TMP.ctest.log" | tail -1)")
# The Python runtime's and compiler's own tests, no database needed.
/usr/bin/python3 -m unittest discover -s "$PGPIPE_ROOT/test/python" 2>&1 | tee "$PGPIPE_TMP.pyunit.log" | tail -3
[ "${PIPESTATUS[0]}" = 0 ] || { cat "$PGPIPE_TMP.pyunit.log"; failed+=("python unit"); }
summary+=("unit (Python): $(grep -E '^Ran [0-9]+ tests' "$PGPIPE_TMP.pyunit.log") $(tail -1 "$PGPIPE_TMP.pyunit.log")")

set -e
cluster_start
publish_fixtures
trap 'http_stop; cluster_stop' EXIT
serve_fixtures
set +e
export PGPIPE_FIXTURES=$PGPIPE_TMP/fixtures PGPIPE_HTTP_PORT

say "2/4 regression tests (pg_regress)"
mkdir -p "$PGPIPE_ROOT/.tmp/regress"
make -C "$PGPIPE_ROOT" -s installcheck PG_CONFIG=$PGBIN/pg_config | tee "$PGPIPE_TMP.regress.log"
if [ "${PIPESTATUS[0]}" != 0 ]; then
  failed+=("pg_regress")
  cat "$PGPIPE_ROOT/.tmp/regress/regression.diffs" 2>/dev/null | head -200
fi
summary+=("pg_regress:    $(grep -E 'tests (passed|failed)|All [0-9]+ tests' "$PGPIPE_TMP.regress.log" | tail -1 | tr -s ' =')")

say "3/4 pgTAP tests (pg_prove)"
psql_q -d postgres -c "DROP DATABASE IF EXISTS pgtap_test" -c "CREATE DATABASE pgtap_test"
psql_q -d pgtap_test -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION pg_pipeline"
pg_prove -d pgtap_test --ext .sql "$PGPIPE_ROOT"/test/pgtap/ | tee "$PGPIPE_TMP.prove.log"
[ "${PIPESTATUS[0]}" = 0 ] || failed+=("pgTAP")
summary+=("pgTAP:         $(grep -E '^(Files=|Result:)' "$PGPIPE_TMP.prove.log" | tr '\n' ' ')")

say "4/4 scripted tests"
n_scripts=0; n_script_fail=0
for t in "$PGPIPE_ROOT"/test/scripts/*.sh; do
  [ -e "$t" ] || continue
  n_scripts=$((n_scripts + 1))
  echo "--- $(basename "$t")"
  if ! bash "$t"; then n_script_fail=$((n_script_fail + 1)); failed+=("$(basename "$t")"); fi
done
summary+=("scripted:      $((n_scripts - n_script_fail)) passed, $n_script_fail failed")

say "server log check"
# (signal 9 is the workers test's own kill -9 of a run worker; any other signal is a crash)
if grep -E "terminated by signal|leaked|WARNING:  .*(resource|reference|snapshot|relcache|buffer)" "$PGPIPE_TMP/server.log" |
   grep -v "terminated by signal 9: Killed"; then
  failed+=("server log")
  summary+=("server log:    problems found (above)")
else
  summary+=("server log:    clean (no crash, no leak warning)")
fi

say "summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  bad=0
  for suite in "unit" "pg_regress" "pgTAP" ".sh" "server log"; do
    printf '%s\n' "${failed[@]}" | grep -q -- "$suite" && bad=$((bad + 1))
  done
  echo "suites: $((5 - bad)) passed, $bad failed"
  exit 1
fi
echo "ALL TESTS PASSED"
echo "suites: 5 passed, 0 failed"
