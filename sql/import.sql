-- pipeline.import_project reads a Mage project folder. The test runner copies test/fixtures to
-- a directory the server can read and names it in PGPIPE_FIXTURES.
-- Each test file starts from a fresh catalog.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv fixtures PGPIPE_FIXTURES
\set zoomcamp :fixtures/mage_project/zoomcamp
\set python_project :fixtures/mage_project/python_project
SELECT * FROM pipeline.import_project(:'zoomcamp');
SELECT name, owner::text = current_user AS mine, source_dir = :'zoomcamp' AS source_dir_kept,
       io_config -> 'dev' AS dev_profile FROM pipeline.projects WHERE name = 'zoomcamp';
SELECT name, type, pipeline_id IS NULL AS shared, definition ->> 'sql' AS sql,
       definition -> 'target' AS target, definition -> 'retry' ->> 'retries' AS retries
  FROM pipeline.blocks WHERE project = 'zoomcamp' ORDER BY block_id;
SELECT pipeline.dag('green_taxi_sql', project => 'zoomcamp');
-- importing again is idempotent
SELECT * FROM pipeline.import_project(:'zoomcamp');
SELECT count(*) AS versions FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE project = 'zoomcamp';
-- errors
SELECT * FROM pipeline.import_project(:'python_project');
SELECT * FROM pipeline.import_project('/nonexistent/project');
CREATE ROLE regress_importer IN ROLE pipeline_user;
SET ROLE regress_importer;
SELECT * FROM pipeline.import_project(:'zoomcamp');
RESET ROLE;
DROP ROLE regress_importer;
