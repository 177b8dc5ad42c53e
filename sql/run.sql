-- pipeline.run end to end: every block type, every test kind, every if_exists mode, a failure
-- at every block position, retries, templates, history kept for failed runs, staging cleanup.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' || '/files' AS files, 'http://127.0.0.1:' || :'http_port' AS base \gset

CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; hnt text; ctx text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
  -- (run ids and the test server's port vary with what ran before: shown as N and PORT)
  RETURN regexp_replace(regexp_replace(
      st || ': ' || msg || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END
      || coalesce((SELECT string_agg(E'\n  context: ' || l, '' ORDER BY o)
                     FROM regexp_split_to_table(ctx, E'\n') WITH ORDINALITY AS c (l, o)
                    WHERE l !~ '^(PL/pgSQL|SQL statement)'), ''),
      '(run|runs|r)([ _]?)[0-9]+', '\1\2N', 'g'), '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g');
END $$;
-- The block runs of the latest run.
CREATE VIEW last_run AS
  SELECT br.block_name, br.status, br.attempt, br.rows_in, br.rows_out, br.error
    FROM pipeline.block_runs br WHERE br.run_id = (SELECT max(run_id) FROM pipeline.runs)
   ORDER BY br.block_run_id;
CREATE FUNCTION pg_temp.checksum(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(x::text, ''|'' ORDER BY x::text)), '''') FROM %s x', t) INTO r;
  RETURN r;
END $$;

-- 1. Every block type in one pipeline, succeeding.
CREATE TABLE events (at timestamptz DEFAULT now(), what text);
SELECT pipeline.register($$
name: every_type
variables: {threshold: 2}
blocks:
  - {name: source_ready, type: sensor, sql: "SELECT count(*) >= 0 FROM events", interval: 100ms, timeout: 5s}
  - name: numbers
    type: data_loader
    upstream: [source_ready]
    sql: SELECT g AS n, g % 3 AS bucket FROM generate_series(1, 10) g
  - {name: big, type: transformer, upstream: [numbers], sql: "SELECT * FROM {{ numbers }} WHERE n > {{ threshold }}"}
  - {name: per_bucket, type: transformer, materialize: table, upstream: [big], sql: "SELECT bucket, count(*) AS c FROM {{ big }} GROUP BY bucket"}
  - {name: has_rows, type: conditional, upstream: [big], sql: "SELECT count(*) > 0 FROM {{ big }}"}
  - name: publish
    type: data_exporter
    upstream: [per_bucket, has_rows]
    sql: SELECT * FROM {{ per_bucket }}
    target: {schema: reports, table: buckets, if_exists: replace}
  - {name: tell, type: callback, upstream: [publish], on_success: "INSERT INTO events (what) VALUES ('published run {{ run_id }}')", on_failure: "INSERT INTO events (what) VALUES ('failed')"}
$$);
SELECT pipeline.run('every_type');
SELECT * FROM last_run;
SELECT * FROM reports.buckets ORDER BY bucket;
SELECT what FROM events;
-- (per block: blocks that do not depend on each other run at once, so their lines interleave)
SELECT block_name, message FROM pipeline.run_log WHERE run_id = 1 ORDER BY block_name, log_id;
SELECT count(*) AS staging_left_after_success FROM pg_class WHERE relnamespace = 'pipeline_staging'::regnamespace;

-- 2. A conditional that says false skips what follows; the run still succeeds.
SELECT pipeline.run('every_type', '{"threshold": 100}');
SELECT * FROM last_run;
SELECT status FROM pipeline.runs WHERE run_id = 2;

-- 3. if_exists: replace swaps, append adds, fail refuses (and leaves the table as it was).
SELECT pipeline.register($$
name: modes
variables: {mode: replace}
blocks:
  - {name: rows, type: data_loader, sql: "SELECT g AS id FROM generate_series(1, 3) g"}
  - {name: out, type: data_exporter, upstream: [rows], target: {schema: reports, table: modes_replace, if_exists: replace}}
$$);
SELECT pipeline.run('modes'), pipeline.run('modes');
SELECT count(*) AS replace_twice FROM reports.modes_replace;
SELECT pipeline.register(replace(yaml, 'modes_replace, if_exists: replace', 'modes_append, if_exists: append'))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'modes';
SELECT pipeline.run('modes'), pipeline.run('modes');
SELECT count(*) AS append_twice FROM reports.modes_append;
SELECT pipeline.register(replace(yaml, 'modes_append, if_exists: append', 'modes_fail, if_exists: fail'))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'modes' AND version = 2;
SELECT pipeline.run('modes');
INSERT INTO reports.modes_fail VALUES (42);
SELECT pg_temp.checksum('reports.modes_fail') AS before \gset
SELECT pg_temp.error_of($$SELECT pipeline.run('modes')$$);
SELECT pg_temp.checksum('reports.modes_fail') = :'before' AS fail_left_target_unchanged;

-- 4. Each test kind failing, with its message and count; nothing downstream is published.
-- (registration and run are separate statements: a run sees committed pipelines only)
CREATE FUNCTION pg_temp.register_tested(test text) RETURNS text LANGUAGE sql AS $f$
  SELECT pipeline.register(format($y$
name: tested
blocks:
  - name: rides
    type: data_loader
    sql: SELECT * FROM (VALUES (1, 1, 'N', 10.0), (2, 0, 'N', 5.0), (3, NULL, 'X', -1.0), (3, 2, 'Y', 7.5)) AS v (id, passengers, flag, fare)
    tests:
      - %s
  - {name: out, type: data_exporter, upstream: [rides], target: {schema: reports, table: tested}}
$y$, test))
$f$;
SELECT pg_temp.register_tested('not_null: [passengers]');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('unique: id');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('accepted_values: {column: flag, values: [N, "Y"]}');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('row_count: {min: 5}');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('row_count: {max: 3}');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('expression: fare >= 0');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('{assert: "SELECT count(*) = 0 FROM {{ self }} WHERE passengers = 0", message: There are rides with zero passengers}');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('{assert: "SELECT bool_and(fare < 10) FROM {{ self }}", message: fares stay under 10}');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.register_tested('{assert: "SELECT * FROM {{ self }} WHERE flag = ''X''", message: no X flags}');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT * FROM last_run;
SELECT to_regclass('reports.tested') IS NULL AS nothing_published;
SELECT pg_temp.register_tested('row_count: {min: 4, max: 4}');
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT count(*) AS published_when_tests_pass FROM reports.tested;

-- 5. A failing test on a replace exporter leaves the target exactly as it was.
SELECT pg_temp.checksum('reports.tested') AS before \gset
SELECT pipeline.register($$
name: tested
blocks:
  - {name: rides, type: data_loader, sql: "SELECT 9 AS id, 0 AS passengers, 'N' AS flag, 1.0 AS fare"}
  - name: out
    type: data_exporter
    upstream: [rides]
    target: {schema: reports, table: tested}
    tests:
      - {assert: "SELECT count(*) = 0 FROM {{ self }} WHERE passengers = 0", message: There are rides with zero passengers}
$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('tested')$$);
SELECT pg_temp.checksum('reports.tested') = :'before' AS target_unchanged;

-- 6. A failure at every block position: the run and its history stay recorded.
CREATE FUNCTION pg_temp.register_fragile(pos int) RETURNS text LANGUAGE sql AS $f$
  SELECT pipeline.register(format($y$
name: fragile
blocks:
  - {name: load, type: data_loader, sql: "SELECT g AS n FROM generate_series(1, 5) g WHERE %s"}
  - {name: shape, type: transformer, upstream: [load], sql: "SELECT n, 10 / (n - %s) AS ratio FROM {{ load }}", materialize: table}
  - {name: publish, type: data_exporter, upstream: [shape], target: {schema: reports, table: %s}}
  - {name: notify, type: callback, upstream: [publish], on_success: "INSERT INTO events (what) VALUES ('fragile ok')", on_failure: "INSERT INTO events (what) VALUES ('fragile failed')"}
$y$, CASE WHEN pos = 1 THEN 'n > ''x''' ELSE 'true' END,
     CASE WHEN pos = 2 THEN '3' ELSE '0' END,
     CASE WHEN pos = 3 THEN 'modes_fail, if_exists: fail' ELSE 'fragile' END))
$f$;
SELECT pg_temp.register_fragile(1);
SELECT pg_temp.error_of($$SELECT pipeline.run('fragile')$$);
SELECT * FROM last_run;
SELECT pg_temp.register_fragile(2);
SELECT pg_temp.error_of($$SELECT pipeline.run('fragile')$$);
SELECT * FROM last_run;
SELECT pg_temp.register_fragile(3);
SELECT pg_temp.error_of($$SELECT pipeline.run('fragile')$$);
SELECT * FROM last_run;
SELECT pg_temp.register_fragile(0);
SELECT pg_temp.error_of($$SELECT pipeline.run('fragile')$$);
SELECT * FROM last_run;
SELECT what, count(*) FROM events WHERE what LIKE 'fragile%' GROUP BY what ORDER BY what;
SELECT status, count(*) FROM pipeline.runs JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'fragile' GROUP BY status ORDER BY status;
-- a failed run keeps its staging for inspection
SELECT count(*) > 0 AS failed_staging_kept FROM pipeline.block_runs b JOIN pipeline.staging s ON s.relid = b.output_oid
 WHERE to_regclass(b.output_relation) = s.relid;

-- 7. Retries: a download that fails twice, then works; each attempt is recorded.
SELECT pipeline.register($$
name: flaky
blocks:
  - name: load
    type: data_loader
    source: {url: "{{ base }}/flaky/{{ key }}/{{ failures }}/small.csv.gz"}
    retry: {retries: 3, delay: 10ms, exponential_backoff: true}
$$);
SELECT pipeline.run('flaky', jsonb_build_object('base', :'base', 'failures', 2, 'key', md5(clock_timestamp()::text))) > 0 AS ran;
SELECT block_name, status, attempt, rows_out FROM last_run;
SELECT attempt, status, sqlstate FROM pipeline.block_attempts WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY attempt;
SELECT count(*) AS retry_log_lines FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) AND message LIKE 'attempt % failed: HTTP 500%retrying in%';
-- four failures are one too many for three retries
SELECT regexp_replace(regexp_replace(pg_temp.error_of(format($$SELECT pipeline.run('flaky', '{"base": "%s", "failures": 4, "key": "%s"}')$$, :'base', md5('x' || clock_timestamp()::text))), '[0-9a-f]{32}', 'KEY', 'g'),
                      '"pipeline_staging_[0-9]+_[0-9a-f]{8}"\."(r[0-9N]+_[a-z_]+)_[0-9a-f]{8}"', 'STAGING.\1', 'g');
SELECT attempt, status FROM pipeline.block_attempts WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY attempt;

-- 8. Templates: variables (defaults, then the call), expressions evaluated by Postgres,
--    run_id, execution_date, secrets; a missing variable is named.
SELECT pipeline.set_secret('api_token', 's3cret');
SELECT pipeline.register($$
name: templated
variables: {year: 2021, month: 1, color: yellow}
blocks:
  - name: facts
    type: data_loader
    sql: >
      SELECT '{{ color }}_tripdata_{{ year }}-{{ lpad(month::text, 2, '0') }}.csv.gz' AS file,
             {{ run_id }} AS run_id,
             '{{ execution_date::date = current_date }}' AS today,
             length('{{ secret('api_token') }}') AS secret_length
  - {name: out, type: data_exporter, upstream: [facts], target: {schema: reports, table: templated}}
$$);
SELECT pipeline.run('templated', '{"month": 11}') AS run_id \gset
SELECT file, run_id = :run_id AS run_id_ok, today, secret_length FROM reports.templated;
SELECT pg_temp.error_of($$SELECT pipeline.register(replace(yaml, '{{ color }}', '{{ colour }}')) FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'templated'$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('templated')$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('templated', '[1, 2]')$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('no_such_pipeline')$$);

-- templates in tests are rendered too
SELECT pipeline.register($$
name: tested_templates
variables: {lowest: 2}
blocks:
  - name: nums
    type: data_loader
    sql: SELECT g AS n FROM generate_series(1, 5) g
    tests:
      - {expression: "n >= {{ lowest }}", message: "n is at least {{ lowest }}"}
      - {assert: "SELECT count(*) = 0 FROM {{ self }} WHERE n < {{ lowest }}", message: too small}
$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('tested_templates')$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('tested_templates', '{"lowest": 1}')$$);

-- a run inside the transaction that registered the pipeline is refused, not deadlocked
BEGIN;
SELECT pipeline.register($$
name: uncommitted
blocks:
  - {name: one, type: data_loader, sql: "SELECT 1 AS n"}
$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('uncommitted')$$);
ROLLBACK;
-- and a worker waiting for a lock the caller holds is stopped, not waited for forever
BEGIN;
LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
SELECT pg_temp.error_of($$SELECT pipeline.run('every_type')$$);
ROLLBACK;

-- 9. Sensors time out, blocks have timeouts.
SELECT pipeline.register($$
name: patient
blocks:
  - {name: wait_for_it, type: sensor, sql: "SELECT false", interval: 100ms, timeout: 300ms}
$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('patient')$$);
SELECT * FROM last_run;
-- a block's timeout cancels it like statement_timeout (57014, which PL/pgSQL cannot catch)
SELECT pipeline.register($$
name: patient
blocks:
  - {name: slow, type: data_loader, sql: "SELECT pg_sleep(5)::text AS slept", timeout: 200ms}
$$);
\set VERBOSITY terse
SELECT clock_timestamp() AS t0 \gset
SELECT pipeline.run('patient');
\set VERBOSITY default
SELECT clock_timestamp() - :'t0' < interval '2 s' AS stopped_in_time;
SELECT * FROM last_run;

-- 10. The worker runs as the caller's role, with only its privileges.
CREATE ROLE regress_runner IN ROLE pipeline_user;
CREATE TABLE private_numbers (n int);
SET ROLE regress_runner;
SELECT pipeline.register($$
name: nosy
blocks:
  - {name: peek, type: data_loader, sql: "SELECT * FROM private_numbers"}
$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('nosy')$$);
SELECT owner, status FROM pipeline.runs;
RESET ROLE;
SELECT count(*) AS runs_visible_to_superuser FROM pipeline.runs;
DROP OWNED BY regress_runner;
DROP ROLE regress_runner;

-- 11. The taxi shape (HTTP loader -> "SELECT * FROM {{ loader }} WHERE ..." -> replace) runs as one
--     COPY with a WHERE into the new table; the result equals loading and filtering by hand,
--     every block is still recorded and tested, and a failing test leaves the target as it was.
SELECT pipeline.register(format($$
name: fused
variables: {files: %s}
blocks:
  - name: load
    type: data_loader
    source:
      url: "{{ files }}/small.csv.gz"
      columns: {VendorID: Int64, passenger_count: Int64, trip_distance: float64, total_amount: float64}
      parse_dates: [tpep_pickup_datetime, tpep_dropoff_datetime]
    tests:
      - row_count: {min: 1}
  - name: keep_riders
    type: transformer
    upstream: [load]
    sql: SELECT * FROM {{ load }} WHERE passenger_count > 0
    tests:
      - assert: SELECT count(*) = 0 FROM {{ self }} WHERE passenger_count = 0
        message: There are rides with zero passengers
  - {name: publish, type: data_exporter, upstream: [keep_riders], target: {schema: reports, table: fused}}
$$, :'files'));
SELECT pipeline.run('fused') > 0 AS ran;
SELECT block_name, status, rows_in, rows_out, output_relation FROM pipeline.block_runs
 WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY block_run_id;
SELECT block_name, regexp_replace(message, 'in [0-9.]+ s', 'in N s') AS message
  FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY log_id;
SELECT pipeline.load_csv(:'files' || '/small.csv.gz', 'by_hand', '{"create": true, "columns": {"VendorID": "Int64", "passenger_count": "Int64", "trip_distance": "float64", "total_amount": "float64"}, "parse_dates": ["tpep_pickup_datetime", "tpep_dropoff_datetime"]}');
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM by_hand t WHERE passenger_count > 0)
     = (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM reports.fused t) AS same_rows_as_by_hand;
SELECT count(*) AS staging_tables_made FROM pipeline.staging WHERE run_id = (SELECT max(run_id) FROM pipeline.runs);
-- the filter lets zero-passenger rides through: the transformer's test fails, nothing changes
SELECT pg_temp.checksum('reports.fused') AS before \gset
SELECT pipeline.register(replace(yaml, 'passenger_count > 0', 'passenger_count >= 0'))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'fused';
SELECT pg_temp.error_of($$SELECT pipeline.run('fused')$$);
SELECT block_name, status, error FROM last_run;
SELECT pg_temp.checksum('reports.fused') = :'before' AS target_unchanged;
-- a download failure is the loader's
SELECT regexp_replace(pg_temp.error_of(format($$SELECT pipeline.run('fused', '{"files": "%s/status/404/x"}')$$, :'base')), '_pgp_new_[0-9a-f]{8}', '_pgp_new_X', 'g');
SELECT block_name, status FROM last_run;
-- a filter naming a column the file lacks is the transformer's mistake, not retried as the loader's
SELECT pipeline.register(replace(yaml, 'passenger_count >= 0', 'passenger_cnt > 0'))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'fused' AND version = 2;
SELECT regexp_replace(pg_temp.error_of($$SELECT pipeline.run('fused')$$), '_pgp_new_[0-9a-f]{8}', '_pgp_new_X', 'g');
SELECT block_name, status, attempt FROM last_run;

-- 12. Fusion is decided from the parse tree of the filter: anything beyond "SELECT * FROM
--     {{ load }} WHERE <condition>" runs unfused and publishes exactly what its SQL says.
CREATE FUNCTION pg_temp.register_shape(sql text, files text) RETURNS text LANGUAGE sql AS $f$
  SELECT pipeline.register(format($y$
name: shapes
variables: {files: %s}
blocks:
  - name: load
    type: data_loader
    source: {url: "{{ files }}/small.csv.gz", columns: {passenger_count: Int64, total_amount: float64}}
  - {name: keep, type: transformer, upstream: [load], sql: %s}
  - {name: publish, type: data_exporter, upstream: [keep], target: {schema: reports, table: shapes}}
$y$, files, to_json(sql)))
$f$;
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0', :'files');
SELECT pipeline.run('shapes') > 0 AS ran;
-- (a function, not a view: a view on the target would keep replace from swapping it)
CREATE FUNCTION pg_temp.last_shape(OUT rows_published bigint, OUT fused boolean) LANGUAGE sql AS $f$
  SELECT (SELECT count(*) FROM reports.shapes),
         EXISTS (SELECT FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs)
                    AND message LIKE '%one COPY for load, keep and publish')
$f$;
SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape(E'select *\n  from {{ load }}\n where (passenger_count > 0) -- riders only', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0 LIMIT 10', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0 OFFSET 900', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0 FETCH FIRST 3 ROWS ONLY', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0 ORDER BY total_amount DESC', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT DISTINCT * FROM {{ load }} WHERE passenger_count > 0', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0 UNION ALL SELECT * FROM {{ load }} WHERE passenger_count = 0', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('WITH few AS (SELECT 1) SELECT * FROM {{ load }} WHERE passenger_count > 0', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count IN (SELECT 1)', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} AS l WHERE l.passenger_count > 0', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0 FOR SHARE', :'files');
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
-- a role (or database) setting turns fusion off: the same rows, unfused
SELECT pg_temp.register_shape('SELECT * FROM {{ load }} WHERE passenger_count > 0', :'files');
ALTER ROLE CURRENT_USER SET pipeline.fuse_blocks = off;
SELECT pipeline.run('shapes') > 0 AS ran; SELECT * FROM pg_temp.last_shape();
ALTER ROLE CURRENT_USER RESET pipeline.fuse_blocks;

-- 13. Sensors can wait for a URL: an answer with a body is ready, an error keeps waiting.
SELECT pipeline.register(format($$
name: url_sensor
variables: {base: %s}
blocks:
  - {name: ready, type: sensor, url: "{{ base }}/files/small.csv", interval: 100ms, timeout: 1s}
$$, :'base'));
SELECT pipeline.run('url_sensor') > 0 AS ran;
SELECT message FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) AND block_name = 'ready';
SELECT pg_temp.error_of(format($$SELECT pipeline.run('url_sensor', '{"base": "%s/status/404"}')$$, :'base'));
