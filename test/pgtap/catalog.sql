-- The catalog's promises: every table and column documented, constraints that keep runs
-- consistent, user rows marked for pg_dump, privileges and row-level security in place.
BEGIN;
SELECT plan(24);

SELECT tables_are('pipeline',
  ARRAY['projects', 'pipelines', 'pipeline_versions', 'blocks', 'runs', 'block_runs', 'run_log',
        'block_attempts', 'secrets', 'profiles', 'schedules', 'staging_schemas', 'staging'],
  'the catalog has exactly its tables');

SELECT is(
  (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'pipeline' AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') IS NULL),
  0, 'every table has a comment');
SELECT is(
  (SELECT string_agg(c.relname || '.' || a.attname, ', ')
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'pipeline' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      AND col_description(c.oid, a.attnum) IS NULL),
  NULL, 'every column has a comment');

SELECT is(
  (SELECT array_length(extconfig, 1) FROM pg_extension WHERE extname = 'pg_pipeline'),
  17, 'eleven tables and six sequences are dumped with user data (staging is not)');
SELECT is(
  (SELECT extcondition[array_position(extconfig, 'pipeline.projects'::regclass)]
     FROM pg_extension WHERE extname = 'pg_pipeline'),
  $$WHERE name <> 'default'$$, 'the built-in default project is not dumped');

SELECT ok(
  (SELECT bool_and(relrowsecurity) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'pipeline' AND c.relkind = 'r'),
  'row-level security is on for every per-role table');
SELECT ok(NOT has_function_privilege('public', 'pipeline.register(text, text)', 'EXECUTE'),
  'PUBLIC cannot register');
SELECT ok(has_function_privilege('pipeline_user', 'pipeline.register(text, text)', 'EXECUTE'),
  'pipeline_user can register');
SELECT ok(NOT has_function_privilege('pipeline_user', 'pipeline._boundary_selftest(text)', 'EXECUTE'),
  'the boundary selftest is for superusers only');
SELECT is(
  (SELECT string_agg(c.relname || ':' || p.priv, ', ' ORDER BY c.relname, p.priv)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p (priv)
    WHERE n.nspname = 'pipeline' AND c.relkind IN ('r', 'v')
      AND (has_table_privilege('pipeline_user', c.oid, p.priv)
           OR p.priv IN ('INSERT', 'UPDATE', 'REFERENCES') AND has_any_column_privilege('pipeline_user', c.oid, p.priv))),
  NULL, 'pipeline_user writes no catalog table directly: every write goes through the functions');
SELECT is(
  (SELECT string_agg(nspname, ', ') FROM pg_namespace
    WHERE nspowner = (SELECT extowner FROM pg_extension WHERE extname = 'pg_pipeline')
      AND nspname LIKE 'pipeline%' AND has_schema_privilege('pipeline_user', oid, 'CREATE')),
  NULL, 'pipeline_user creates nothing in the extension''s schemas');
SELECT is(
  (SELECT string_agg(p.oid::regprocedure::text, ', ')
     FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
    WHERE p.pronamespace = 'pipeline'::regnamespace AND l.lanname <> 'c'
      AND NOT EXISTS (SELECT FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%')),
  NULL, 'every function not in C runs with a fixed search_path');
SELECT is(
  (SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'pipeline'::regnamespace AND prosecdef),
  0, 'no SECURITY DEFINER function: the C functions act as their caller and elevate only their own writes');

SELECT results_eq($$SELECT name FROM pipeline.projects$$, ARRAY['default'], 'the default project exists');

-- Constraints keep runs consistent.
SELECT pipeline.register(E'name: c\nblocks:\n  - {name: one, type: data_loader, sql: select 1}\n');
SELECT throws_ok(
  $$INSERT INTO pipeline.runs (pipeline_id, version, status) SELECT pipeline_id, 1, 'exploded' FROM pipeline.pipelines$$,
  '23514', NULL, 'an unknown run status is refused');
SELECT throws_ok(
  $$INSERT INTO pipeline.runs (pipeline_id, version, status) SELECT pipeline_id, 1, 'succeeded' FROM pipeline.pipelines$$,
  '23514', NULL, 'a finished status needs finished_at');
SELECT throws_ok(
  $$INSERT INTO pipeline.runs (pipeline_id, version) SELECT pipeline_id, 7 FROM pipeline.pipelines$$,
  '23503', NULL, 'a run must name an existing version');
SELECT lives_ok(
  $$INSERT INTO pipeline.runs (pipeline_id, version) SELECT pipeline_id, 1 FROM pipeline.pipelines$$,
  'a queued run of version 1 is accepted');
SELECT throws_ok(
  $$INSERT INTO pipeline.block_runs (run_id, block_name, block_type, attempt) SELECT run_id, 'one', 'data_loader', -1 FROM pipeline.runs$$,
  '23514', NULL, 'attempts cannot be negative');
SELECT throws_ok(
  $$INSERT INTO pipeline.run_log (run_id, level, message) SELECT run_id, 'shouting', 'x' FROM pipeline.runs$$,
  '23514', NULL, 'log levels are checked');
SELECT throws_ok(
  $$INSERT INTO pipeline.block_runs (run_id, block_name, block_type) SELECT run_id, 'one', 'data_loader' FROM pipeline.runs UNION ALL SELECT run_id, 'one', 'data_loader' FROM pipeline.runs$$,
  '23505', NULL, 'one block run per block and run');
SELECT throws_ok(
  $$INSERT INTO pipeline.pipeline_versions (pipeline_id, version, yaml, spec) SELECT pipeline_id, 0, 'x', '{}' FROM pipeline.pipelines$$,
  '23514', NULL, 'versions count from 1');

-- Dropping a pipeline cascades to its history.
SELECT ok(pipeline.drop_pipeline('c'), 'drop_pipeline reports the drop');
SELECT is((SELECT count(*)::int FROM pipeline.runs), 0, 'its runs went with it');

SELECT * FROM finish();
ROLLBACK;
