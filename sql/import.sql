-- pipeline.import_project reads a Mage project folder pipeline by pipeline and says what became
-- of every pipeline, block, chart, trigger and connection profile. The test runner copies
-- test/fixtures to a directory the server can read and names it in PGPIPE_FIXTURES.
-- Each test file starts from a fresh catalog.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv fixtures PGPIPE_FIXTURES
\set zoomcamp :fixtures/mage_project/zoomcamp
\set python_project :fixtures/mage_project/python_project
\set mixed :fixtures/mage_mixed
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; hnt text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END;
END $$;

-- A SQL project: its pipeline and blocks, and io_config.yaml's profiles.
SELECT * FROM pipeline.import_project(:'zoomcamp');
SELECT name, owner::text = current_user AS mine, source_dir = :'zoomcamp' AS source_dir_kept
  FROM pipeline.projects WHERE name = 'zoomcamp';
SELECT profile, settings, owner::text = current_user AS mine FROM pipeline.profiles WHERE project = 'zoomcamp' ORDER BY profile;
SELECT name, type, pipeline_id IS NULL AS shared, definition ->> 'sql' AS sql,
       definition -> 'target' AS target, definition -> 'retry' ->> 'retries' AS retries
  FROM pipeline.blocks WHERE project = 'zoomcamp' ORDER BY block_id;
SELECT pipeline.dag('green_taxi_sql', project => 'zoomcamp');
-- importing again is idempotent
SELECT pipeline, outcome FROM pipeline.import_project(:'zoomcamp') WHERE kind = 'pipeline';
SELECT count(*) AS versions FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE project = 'zoomcamp';
-- connection profiles are no longer in pipeline.projects, which every user reads
SELECT count(*) AS io_config_columns FROM pg_attribute WHERE attrelid = 'pipeline.projects'::regclass AND attname = 'io_config' AND NOT attisdropped;

-- A project with a bit of everything (test/fixtures/mage_mixed/README.md): one pipeline's
-- trouble stops no other.
SELECT * FROM pipeline.import_project(:'mixed');
SELECT name, type, definition ->> 'language' AS language, coalesce(definition ->> 'file', definition ->> 'compiled_from') AS file,
       length(definition ->> 'python') > 0 AS has_python, definition ->> 'sql' AS sql
  FROM pipeline.blocks WHERE project = 'mage_mixed' ORDER BY block_id;
SELECT p.name, array_agg(b ->> 'name' ORDER BY b ->> 'name') AS blocks
  FROM pipeline.pipelines p JOIN pipeline.pipeline_versions v USING (pipeline_id), jsonb_array_elements(v.spec -> 'blocks') b
 WHERE p.project = 'mage_mixed' GROUP BY p.name ORDER BY p.name;
-- the dev profile's unquoted {{ env_var('X') }} were rendered before parsing: values, not {"": null}
SELECT key, value FROM pipeline.profiles, jsonb_each(settings) WHERE project = 'mage_mixed' AND profile = 'dev' ORDER BY key;
-- schedules => true schedules the daily trigger; here pg_cron is not in this database
SELECT pipeline, block, outcome, reason FROM pipeline.import_project(:'mixed', schedules => true) WHERE kind = 'trigger';

-- A loader written with source: and an exporter publishing its one upstream need no block
-- files; the three run as one COPY.
\getenv http_port PGPIPE_HTTP_PORT
\set fused :fixtures/mage_project/fused
SELECT pipeline, block, outcome, reason FROM pipeline.import_project(:'fused', 'fused');
SELECT pipeline.run('taxi_fused', jsonb_build_object('files', 'http://127.0.0.1:' || :'http_port' || '/files'), 'fused') > 0 AS ran;
SELECT count(*) AS riders, count(*) FILTER (WHERE passenger_count = 0) AS without_passengers FROM mage.riders;
SELECT regexp_replace(message, 'in [0-9.]+ s', 'in N s') AS message FROM pipeline.run_log
 WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) AND message LIKE '%one COPY%';

-- Block files used by two pipelines (test/fixtures/mage_project/shared_blocks/README.md): one
-- shared block while both use it alike, a copy of its own for the pipeline that uses it
-- differently; importing the second pipeline changes nothing under the first, and both run.
\set shared_blocks :fixtures/mage_project/shared_blocks
SELECT pipeline, block, outcome, reason FROM pipeline.import_project(:'shared_blocks', 'shared_blocks') WHERE block <> '';
SELECT b.name, p.name AS local_to, b.definition -> 'retry' ->> 'retries' AS retries
  FROM pipeline.blocks b LEFT JOIN pipeline.pipelines p USING (pipeline_id) WHERE b.project = 'shared_blocks' ORDER BY b.name, 2;
SELECT pipeline.run('green_a', project => 'shared_blocks') > 0 AS a_ran, pipeline.run('green_b', project => 'shared_blocks') > 0 AS b_ran;
-- importing it again makes no new version, and the first pipeline still runs
SELECT count(*) AS versions FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE project = 'shared_blocks';
SELECT count(*) AS rows FROM pipeline.import_project(:'shared_blocks', 'shared_blocks');
SELECT count(*) AS versions FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE project = 'shared_blocks';
SELECT pipeline.run('green_a', project => 'shared_blocks') > 0 AS a_ran_again;

-- A Python project whose block files are missing: refused, saying which file.
SELECT * FROM pipeline.import_project(:'python_project', 'python_project');

-- Not a project at all, and who may import.
SELECT pg_temp.error_of($$SELECT * FROM pipeline.import_project('/nonexistent/project')$$);
SELECT pg_temp.error_of($$SELECT * FROM pipeline.import_project(NULL)$$);
CREATE ROLE regress_importer IN ROLE pipeline_user;
SET ROLE regress_importer;
SELECT pg_temp.error_of(format('SELECT * FROM pipeline.import_project(%L)', :'zoomcamp'));
-- nor can it read, set or drop the profiles of a project it does not own
SELECT count(*) AS profiles_seen FROM pipeline.profiles;
SELECT pg_temp.error_of($$SELECT pipeline.set_profile('zoomcamp', 'dev', '{"POSTGRES_DBNAME": "mine"}')$$);
SELECT pg_temp.error_of($$SELECT pipeline.drop_profile('zoomcamp', 'dev')$$);
RESET ROLE;

-- pipeline.set_profile and drop_profile, for the project's owner.
SELECT pipeline.set_profile('zoomcamp', 'warehouse', '{"pg_pipeline_remote": true, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": 5433, "POSTGRES_DBNAME": "dw", "POSTGRES_USER": "loader"}');
SELECT settings FROM pipeline.profiles WHERE project = 'zoomcamp' AND profile = 'warehouse';
SELECT pg_temp.error_of($$SELECT pipeline.set_profile('zoomcamp', 'warehouse', '{"pg_pipeline_remote": true, "POSTGRES_HOST": "127.0.0.1"}')$$);
SELECT pg_temp.error_of($$SELECT pipeline.set_profile('zoomcamp', 'warehouse', '{"pg_pipeline_remote": "yes"}')$$);
SELECT pg_temp.error_of($$SELECT pipeline.set_profile('zoomcamp', 'warehouse', '[1, 2]')$$);
SELECT pg_temp.error_of($$SELECT pipeline.set_profile('zoomcamp', 'bad name', '{}')$$);
SELECT pg_temp.error_of($$SELECT pipeline.set_profile('nowhere', 'dev', '{}')$$);
SELECT pipeline.drop_profile('zoomcamp', 'warehouse'), pipeline.drop_profile('zoomcamp', 'warehouse');
DROP ROLE regress_importer;
