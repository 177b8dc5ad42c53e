#!/usr/bin/env bash
# Compiled Mage blocks against the Python path, on the cluster of scripts/test.sh (PL/Python in
# database postgres, the test HTTP server on $PGPIPE_HTTP_PORT serving $PGPIPE_TMP/www): the
# project test/fixtures/mage_shapes (one pipeline per block shape, its exporter's schema filled
# in) is imported twice, compiled (import_project's default) into schema eq_native and forced
# Python (native => false) into eq_python; each pipeline runs both ways on the same generated
# files, and the two tables must be equal: column names and types in order, row count, and an
# md5 over every column of every row. Near-misses (read_csv with converters=, a filter on a
# column computed in Python, .apply(lambda ...)) must import as Python, their rows saying why.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
db=postgres
PY=/usr/bin/python3  # the interpreter PL/Python embeds, with pandas
work=$PGPIPE_TMP/compile_equivalence
www=$PGPIPE_TMP/www

psql_q -d $db -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS pg_pipeline CASCADE" \
  -c "CREATE EXTENSION IF NOT EXISTS plpython3u" -c "CREATE EXTENSION pg_pipeline" \
  -c "DROP SCHEMA IF EXISTS eq_native, eq_python CASCADE" >/dev/null

# The files: a yellow month (no ehail_fee, trip_type: optional columns), three green months,
# and a small file of pandas' missing-value spellings, quoted and not.
make_mage_taxi_files
cat >"$www/shapes_na.csv" <<'CSV'
id,kind,amount,flag,at
1,a,12.5,True,2021-01-01 10:00:00
2,b,,False,2021-01-02 11:00:00
NA,"NA",3.0,,2021-01-03 12:00:00
4,null,NaN,True,
5,c,20,False,2021-01-05 13:00:00
6,"a",N/A,,2021-01-06 14:00:00
,b,7.25,True,2021-01-07 15:00:00
CSV

# The project, twice: pipeline NAME is loader LOADER, then TRANSFORMER (or none), then an
# exporter to <schema>.NAME.
pipelines="seed_filters:read_csv_dtypes:filters na_values:requests_stringio:missing_values
monthly_snake:monthly_concat:camel_to_snake near_converters:converters_near_miss:
near_computed:read_csv_dtypes:computed_filter_near_miss near_apply:read_csv_dtypes:apply_near_miss"
rm -rf "$work" && mkdir -p "$work"
for schema in eq_native eq_python; do
  dir=$work/$schema
  cp -a "$PGPIPE_ROOT/test/fixtures/mage_shapes" "$dir"
  rm "$dir/data_exporters/export.py"
  for p in $pipelines; do
    IFS=: read -r name loader transformer <<<"$p"
    sed "s/'SCHEMA'/'$schema'/; s/'TABLE'/'$name'/" "$PGPIPE_ROOT/test/fixtures/mage_shapes/data_exporters/export.py" \
      >"$dir/data_exporters/export_$name.py"
    mkdir -p "$dir/pipelines/$name"
    {
      echo "variables: {port: $PGPIPE_HTTP_PORT}"
      echo "blocks:"
      # (blocks of their own, over the shared files: a Mage block shared by several pipelines of
      # one import leaves the earlier pipelines pinned to an older version of it)
      echo "- {uuid: load_$name, type: data_loader, language: python, upstream_blocks: [],"
      echo "   configuration: {file_path: data_loaders/$loader.py}}"
      last=load_$name
      if [ -n "$transformer" ]; then
        echo "- {uuid: transform_$name, type: transformer, language: python, upstream_blocks: [load_$name],"
        echo "   configuration: {file_path: transformers/$transformer.py}}"
        last=transform_$name
      fi
      echo "- {uuid: export_$name, type: data_exporter, language: python, upstream_blocks: [$last]}"
    } >"$dir/pipelines/$name/metadata.yaml"
  done
done
chmod -R a+rX "$work"

t0=$SECONDS
sql "SELECT count(*) FROM pipeline.import_project('$work/eq_native', 'eq_native')" >/dev/null 2>&1
sql "SELECT count(*) FROM pipeline.import_project('$work/eq_python', 'eq_python', native => false)" >/dev/null 2>&1
check_reason() {  # check_reason PIPELINE BLOCK PREFIX [TEXT]: its row in the compiled import
  local got
  got=$(sql "SELECT reason FROM pipeline.import_project('$work/eq_native', 'eq_native') WHERE pipeline = '$1' AND block = '$2'" 2>/dev/null)
  [[ "$got" == "$3"* ]] || fail "block $2 of $1: expected a reason starting '$3', got: $got"
  [ -z "${4:-}" ] || grep -qF -- "$4" <<<"$got" || fail "block $2 of $1: expected '$4' in: $got"
  echo "ok - $1.$2 imports ${3%%:*}${4:+ ($4)}"
}
for p in $pipelines; do
  IFS=: read -r name loader transformer <<<"$p"
  case $name in near_*) continue ;; esac
  for b in load_$name ${transformer:+transform_$name} export_$name; do check_reason "$name" "$b" "native: compiled from "; done
done
check_reason near_converters load_near_converters "python: data_loaders/converters_near_miss.py, line 10" "converters"
check_reason near_computed transform_near_computed "python: transformers/computed_filter_near_miss.py, line 8" "computed in this block"
check_reason near_apply transform_near_apply "python: transformers/apply_near_miss.py, line 7" ".apply() is not a shape"
check_reason near_apply load_near_apply "native: compiled from "
# (forced Python: no block of the second project is native, and each row says why)
got=$(sql "SELECT count(*) FROM pipeline.import_project('$work/eq_python', 'eq_python', native => false)
            WHERE kind IN ('data_loader', 'transformer', 'data_exporter') AND reason <> 'python: native => false: every Python block stays Python'" 2>/dev/null)
[ "$got" = 0 ] || fail "native => false: $got block rows do not say they stay Python"
echo "ok - native => false keeps every block Python, and says so"

echo "# each pipeline both ways, compared"
table_fingerprint() {  # table_fingerprint SCHEMA.TABLE: columns and types; rows and md5
  sql "SELECT (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                 FROM pg_attribute WHERE attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped)
          || ' | ' || (SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM $1 t)"
}
for p in $pipelines; do
  IFS=: read -r name loader transformer <<<"$p"
  for schema in eq_native eq_python; do
    run=$(sql "SELECT pipeline.run('$name', project => '$schema')" 2>&1) || fail "$name ($schema) did not run: $run"
    status=$(sql "SELECT status FROM pipeline.runs WHERE run_id = $run")
    [ "$status" = succeeded ] || fail "run $run of $name ($schema) is $status"
  done
  native=$(table_fingerprint "eq_native.$name")
  python=$(table_fingerprint "eq_python.$name")
  [ "$native" = "$python" ] || fail "$name: the compiled run's table differs from the Python run's:
  native: $native
  python: $python"
  rows=${native##* | }
  echo "ok - $name: both ways the same table (${rows%%,*}, every column)"
done
got=$(sql "SELECT count(*) FILTER (WHERE l.message LIKE 'native, compiled from %' AND p.project = 'eq_native') || ' '
            || count(*) FILTER (WHERE l.message LIKE 'ran Python %' AND p.project = 'eq_python')
             FROM pipeline.run_log l JOIN pipeline.runs r USING (run_id) JOIN pipeline.pipelines p USING (pipeline_id)")
[ "$got" = "14 17" ] || fail "run log lines (native in eq_native, Python in eq_python): $got, expected 14 17"
echo "ok - the run log says native (14 blocks) or ran Python (17 blocks) per block"
echo "   (imports and runs took $((SECONDS - t0)) s)"
