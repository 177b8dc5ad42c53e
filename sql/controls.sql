-- The run controls: upserting exporters (and their type and key checks), trigger rules, tests
-- with severity warn (plain and fused), and settings.timeout stopping a run mid-load.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' || '/files' AS files, 'http://127.0.0.1:' || :'http_port' AS base \gset

CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; dtl text; hnt text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, dtl = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  RETURN regexp_replace(st || ': ' || msg || CASE WHEN dtl <> '' THEN E'\n  detail: ' || dtl ELSE '' END
      || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END, '(run|runs|r)([ _]?)[0-9]+', '\1\2N', 'g');
END $$;
CREATE TEMP VIEW last_run AS
  SELECT br.block_name, br.status, br.warnings, br.error
    FROM pipeline.block_runs br WHERE br.run_id = (SELECT max(run_id) FROM pipeline.runs)
   ORDER BY br.block_run_id;
CREATE TEMP VIEW last_log AS
  SELECT coalesce(block_name, '(run)') AS block, level, message FROM pipeline.run_log
   WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY log_id;
CREATE FUNCTION pg_temp.checksum(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(x::text, ''|'' ORDER BY x::text)), '''') FROM %s x', t) INTO r;
  RETURN r;
END $$;
CREATE SCHEMA up;

-- 1. if_exists: upsert with unique_key: the first run creates the table with a unique index on
--    the key; the next inserts new keys and updates the others, in one statement.
SELECT pipeline.register($$
name: prices
variables: {day: 1}
blocks:
  - name: today
    type: data_loader
    sql: SELECT id, 'day {{ day }}'::text AS label, (id * {{ day }})::numeric(10,2) AS price FROM generate_series({{ day }}, {{ day }} + 2) id
  - name: publish
    type: data_exporter
    upstream: [today]
    target: {schema: up, table: prices, if_exists: upsert, unique_key: [id]}
$$);
SELECT pipeline.run('prices') > 0 AS ran;
SELECT pipeline.run('prices', '{"day": 2}') > 0 AS ran;
SELECT * FROM up.prices ORDER BY id;
SELECT indexdef FROM pg_indexes WHERE schemaname = 'up' AND tablename = 'prices';
SELECT message FROM last_log WHERE block = 'publish';
-- Mage's spelling: append with unique_constraints and unique_conflict_method IGNORE keeps the
-- rows already there
SELECT pipeline.register(replace(replace(yaml, 'table: prices, if_exists: upsert, unique_key: [id]',
         'table: first_prices, if_exists: append, unique_constraints: [id], unique_conflict_method: IGNORE'),
         'name: prices', 'name: first_prices'))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'prices';
SELECT pipeline.run('first_prices') > 0 AS ran;
SELECT pipeline.run('first_prices', '{"day": 2}') > 0 AS ran;
SELECT * FROM up.first_prices ORDER BY id;
SELECT message FROM last_log WHERE block = 'publish';

-- 2. Upsert failures name what is wrong and leave the target exactly as it was.
CREATE TABLE up.nokey (id int, label text, price numeric(10,2));
INSERT INTO up.nokey VALUES (1, 'kept', 9.99);
CREATE FUNCTION pg_temp.upsert_into(sql text, target text, extra text DEFAULT '') RETURNS text LANGUAGE sql AS $f$
  SELECT pipeline.register(format($y$
name: into_%s
blocks:
  - {name: rows, type: data_loader, sql: "%s"}
  - {name: publish, type: data_exporter, upstream: [rows], target: {schema: up, table: %s, if_exists: upsert, unique_key: [id]%s}}
$y$, target, sql, target, extra))::text
$f$;
SELECT pg_temp.checksum('up.nokey') AS nokey_before \gset
SELECT pg_temp.upsert_into('SELECT 1 AS id, ''new'' AS label, 1.00::numeric(10,2) AS price', 'nokey') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_nokey')$$);
SELECT pg_temp.checksum('up.nokey') = :'nokey_before' AS nokey_unchanged;
-- an existing target keeps its column types: a value that would change is refused, naming it
CREATE TABLE up.narrow (id int PRIMARY KEY, label varchar(5), price numeric(5,1));
INSERT INTO up.narrow VALUES (1, 'kept', 1.0);
SELECT pg_temp.checksum('up.narrow') AS narrow_before \gset
SELECT pg_temp.upsert_into('SELECT 2 AS id, ''x'' AS label, 1.25 AS price', 'narrow') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_narrow')$$);
SELECT pg_temp.upsert_into('SELECT 2 AS id, ''too long'' AS label, 1.5 AS price', 'narrow') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_narrow')$$);
SELECT pg_temp.upsert_into('SELECT 3000000000 AS id, ''x'' AS label, 1.5 AS price', 'narrow') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_narrow')$$);
SELECT pg_temp.upsert_into('SELECT 2 AS id, ''x'' AS label, 1.5 AS price, 0 AS extra', 'narrow') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_narrow')$$);
SELECT pg_temp.checksum('up.narrow') = :'narrow_before' AS narrow_unchanged;
-- ... values that fit exactly go in, cast to the target's types (2.50 is 2.5 in numeric(5,1))
SELECT pg_temp.upsert_into('SELECT 1::bigint AS id, ''new''::text AS label, 2.50 AS price', 'narrow') IS NOT NULL AS registered;
SELECT pipeline.run('into_narrow') > 0 AS ran;
SELECT * FROM up.narrow;
-- two rows for one key, a NULL key, a key the output lacks
SELECT pg_temp.upsert_into('SELECT 7 AS id, ''a'' AS label UNION ALL SELECT 7, ''b''', 'dups') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_dups')$$);
SELECT to_regclass('up.dups') IS NULL AS dups_not_created;
SELECT pg_temp.upsert_into('SELECT NULL::int AS id UNION ALL SELECT 1', 'nulls') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_nulls')$$);
SELECT pg_temp.upsert_into('SELECT 1 AS key', 'nokeycol') IS NOT NULL AS registered;
SELECT pg_temp.error_of($$SELECT pipeline.run('into_nokeycol')$$);

-- 3. Trigger rules over a failed and a skipped upstream: the default skips or blocks, the others
--    run as their rule says; a block run by a rule cannot read an upstream that has no output.
SELECT pipeline.register($$
name: rules
blocks:
  - {name: ok, type: data_loader, sql: "SELECT 1 AS n"}
  - {name: broken, type: data_loader, sql: "SELECT 1 / 0 AS n"}
  - {name: gate, type: conditional, upstream: [ok], sql: "SELECT false"}
  - {name: gated, type: transformer, upstream: [gate], sql: "SELECT 1 AS n"}
  - {name: default_rule, type: transformer, upstream: [ok, broken], sql: "SELECT 1 AS n"}
  - {name: over_skip, type: transformer, upstream: [ok, gated], sql: "SELECT 1 AS n"}
  - {name: all_done, type: transformer, upstream: [broken, gated], trigger_rule: all_done, sql: "SELECT 1 AS n"}
  - {name: one_success, type: transformer, upstream: [ok, broken], trigger_rule: one_success, sql: "SELECT * FROM {{ ok }}"}
  - {name: one_success_none, type: transformer, upstream: [broken, gated], trigger_rule: one_success, sql: "SELECT 1 AS n"}
  - {name: none_failed, type: transformer, upstream: [ok, gated], trigger_rule: none_failed, sql: "SELECT 1 AS n"}
  - {name: none_failed_not, type: transformer, upstream: [broken, gated], trigger_rule: none_failed, sql: "SELECT 1 AS n"}
  - {name: all_failed, type: transformer, upstream: [broken], trigger_rule: all_failed, sql: "SELECT 'alert' AS a"}
  - {name: all_failed_not, type: transformer, upstream: [broken, gated], trigger_rule: all_failed, sql: "SELECT 1 AS n"}
  - {name: reads_failed, type: transformer, upstream: [broken], trigger_rule: all_done, sql: "SELECT * FROM {{ broken }}"}
$$);
SELECT pg_temp.error_of($$SELECT pipeline.run('rules')$$);
SELECT block_name, status, error FROM last_run;
SELECT block, message FROM last_log WHERE message LIKE 'skipped%' OR message LIKE 'not run%';
SELECT pipeline.dag('rules');

-- 4. severity: warn records the failure (count of offending rows, message) and the run goes
--    on; the run counts its warnings. error (the default) still fails.
SELECT pipeline.register($$
name: warned
blocks:
  - name: rows
    type: data_loader
    sql: SELECT g AS id, CASE WHEN g % 4 = 0 THEN NULL ELSE g END AS v FROM generate_series(1, 10) g
    tests:
      - {not_null: v, severity: warn, message: some v are missing}
      - {row_count: {min: 20}, severity: warn}
      - {row_count: {min: 1}}
$$);
SELECT pipeline.run('warned') > 0 AS ran;
SELECT status, warnings FROM pipeline.runs WHERE run_id = (SELECT max(run_id) FROM pipeline.runs);
SELECT * FROM last_run;
SELECT * FROM last_log WHERE level = 'warning';
-- ... on the fused path too (loader, filter and exporter as one COPY)
SELECT pipeline.register(format($$
name: fused_warned
variables: {files: %s}
blocks:
  - name: load
    type: data_loader
    source:
      url: "{{ files }}/small.csv.gz"
      columns: {VendorID: Int64, passenger_count: Int64, trip_distance: float64, total_amount: float64}
      parse_dates: [tpep_pickup_datetime, tpep_dropoff_datetime]
    tests:
      - {row_count: {max: 10}, severity: warn}
  - name: keep_riders
    type: transformer
    upstream: [load]
    sql: SELECT * FROM {{ load }} WHERE passenger_count >= 0
    tests:
      - assert: SELECT count(*) = 0 FROM {{ self }} WHERE passenger_count = 0
        message: There are rides with zero passengers
        severity: warn
  - {name: publish, type: data_exporter, upstream: [keep_riders], target: {schema: up, table: fused}}
$$, :'files'));
SELECT pipeline.run('fused_warned') > 0 AS ran;
SELECT status, warnings FROM pipeline.runs WHERE run_id = (SELECT max(run_id) FROM pipeline.runs);
SELECT block_name, status, warnings FROM last_run;
SELECT block, level, regexp_replace(message, 'in [0-9.]+ s \([0-9.]+ MB downloaded, [0-9.]+ MB of CSV\)', 'in N s') AS message
  FROM last_log;

-- 5. settings.timeout stops the whole run: a load still trickling in (23 kB at 2 kB/s: 12 s) is
--    cancelled at the 1 s deadline, the run fails saying it timed out, and the target is exactly
--    as it was.
CREATE TABLE up.timed AS SELECT 1 AS kept;
SELECT pg_temp.checksum('up.timed') AS timed_before \gset
SELECT pipeline.register(format($$
name: timed
settings: {timeout: 1s}
blocks:
  - name: load
    type: data_loader
    source:
      url: "%s/trickle/small.csv.gz?bps=2000"
      columns: {VendorID: Int64, passenger_count: Int64, trip_distance: float64, total_amount: float64}
      parse_dates: [tpep_pickup_datetime, tpep_dropoff_datetime]
  - {name: keep_riders, type: transformer, upstream: [load], sql: "SELECT * FROM {{ load }} WHERE passenger_count > 0"}
  - {name: publish, type: data_exporter, upstream: [keep_riders], target: {schema: up, table: timed}}
$$, :'base'));
-- (a timeout is 57014, as statement_timeout is: PL/pgSQL's WHEN OTHERS does not catch it)
\set VERBOSITY terse
SELECT pipeline.run('timed');
\set VERBOSITY default
SELECT status, error, finished_at - started_at < interval '5 s' AS stopped_at_the_deadline
  FROM pipeline.runs WHERE run_id = (SELECT max(run_id) FROM pipeline.runs);
SELECT block_name, status, error FROM last_run;
SELECT pg_temp.checksum('up.timed') = :'timed_before' AS timed_unchanged;
-- ... and unfused: a block sleeping past the deadline, the next never starting
SELECT pipeline.register($$
name: slow
settings: {timeout: 500ms}
blocks:
  - {name: nap, type: data_loader, sql: "SELECT pg_sleep(30)::text AS slept"}
  - {name: publish, type: data_exporter, upstream: [nap], target: {schema: up, table: timed}}
$$);
\set VERBOSITY terse
SELECT pipeline.run('slow');
\set VERBOSITY default
SELECT block_name, status, error FROM last_run;
SELECT pg_temp.checksum('up.timed') = :'timed_before' AS timed_unchanged;

-- 6. if_exists: replace_where keeps every interval of a backfill: the rows the condition matches
--    are replaced, the others stay; running a month again replaces that month only. Output rows
--    outside the condition fail the block (a re-run would not replace them), target untouched.
SELECT pipeline.register($$
name: monthly
variables: {month: "2021-01"}
blocks:
  - name: rides
    type: data_loader
    sql: SELECT '{{ month }}'::text AS month, g AS ride FROM generate_series(1, 3) g
  - name: publish
    type: data_exporter
    upstream: [rides]
    target: {schema: up, table: rides, if_exists: replace_where, where: "month = '{{ month }}'"}
$$);
SELECT pipeline.run('monthly') > 0 AS ran;
SELECT pipeline.run('monthly', '{"month": "2021-02"}') > 0 AS ran;
SELECT pipeline.run('monthly') > 0 AS ran;
SELECT month, count(*) FROM up.rides GROUP BY month ORDER BY month;
SELECT message FROM last_log WHERE block = 'publish';
SELECT pg_temp.checksum('up.rides') AS rides_before \gset
SELECT pipeline.register(replace(yaml, $$SELECT '{{ month }}'::text AS month$$, $$SELECT '2021-03'::text AS month$$))
  FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'monthly';
SELECT pg_temp.error_of($$SELECT pipeline.run('monthly')$$);
SELECT pg_temp.checksum('up.rides') = :'rides_before' AS rides_unchanged;
