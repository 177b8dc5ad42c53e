-- What blocks compiled from Mage Python add to native ones (compiled_from, rename_columns, log
-- queries, several urls), run by hand-written pipelines shaped as the compiler writes them.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' || '/files' AS files \gset
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; hnt text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END;
END $$;
CREATE TEMP VIEW last_log AS
  SELECT coalesce(block_name, '(run)') AS block, regexp_replace(message, '[0-9.]+ s', 'N s', 'g') AS message
    FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY log_id;

-- 1. Unfused: two files into one loader, renamed and printed by the transformer, lower-cased by
--    the exporter (as Mage's exporter does).
SELECT pipeline.register(format($$
name: compiled_taxi
variables: {files: %s}
blocks:
  - name: load
    type: data_loader
    compiled_from: data_loaders/load.py
    python: "import pandas as pd  # (kept for reference)"
    source:
      urls: ["{{ files }}/small.csv.gz", "{{ files }}/small.csv.gz"]
      columns: {VendorID: Int64, passenger_count: Int64, trip_distance: float64, total_amount: float64}
      parse_dates: [tpep_pickup_datetime, tpep_dropoff_datetime]
  - name: shape
    type: transformer
    upstream: [load]
    materialize: table
    sql: SELECT * FROM {{ load }} WHERE passenger_count > 0
    rename_columns: [{map: {VendorID: vendor_id, PULocationID: pu_location_id}}]
    log:
      - "SELECT concat('records with zero passengers: ', (SELECT count(*) FROM {{ load }} WHERE passenger_count = 0))"
    tests:
      - {not_null: vendor_id}
  - name: publish
    type: data_exporter
    upstream: [shape]
    target: {schema: compiled, table: taxi}
    rename_columns: [{expression: "lower(name)"}]
$$, :'files'));
SELECT pipeline.run('compiled_taxi') > 0 AS ran;
SELECT block_name, status, rows_out FROM pipeline.block_runs WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY block_run_id;
SELECT * FROM last_log;
SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) AS published_columns
  FROM information_schema.columns WHERE table_schema = 'compiled' AND table_name = 'taxi';

-- 2. Fused: the same renames and prints when loader, filter and exporter run as one COPY
SELECT pipeline.register(replace(replace(replace(yaml, 'urls: ["{{ files }}/small.csv.gz", "{{ files }}/small.csv.gz"]', 'url: "{{ files }}/small.csv.gz"'),
         'materialize: table', 'description: fused'), 'name: compiled_taxi', 'name: compiled_fused'))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'compiled_taxi';
SELECT pipeline.run('compiled_fused') > 0 AS ran;
SELECT * FROM last_log;
SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) AS published_columns
  FROM information_schema.columns WHERE table_schema = 'compiled' AND table_name = 'taxi';

-- 3. A rename that gives two columns one name fails, naming it
SELECT pipeline.register(replace(yaml, 'rename_columns: [{expression: "lower(name)"}]', 'rename_columns: [{expression: "''same''"}]'))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'compiled_taxi' AND version = 1;
SELECT pg_temp.error_of($$SELECT pipeline.run('compiled_taxi')$$);
