-- pipeline.load_csv: streaming CSV and CSV.gz over HTTP into COPY, and every way it can fail.
-- The test runner serves test files on 127.0.0.1:$PGPIPE_HTTP_PORT (test/http_server.py) and can inject
-- faults. After each failure the target must be exactly as it was (checksum before = after).
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' AS base \gset

-- Tries one load into table trips; reports the error (SQLSTATE, message, detail, hint, our
-- context lines) and whether the target was left unchanged. Numbers that depend on how the
-- network delivered the bytes are masked as N.
CREATE FUNCTION pg_temp.try_load(url text, options jsonb DEFAULT '{}', target text DEFAULT 'trips',
                                 show_copy_line boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  before text; after text; st text; msg text; det text; hnt text; ctx text; result text; n bigint;
BEGIN
  EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(t::text, ''|'' ORDER BY t::text)), '''') FROM %s t', target) INTO before;
  BEGIN
    n := pipeline.load_csv(url, target, options);
    result := 'loaded ' || n || ' rows';
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
    result := st || ': ' || msg
      || CASE WHEN det <> '' THEN E'\n  detail: ' || det ELSE '' END
      || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END
      || coalesce((SELECT string_agg(E'\n  context: ' || l, '' ORDER BY o)
                     FROM regexp_split_to_table(ctx, E'\n') WITH ORDINALITY AS c (l, o)
                    WHERE l !~ '^(PL/pgSQL|SQL statement)' AND (show_copy_line OR l !~ '^COPY ')), '');
  END;
  EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(t::text, ''|'' ORDER BY t::text)), '''') FROM %s t', target) INTO after;
  result := regexp_replace(result, '(after|byte) [0-9]+( of|:| compressed| bytes)', '\1 N\2', 'g');
  result := regexp_replace(result, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g');  -- (the test server's port)
  RETURN result || CASE WHEN before = after THEN E'\n  target unchanged' ELSE E'\n  target changed' END;
END $$;

-- Happy paths: gzip (detected by its magic bytes), plain, multi-member gzip, redirects.
SELECT pipeline.load_csv(:'base' || '/files/small.csv.gz', 'trips', $${"create": true,
  "columns": {"VendorID": "Int64", "passenger_count": "Int64", "trip_distance": "float64",
              "RatecodeID": "Int64", "store_and_fwd_flag": "str", "PULocationID": "Int64",
              "DOLocationID": "Int64", "payment_type": "Int64", "fare_amount": "float64",
              "extra": "float64", "mta_tax": "float64", "tip_amount": "float64",
              "tolls_amount": "float64", "improvement_surcharge": "float64",
              "total_amount": "float64", "congestion_surcharge": "float64"},
  "parse_dates": ["tpep_pickup_datetime", "tpep_dropoff_datetime"]}$$);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'trips'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) AS rows, count(*) FILTER (WHERE passenger_count = 0) AS zero_passengers,
       count(*) FILTER (WHERE passenger_count IS NULL) AS blank_passengers,
       min(tpep_pickup_datetime) >= '2021-01-01' AS january FROM trips;
SELECT pg_temp.try_load(:'base' || '/files/small.csv');
SELECT pg_temp.try_load(:'base' || '/files/members.csv.gz');
SELECT pg_temp.try_load(:'base' || '/redirect/3/small.csv.gz');
SELECT count(*) AS rows_after_four_loads FROM trips;

-- HTTP and network failures
SELECT pg_temp.try_load(:'base' || '/status/404');
SELECT pg_temp.try_load(:'base' || '/status/500');
-- (a fresh key per run: the server counts requests per key for as long as it lives)
SELECT :'base' || '/flaky/' || md5(clock_timestamp()::text) || '/1/small.csv.gz' AS flaky \gset
SELECT regexp_replace(pg_temp.try_load(:'flaky'), '[0-9a-f]{32}', 'KEY', 'g');
SELECT regexp_replace(pg_temp.try_load(:'flaky'), '[0-9a-f]{32}', 'KEY', 'g');
SELECT pg_temp.try_load('http://127.0.0.1:9/nothing-listens-here.csv');
SELECT pg_temp.try_load(:'base' || '/reset/small.csv?after=20000', show_copy_line => false);
SELECT pg_temp.try_load(:'base' || '/lying-length/small.csv.gz', show_copy_line => false);
SET pipeline.low_speed_time = '1s';
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.try_load(:'base' || '/stall/small.csv.gz?after=2000&hold=30', show_copy_line => false);
SELECT clock_timestamp() - :'t0' < interval '3 s' AS stall_detected_within_3s;
SET pipeline.low_speed_limit = 100000;
SELECT pg_temp.try_load(:'base' || '/trickle/small.csv?bps=2000', show_copy_line => false);
RESET pipeline.low_speed_limit;
RESET pipeline.low_speed_time;
SELECT pg_temp.try_load(:'base' || '/files/small.csv.gz', '{"max_bytes": 10000}', show_copy_line => false);
SELECT pg_temp.try_load(:'base' || '/stall/small.csv.gz?after=2000&hold=30', '{"timeout": "1s"}', show_copy_line => false);

-- Redirects and schemes
SELECT pg_temp.try_load(:'base' || '/redirect-loop');
SELECT pg_temp.try_load(:'base' || '/redirect-to?url=file:///etc/passwd');
SELECT pg_temp.try_load('ftp://127.0.0.1/small.csv');
SELECT pg_temp.try_load('file:///etc/passwd');

-- Credentials never show in messages
SELECT pg_temp.try_load('http://user:secret@127.0.0.1:' || :'http_port' || '/auth/small.csv.gz');
SELECT pg_temp.try_load('http://user:wrong@127.0.0.1:' || :'http_port' || '/auth/small.csv.gz?token=abc123');

-- Broken gzip
SELECT pg_temp.try_load(:'base' || '/truncate/small.csv.gz?keep=0.5', show_copy_line => false);
SELECT pg_temp.try_load(:'base' || '/corrupt/small.csv.gz?at=5000', show_copy_line => false);
SELECT pg_temp.try_load(:'base' || '/files/small.csv', '{"compression": "gzip"}', show_copy_line => false);

-- Bad files: the header by name, bad rows with COPY's own line and column
SELECT pg_temp.try_load(:'base' || '/files/header-mismatch.csv');
SELECT pg_temp.try_load(:'base' || '/files/bad-int.csv');
SELECT pg_temp.try_load(:'base' || '/files/bad-timestamp.csv');
SELECT pg_temp.try_load(:'base' || '/files/bad-utf8.csv');
SELECT pg_temp.try_load(:'base' || '/files/extra-column.csv');
SELECT pg_temp.try_load(:'base' || '/files/missing-column.csv');
SELECT pg_temp.try_load(:'base' || '/files/unterminated-quote.csv');
SELECT pg_temp.try_load(:'base' || '/files/empty.csv');
-- the same bytes are fine once the file's real encoding is given
CREATE TABLE latin (LIKE trips);
SELECT pg_temp.try_load(:'base' || '/files/bad-utf8.csv', '{"encoding": "LATIN1"}', 'latin');
SELECT store_and_fwd_flag FROM latin WHERE store_and_fwd_flag NOT IN ('N', 'Y');

-- Options and targets
-- a table made with unquoted names (vendorid) still takes the file's "VendorID"
CREATE TABLE folded (VendorID bigint, tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp,
  Passenger_Count bigint, trip_distance float8, RatecodeID bigint, store_and_fwd_flag text,
  PULocationID bigint, DOLocationID bigint, payment_type bigint, fare_amount float8, extra float8,
  mta_tax float8, tip_amount float8, tolls_amount float8, improvement_surcharge float8,
  total_amount float8, congestion_surcharge float8);
SELECT pg_temp.try_load(:'base' || '/files/small.csv', target => 'folded');
SELECT pg_temp.try_load(NULL);
SELECT pg_temp.try_load(:'base' || '/files/small.csv', NULL);
SELECT pg_temp.try_load(:'base' || '/files/small.csv', '{"delimitr": ";"}');
SELECT pg_temp.try_load(:'base' || '/files/small.csv', '{"compression": "zip"}');
\set VERBOSITY terse
SELECT pipeline.load_csv(:'base' || '/files/small.csv', 'no_such_table');
\set VERBOSITY default
SELECT pipeline.load_csv(:'base' || '/files/small.csv', 'typed_text', '{"create": true}');
SELECT count(DISTINCT format_type(atttypid, atttypmod)) AS types_without_columns FROM pg_attribute
 WHERE attrelid = 'typed_text'::regclass AND attnum > 0;

-- The checks COPY itself makes
CREATE ROLE regress_loader IN ROLE pipeline_user;
GRANT SELECT ON trips TO regress_loader;
-- With no allowed prefix, a role other than a superuser may reach public addresses only: the
-- test server on 127.0.0.1 is refused before a connection is made, and so is cloud metadata.
SET ROLE regress_loader;
SELECT pg_temp.try_load(:'base' || '/files/small.csv');
SELECT pg_temp.try_load('http://169.254.169.254/latest/meta-data/');
RESET ROLE;
SELECT set_config('pipeline.allowed_url_prefixes', :'base' || '/files/', false) IS NOT NULL AS prefixes_set;
SET ROLE regress_loader;
SELECT pg_temp.try_load(:'base' || '/files/small.csv');
RESET ROLE;
GRANT INSERT ON trips TO regress_loader;
SET ROLE regress_loader;
SELECT pg_temp.try_load(:'base' || '/files/small.csv');
SELECT pg_temp.try_load(:'base' || '/status/404');
SELECT pg_temp.try_load(:'base' || '/files/../status/404');
SELECT pg_temp.try_load(:'base' || '/files/%2e%2e/status/404');
RESET ROLE;
ALTER TABLE latin ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON latin TO regress_loader;
SET ROLE regress_loader;
SELECT pg_temp.try_load(:'base' || '/files/small.csv', target => 'latin');
RESET ROLE;
RESET pipeline.allowed_url_prefixes;
BEGIN READ ONLY;
SELECT pg_temp.try_load(:'base' || '/files/small.csv');
COMMIT;
DROP OWNED BY regress_loader;
DROP ROLE regress_loader;

-- statement_timeout stops a stalled transfer at once (query cancel cannot be caught in
-- PL/pgSQL, so this one is a plain statement)
SET statement_timeout = '500ms';
\set VERBOSITY terse
SELECT clock_timestamp() AS t0 \gset
SELECT pipeline.load_csv(:'base' || '/stall/small.csv.gz?after=2000&hold=30', 'trips');
\set VERBOSITY default
RESET statement_timeout;
SELECT clock_timestamp() - :'t0' < interval '1.5 s' AS stopped_within_a_second;
SELECT count(*) AS rows_at_the_end FROM trips;
