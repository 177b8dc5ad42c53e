-- Tests counted by the load. A fused chain's transformer and exporter tests are judged on
-- counts the chain's COPY makes as it reads the rows (pipeline._count_row after its WHERE),
-- without a scan of the loaded table. What is worth a diff: every counting kind's verdict and
-- count equal to the unfused chain's (the same blocks with the loader aliased, run block by
-- block on staged tables), with one COPY and with the load split across 3 load workers; a
-- failing test's error the same; the conditions COPY cannot evaluate as a scan would (a
-- subquery, a volatile function, a column the loader does not declare, a projection's computed
-- or renamed column) falling back to the scan; and SQL that calls pipeline._count_row itself
-- changing no count.
DROP EXTENSION IF EXISTS pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT set_config('counted.files', 'http://127.0.0.1:' || :'http_port' || '/files/chunky', false) IS NOT NULL AS files_set;
ALTER ROLE CURRENT_USER SET pipeline.load_chunk_size = '8kB';

CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
  RETURN st || ': ' || msg;
END $$;

-- The chain as `name`: quoted.csv (2000 records, many 8 kB chunks) loaded with `n` load
-- workers, filtered by `filter`, with `tests` on the transformer and `export_tests` on the
-- exporter (YAML flow lists); `alias` keeps it from fusing.
CREATE FUNCTION pg_temp.register_chain(name text, n int, filter text, tests text, export_tests text,
                                       alias boolean DEFAULT false, items text DEFAULT '*',
                                       columns text DEFAULT '{id: bigint, amount: float64, at: timestamp}')
RETURNS void LANGUAGE sql AS $f$
  SELECT pipeline.register(format($y$
name: %1$s
blocks:
  - name: load
    type: data_loader
    source: {url: "%2$s/quoted.csv", columns: %9$s, parallel: %3$s}
  - name: keep
    type: transformer
    upstream: [load]
    sql: "SELECT %8$s FROM {{ load }}%4$s WHERE %5$s"
    tests: %6$s
  - name: export
    type: data_exporter
    upstream: [keep]
    target: {schema: counted, table: %1$s}
    tests: %7$s
$y$, name, current_setting('counted.files'), n, CASE WHEN alias THEN ' AS l' ELSE '' END, filter, tests, export_tests, items, columns));
$f$;

-- What a run of `name` came to: its error; or "no error" and its test lines (passed, and the
-- warnings with their counts) in order, and whether the load counted the tests (its log says).
CREATE FUNCTION pg_temp.outcome(name text, OUT verdict text, OUT counted_by_load text) LANGUAGE plpgsql AS $$
DECLARE r bigint;
BEGIN
  verdict := pg_temp.error_of(format('SELECT pipeline.run(%L)', name));
  counted_by_load := '-';
  IF verdict <> 'no error' THEN RETURN; END IF;
  SELECT max(run_id) INTO r FROM pipeline.runs JOIN pipeline.pipelines USING (pipeline_id) WHERE pipelines.name = outcome.name;
  SELECT verdict || coalesce(E'\n' || string_agg(block_name || ': ' || message, E'\n' ORDER BY log_id), '')
    INTO verdict FROM pipeline.run_log WHERE run_id = r AND message ~ '^test (passed|failed)';
  counted_by_load := EXISTS (SELECT FROM pipeline.run_log WHERE run_id = r AND message LIKE '%counted by the load%');
END $$;

-- The chain registered fused with 1 and 3 load workers, and unfused.
CREATE FUNCTION pg_temp.register_three(filter text, tests text, export_tests text DEFAULT '[]', items text DEFAULT '*',
                                       columns text DEFAULT '{id: bigint, amount: float64, at: timestamp}')
RETURNS void LANGUAGE sql AS $f$
  SELECT pg_temp.register_chain('fused_1', 1, filter, tests, export_tests, false, items, columns);
  SELECT pg_temp.register_chain('fused_3', 3, filter, tests, export_tests, false, items, columns);
  SELECT pg_temp.register_chain('unfused', 1, filter, tests, export_tests, true, items, columns);
$f$;
-- Runs the three (a run sees committed pipelines only: register first) and tells whether they
-- agree and which had their tests counted by the load; the unfused verdict is shown.
CREATE FUNCTION pg_temp.compare(OUT same boolean, OUT counted text, OUT verdict text) LANGUAGE plpgsql AS $$
DECLARE one record; three record; unfused record;
BEGIN
  one := pg_temp.outcome('fused_1');
  three := pg_temp.outcome('fused_3');
  unfused := pg_temp.outcome('unfused');
  same := one.verdict = unfused.verdict AND three.verdict = unfused.verdict;
  counted := format('%s/%s/%s', one.counted_by_load, three.counted_by_load, unfused.counted_by_load);
  verdict := unfused.verdict;
END $$;

-- 1. Every counting kind, warn severity so that every count shows: the same verdicts and counts.
SELECT pg_temp.register_three('id % 7 <> 0', $t$[
  {expression: "amount < 500", severity: warn},
  {not_null: [at], severity: warn},
  {accepted_values: {column: id, values: ["1", "2", "3"]}, severity: warn},
  {assert: "SELECT count(*) = 0 FROM {{ self }} WHERE id % 3 = 0", severity: warn},
  {row_count: {max: 10}, severity: warn},
  {unique: [id], severity: warn},
  {assert: "SELECT bool_and(amount > 100) FROM {{ self }}", severity: warn}]$t$,
  $t$[{expression: "at < '2021-01-10'", severity: warn}, {not_null: [id, amount]}]$t$);
SELECT * FROM pg_temp.compare();

-- 2. A failing test fails the chain with the same count, fused or not; the target keeps the
--    rows it had. (A failed run's log has no line on counting: its counts are those of section 1.)
SELECT count(*) AS rows_before FROM counted.fused_3;
SELECT pg_temp.register_three('amount > 10', '[{expression: "amount < 900"}]');
SELECT * FROM pg_temp.compare();
SELECT count(*) AS rows_after FROM counted.fused_3;
-- ... and an exporter's failing test is the exporter's
SELECT pg_temp.register_three('amount > 10', '[{not_null: [at]}]', $t$[{assert: "SELECT count(*) = 0 FROM {{ self }} WHERE at >= '2021-01-28'"}]$t$);
SELECT * FROM pg_temp.compare();
SELECT block_name, status FROM pipeline.block_runs
 WHERE run_id = (SELECT max(run_id) FROM pipeline.runs JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'fused_3')
 ORDER BY block_run_id;

-- 3. What COPY cannot evaluate as a scan would is left to the scan: a subquery, a volatile
--    function, a column the loader does not declare (note: typed by the file, not the loader).
SELECT pg_temp.register_three('id % 7 <> 0', '[{expression: "amount < (SELECT 500)", severity: warn}]');
SELECT * FROM pg_temp.compare();
SELECT pg_temp.register_three('id % 7 <> 0', '[{expression: "amount + random() * 0 < 500", severity: warn}]');
SELECT * FROM pg_temp.compare();
SELECT pg_temp.register_three('id % 7 <> 0', '[{not_null: [note], severity: warn}, {expression: "amount < 500", severity: warn}]');
SELECT * FROM pg_temp.compare();

-- 4. A projection (computed, renamed and dropped columns): its tests on the file's columns it
--    keeps under their names are counted by the load; one on a computed or renamed column sends
--    them all to the scan. The same verdicts either way.
SELECT pg_temp.register_three('id % 7 <> 0', $t$[{expression: "id < 1500", severity: warn}, {not_null: [at], severity: warn}]$t$,
                              '[{expression: "id % 3 <> 0", severity: warn}]', 'id, amount * 2 AS double_amount, at');
SELECT * FROM pg_temp.compare();
SELECT pg_temp.register_three('id % 7 <> 0', $t$[{expression: "id < 1500", severity: warn}, {expression: "double_amount < 1000", severity: warn}]$t$,
                              '[]', 'id, amount * 2 AS double_amount, at AS moment');
SELECT * FROM pg_temp.compare();
SELECT pg_temp.register_three('id % 7 <> 0', $t$[{not_null: [moment], severity: warn}]$t$, '[]', 'id, at AS moment');
SELECT * FROM pg_temp.compare();

-- 5. Optional columns (as a compiled Mage loader declares its dtypes): a test on one the file has
--    is counted; on one it lacks, the load counts nothing and the tests scan, failing as unfused.
SELECT pg_temp.register_three('id % 7 <> 0', '[{expression: "amount < 500", severity: warn}]', '[]', '*',
                              '{id: bigint, note: text, amount: float64, at: timestamp, absent: text}, optional_columns: [amount, absent]');
SELECT * FROM pg_temp.compare();
SELECT pg_temp.register_three('id % 7 <> 0', '[{expression: "amount < 500", severity: warn}, {not_null: [absent]}]', '[]', '*',
                              '{id: bigint, note: text, amount: float64, at: timestamp, absent: text}, optional_columns: [amount, absent]');
SELECT * FROM pg_temp.compare();

-- 6. A filter that calls pipeline._count_row itself (it may: it is executable by everyone) counts
--    nothing into the load's tests: only the load's own random token counts.
SELECT pg_temp.register_three('id % 7 <> 0 AND pipeline._count_row(0, 0) AND pipeline._count_row(1, 0) AND pipeline._count_row(-1, 0)',
                              '[{expression: "amount < 500", severity: warn}]');
SELECT * FROM pg_temp.compare();
SELECT pipeline._count_row(0, 0) AS called_outside_a_load;

ALTER ROLE CURRENT_USER RESET pipeline.load_chunk_size;
DROP SCHEMA counted CASCADE;
