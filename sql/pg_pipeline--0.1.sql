-- pg_pipeline 0.1: the catalog (schema pipeline) and the SQL surface.
--
-- Catalog rows belong to the role that made them (column owner). Row-level security lets a role
-- see and change only rows of roles it is a member of; superusers see everything. The role
-- pipeline_user may register and run pipelines; grant it to the roles that should.

\echo Use "CREATE EXTENSION pg_pipeline" to load this file. \quit

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pipeline_user') THEN
    CREATE ROLE pipeline_user NOLOGIN;
  END IF;
END
$$;
COMMENT ON ROLE pipeline_user IS 'may register, run and inspect its own pg_pipeline pipelines';

-------------------------------------------------------------------------------------------------
-- Projects, pipelines, versions, blocks
-------------------------------------------------------------------------------------------------

CREATE TABLE pipeline.projects (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
  owner       regrole NOT NULL DEFAULT current_user::regrole,
  source_dir  text,
  io_config   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(io_config) = 'object'),
  created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.projects IS 'namespaces of pipelines, shared blocks and connection profiles; "default" always exists';
COMMENT ON COLUMN pipeline.projects.name IS 'project name, an identifier';
COMMENT ON COLUMN pipeline.projects.owner IS 'role that created the project';
COMMENT ON COLUMN pipeline.projects.source_dir IS 'server directory the project was imported from (Mage layout), if any';
COMMENT ON COLUMN pipeline.projects.io_config IS 'Mage io_config.yaml as JSON: connection profiles';
COMMENT ON COLUMN pipeline.projects.created_at IS 'when the project was created';
INSERT INTO pipeline.projects (name) VALUES ('default');

CREATE TABLE pipeline.pipelines (
  pipeline_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project         text NOT NULL REFERENCES pipeline.projects (name) ON UPDATE CASCADE,
  name            text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
  owner           regrole NOT NULL DEFAULT current_user::regrole,
  description     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project, name)
);
COMMENT ON TABLE pipeline.pipelines IS 'registered pipelines: one row per pipeline; its versions, the highest current, in pipeline.pipeline_versions';
COMMENT ON COLUMN pipeline.pipelines.pipeline_id IS 'surrogate key';
COMMENT ON COLUMN pipeline.pipelines.project IS 'project the pipeline belongs to';
COMMENT ON COLUMN pipeline.pipelines.name IS 'pipeline name, unique within its project';
COMMENT ON COLUMN pipeline.pipelines.owner IS 'role that registered the pipeline (a run executes as the role that started it)';
COMMENT ON COLUMN pipeline.pipelines.description IS 'description from the pipeline file';
COMMENT ON COLUMN pipeline.pipelines.created_at IS 'when the pipeline was first registered';
COMMENT ON COLUMN pipeline.pipelines.updated_at IS 'when the current version was registered';

CREATE TABLE pipeline.pipeline_versions (
  pipeline_id bigint NOT NULL REFERENCES pipeline.pipelines ON DELETE CASCADE,
  version     integer NOT NULL CHECK (version > 0),
  yaml        text NOT NULL,
  spec        jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
  created_by  regrole NOT NULL DEFAULT current_user::regrole,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline_id, version)
);
COMMENT ON TABLE pipeline.pipeline_versions IS 'every registered version of every pipeline; runs keep the version they ran';
COMMENT ON COLUMN pipeline.pipeline_versions.pipeline_id IS 'the pipeline';
COMMENT ON COLUMN pipeline.pipeline_versions.version IS 'version number, 1 upwards; the highest is the one new runs use';
COMMENT ON COLUMN pipeline.pipeline_versions.yaml IS 'the pipeline file as registered';
COMMENT ON COLUMN pipeline.pipeline_versions.spec IS 'the validated pipeline as canonical JSON (blocks, links, tests, settings)';
COMMENT ON COLUMN pipeline.pipeline_versions.created_by IS 'role that registered this version';
COMMENT ON COLUMN pipeline.pipeline_versions.created_at IS 'when this version was registered';

-- No foreign key points back from pipelines to its current version, nor from runs to the run
-- they retry: extension tables are restored data-only, one at a time, so the catalog's foreign
-- keys must form no cycle. The current version is the highest one.

CREATE TABLE pipeline.blocks (
  block_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project     text NOT NULL REFERENCES pipeline.projects (name) ON UPDATE CASCADE,
  pipeline_id bigint REFERENCES pipeline.pipelines ON DELETE CASCADE,
  name        text NOT NULL,
  type        text NOT NULL CHECK (type IN ('data_loader', 'transformer', 'data_exporter', 'sensor', 'conditional', 'callback')),
  definition  jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
  yaml        text NOT NULL,
  owner       regrole NOT NULL DEFAULT current_user::regrole,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (project, pipeline_id, name)
);
COMMENT ON TABLE pipeline.blocks IS 'block definitions: shared by a project''s pipelines (pipeline_id NULL) or local to the current version of one pipeline';
COMMENT ON COLUMN pipeline.blocks.block_id IS 'surrogate key';
COMMENT ON COLUMN pipeline.blocks.project IS 'project of the block';
COMMENT ON COLUMN pipeline.blocks.pipeline_id IS 'pipeline owning a local block; NULL for a block shared by the project (changing it changes every pipeline using it)';
COMMENT ON COLUMN pipeline.blocks.name IS 'block name (Mage uuid)';
COMMENT ON COLUMN pipeline.blocks.type IS 'data_loader, transformer, data_exporter, sensor, conditional or callback';
COMMENT ON COLUMN pipeline.blocks.definition IS 'the block as canonical JSON';
COMMENT ON COLUMN pipeline.blocks.yaml IS 'the block as YAML, as the engine reads it';
COMMENT ON COLUMN pipeline.blocks.owner IS 'role that wrote the block';
COMMENT ON COLUMN pipeline.blocks.updated_at IS 'when the definition last changed';

-------------------------------------------------------------------------------------------------
-- Runs, block runs, log
-------------------------------------------------------------------------------------------------

CREATE TABLE pipeline.runs (
  run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pipeline_id     bigint NOT NULL REFERENCES pipeline.pipelines ON DELETE CASCADE,
  version         integer NOT NULL,
  status          text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  trigger         text NOT NULL DEFAULT 'manual'
                  CHECK (trigger IN ('manual', 'trigger', 'schedule', 'backfill', 'retry')),
  variables       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(variables) = 'object'),
  execution_date  timestamptz,
  interval_start  timestamptz,
  interval_end    timestamptz,
  owner           regrole NOT NULL DEFAULT current_user::regrole,
  retry_of        bigint,
  backfill_id     bigint,
  worker_pid      integer,
  claimed_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  error           text,
  sqlstate        text CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
  FOREIGN KEY (pipeline_id, version) REFERENCES pipeline.pipeline_versions,
  CHECK ((status IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
  CHECK (finished_at >= started_at),
  CHECK (interval_end >= interval_start)
);
CREATE INDEX ON pipeline.runs (pipeline_id, created_at DESC);
CREATE INDEX ON pipeline.runs (status) WHERE status IN ('queued', 'running');
COMMENT ON TABLE pipeline.runs IS 'one row per execution of a pipeline; committed apart from the data, so failed runs stay visible';
COMMENT ON COLUMN pipeline.runs.run_id IS 'run id, returned by pipeline.run and pipeline.trigger';
COMMENT ON COLUMN pipeline.runs.pipeline_id IS 'the pipeline';
COMMENT ON COLUMN pipeline.runs.version IS 'pipeline version the run executes';
COMMENT ON COLUMN pipeline.runs.status IS 'queued, running, succeeded, failed or cancelled';
COMMENT ON COLUMN pipeline.runs.trigger IS 'what started the run: manual (pipeline.run), trigger, schedule, backfill or retry';
COMMENT ON COLUMN pipeline.runs.variables IS 'the run''s variables, frozen when it was created: pipeline defaults overridden by the caller''s';
COMMENT ON COLUMN pipeline.runs.execution_date IS 'logical date of the run';
COMMENT ON COLUMN pipeline.runs.interval_start IS 'start of the data interval (schedules and backfills)';
COMMENT ON COLUMN pipeline.runs.interval_end IS 'end of the data interval (exclusive)';
COMMENT ON COLUMN pipeline.runs.owner IS 'role that started the run: it executes with this role''s privileges, and only it (and its members) can see and cancel it';
COMMENT ON COLUMN pipeline.runs.retry_of IS 'the run this one retries, if any';
COMMENT ON COLUMN pipeline.runs.backfill_id IS 'the backfill that created this run, if any';
COMMENT ON COLUMN pipeline.runs.worker_pid IS 'process of the background worker executing the run';
COMMENT ON COLUMN pipeline.runs.claimed_at IS 'when the launcher claimed the queued run';
COMMENT ON COLUMN pipeline.runs.created_at IS 'when the run was queued';
COMMENT ON COLUMN pipeline.runs.started_at IS 'when its first block started';
COMMENT ON COLUMN pipeline.runs.finished_at IS 'when it reached a final state';
COMMENT ON COLUMN pipeline.runs.error IS 'the failing block''s error, for a failed run';
COMMENT ON COLUMN pipeline.runs.sqlstate IS 'SQLSTATE of that error';

CREATE TABLE pipeline.block_runs (
  block_run_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id          bigint NOT NULL REFERENCES pipeline.runs ON DELETE CASCADE,
  block_name      text NOT NULL,
  block_type      text NOT NULL,
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'upstream_failed', 'cancelled')),
  attempt         integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  rows_in         bigint CHECK (rows_in >= 0),
  rows_out        bigint CHECK (rows_out >= 0),
  bytes           bigint CHECK (bytes >= 0),
  output_relation text,
  condition       boolean,
  worker_pid      integer,
  next_attempt_at timestamptz,
  started_at      timestamptz,
  finished_at     timestamptz,
  error           text,
  error_detail    text,
  sqlstate        text CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
  UNIQUE (run_id, block_name),
  CHECK (finished_at >= started_at)
);
COMMENT ON TABLE pipeline.block_runs IS 'one row per block of a run: status, attempts, rows, bytes, timings, error';
COMMENT ON COLUMN pipeline.block_runs.block_run_id IS 'surrogate key';
COMMENT ON COLUMN pipeline.block_runs.run_id IS 'the run';
COMMENT ON COLUMN pipeline.block_runs.block_name IS 'the block';
COMMENT ON COLUMN pipeline.block_runs.block_type IS 'the block''s type';
COMMENT ON COLUMN pipeline.block_runs.status IS 'pending, queued, running, succeeded, failed, skipped, upstream_failed or cancelled';
COMMENT ON COLUMN pipeline.block_runs.attempt IS 'attempts made so far (1 for the first try)';
COMMENT ON COLUMN pipeline.block_runs.rows_in IS 'rows read from upstream outputs or loaded from the source';
COMMENT ON COLUMN pipeline.block_runs.rows_out IS 'rows in the block''s output';
COMMENT ON COLUMN pipeline.block_runs.bytes IS 'bytes downloaded (loaders)';
COMMENT ON COLUMN pipeline.block_runs.output_relation IS 'relation holding the block''s output (staging table or view)';
COMMENT ON COLUMN pipeline.block_runs.condition IS 'what a conditional block said (false skipped its downstream blocks)';
COMMENT ON COLUMN pipeline.block_runs.worker_pid IS 'backend running the block, while it runs';
COMMENT ON COLUMN pipeline.block_runs.next_attempt_at IS 'when the next retry may start';
COMMENT ON COLUMN pipeline.block_runs.started_at IS 'when the current attempt started';
COMMENT ON COLUMN pipeline.block_runs.finished_at IS 'when the block reached a final state';
COMMENT ON COLUMN pipeline.block_runs.error IS 'error message of the last failed attempt';
COMMENT ON COLUMN pipeline.block_runs.error_detail IS 'its detail and context';
COMMENT ON COLUMN pipeline.block_runs.sqlstate IS 'its SQLSTATE';

CREATE TABLE pipeline.run_log (
  log_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id      bigint NOT NULL REFERENCES pipeline.runs ON DELETE CASCADE,
  block_name  text,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  level       text NOT NULL DEFAULT 'info' CHECK (level IN ('debug', 'info', 'notice', 'warning', 'error')),
  message     text NOT NULL
);
CREATE INDEX ON pipeline.run_log (run_id, log_id);
COMMENT ON TABLE pipeline.run_log IS 'timestamped log lines of runs and their blocks';
COMMENT ON COLUMN pipeline.run_log.log_id IS 'surrogate key, in order of writing';
COMMENT ON COLUMN pipeline.run_log.run_id IS 'the run';
COMMENT ON COLUMN pipeline.run_log.block_name IS 'the block, or NULL for a run-level line';
COMMENT ON COLUMN pipeline.run_log.at IS 'when the line was written';
COMMENT ON COLUMN pipeline.run_log.level IS 'debug, info, notice, warning or error';
COMMENT ON COLUMN pipeline.run_log.message IS 'the line';

-------------------------------------------------------------------------------------------------
-- Row-level security and privileges
-------------------------------------------------------------------------------------------------

ALTER TABLE pipeline.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.pipelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.pipeline_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.block_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.run_log ENABLE ROW LEVEL SECURITY;

-- Every pipeline user sees every project and may register into it; only its owner changes it.
CREATE POLICY read_projects ON pipeline.projects FOR SELECT USING (true);
CREATE POLICY create_projects ON pipeline.projects FOR INSERT WITH CHECK (pg_has_role(owner, 'MEMBER'));
CREATE POLICY change_projects ON pipeline.projects FOR UPDATE
  USING (pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_pipelines ON pipeline.pipelines
  USING (pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_versions ON pipeline.pipeline_versions
  USING (EXISTS (SELECT FROM pipeline.pipelines p WHERE p.pipeline_id = pipeline_versions.pipeline_id))
  WITH CHECK (EXISTS (SELECT FROM pipeline.pipelines p WHERE p.pipeline_id = pipeline_versions.pipeline_id));
-- Shared blocks are readable by every pipeline user of the project; only their owner changes them.
CREATE POLICY read_blocks ON pipeline.blocks FOR SELECT
  USING (pipeline_id IS NULL OR EXISTS (SELECT FROM pipeline.pipelines p WHERE p.pipeline_id = blocks.pipeline_id));
CREATE POLICY write_blocks ON pipeline.blocks FOR ALL
  USING (pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_runs ON pipeline.runs
  USING (pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_block_runs ON pipeline.block_runs
  USING (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = block_runs.run_id))
  WITH CHECK (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = block_runs.run_id));
CREATE POLICY own_run_log ON pipeline.run_log
  USING (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = run_log.run_id))
  WITH CHECK (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = run_log.run_id));

REVOKE ALL ON ALL TABLES IN SCHEMA pipeline FROM PUBLIC;
GRANT USAGE ON SCHEMA pipeline TO pipeline_user;
GRANT SELECT, INSERT (name, source_dir, io_config), UPDATE (source_dir, io_config)
  ON pipeline.projects TO pipeline_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.pipelines, pipeline.pipeline_versions,
  pipeline.blocks, pipeline.runs, pipeline.block_runs, pipeline.run_log TO pipeline_user;

-- User rows survive pg_dump and restore; the built-in default project is recreated by the script.
SELECT pg_catalog.pg_extension_config_dump('pipeline.projects', $$WHERE name <> 'default'$$);
SELECT pg_catalog.pg_extension_config_dump('pipeline.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.pipeline_versions', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.blocks', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.runs', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.block_runs', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.run_log', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.pipelines', 'pipeline_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.blocks', 'block_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.runs', 'run_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.block_runs', 'block_run_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.run_log', 'log_id'), '');

-------------------------------------------------------------------------------------------------
-- Functions
-------------------------------------------------------------------------------------------------

CREATE FUNCTION pipeline.register(yaml text, project text DEFAULT 'default')
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_register';
COMMENT ON FUNCTION pipeline.register(text, text) IS
  'validate a pipeline file and store it as the pipeline''s new current version; returns the pipeline name';

CREATE FUNCTION pipeline.create_project(name text)
RETURNS text LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
  INSERT INTO pipeline.projects (name) VALUES (create_project.name) RETURNING name;
END;
COMMENT ON FUNCTION pipeline.create_project(text) IS 'create an empty project';

CREATE FUNCTION pipeline.import_project(dir text, project text DEFAULT NULL)
RETURNS SETOF text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_import_project';
COMMENT ON FUNCTION pipeline.import_project(text, text) IS
  'import a Mage project folder (io_config.yaml, pipelines/*/metadata.yaml, SQL block files); returns the pipelines registered. Requires pg_read_server_files';

CREATE FUNCTION pipeline.dag(name text, format text DEFAULT 'mermaid', project text DEFAULT 'default')
RETURNS text LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'pipeline_dag';
COMMENT ON FUNCTION pipeline.dag(text, text, text) IS 'the pipeline''s block graph as Mermaid (format mermaid) or Graphviz DOT (format dot)';

CREATE FUNCTION pipeline.validate(yaml text)
RETURNS jsonb LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'pipeline_validate';
COMMENT ON FUNCTION pipeline.validate(text) IS 'parse and validate a pipeline file without storing it; returns its canonical JSON';

CREATE FUNCTION pipeline.drop_pipeline(name text, project text DEFAULT 'default')
RETURNS boolean LANGUAGE plpgsql VOLATILE STRICT AS $$
BEGIN
  PERFORM pipeline.unschedule(drop_pipeline.name, drop_pipeline.project);
  DELETE FROM pipeline.pipelines p WHERE p.name = drop_pipeline.name AND p.project = drop_pipeline.project;
  RETURN FOUND;
END $$;
COMMENT ON FUNCTION pipeline.drop_pipeline(text, text) IS
  'drop a pipeline with its versions, local blocks, schedule and run history; false when there was none';

-- Exercises both directions of the C++/Postgres boundary (for tests; superuser only).
CREATE FUNCTION pipeline._boundary_selftest(kind text)
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_boundary_selftest';

-- The owner of pipeline (project, name), whoever it is: lets register() say who holds a name
-- the caller cannot see, instead of failing on a hidden unique key.
CREATE FUNCTION pipeline._owner_of(project text, name text)
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT p.owner::text FROM pipeline.pipelines p
   WHERE p.project = _owner_of.project AND p.name = _owner_of.name;
END;

-------------------------------------------------------------------------------------------------
-- The HTTP loader on its own
-------------------------------------------------------------------------------------------------

CREATE FUNCTION pipeline.load_csv(url text, target text, options jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_load_csv';
COMMENT ON FUNCTION pipeline.load_csv(text, text, jsonb) IS
  'stream a CSV or CSV.gz file from an http(s) URL into a table through COPY; returns the rows loaded';

CREATE VIEW pipeline.load_progress AS
SELECT p.pid,
       p.relid::regclass AS target,
       p.param11 AS bytes_downloaded,
       nullif(p.param12, -1) AS download_size,
       p.param1 AS bytes_processed,
       p.param3 AS rows_processed
  FROM pg_stat_get_progress_info('COPY') AS p
 WHERE p.param6 = 4;  -- COPY with a data-source callback: our loads
COMMENT ON VIEW pipeline.load_progress IS
  'loads in progress: bytes downloaded (compressed) and processed (after inflating), rows so far';

-------------------------------------------------------------------------------------------------
-- Function privileges: nothing for PUBLIC; pipeline_user gets the user-facing surface
-------------------------------------------------------------------------------------------------

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pipeline FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pipeline.register(text, text), pipeline.validate(text), pipeline.dag(text, text, text),
  pipeline.create_project(text),
  pipeline.drop_pipeline(text, text), pipeline.import_project(text, text),
  pipeline._owner_of(text, text), pipeline.load_csv(text, text, jsonb)
  TO pipeline_user;
GRANT SELECT ON pipeline.load_progress TO pipeline_user;

-------------------------------------------------------------------------------------------------
-- Running pipelines
-------------------------------------------------------------------------------------------------

CREATE SCHEMA pipeline_staging;
COMMENT ON SCHEMA pipeline_staging IS 'block outputs of runs (UNLOGGED tables and views), dropped after success';
GRANT USAGE, CREATE ON SCHEMA pipeline_staging TO pipeline_user;

CREATE TABLE pipeline.block_attempts (
  run_id      bigint NOT NULL REFERENCES pipeline.runs ON DELETE CASCADE,
  block_name  text NOT NULL,
  attempt     integer NOT NULL CHECK (attempt > 0),
  status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
  started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz CHECK (finished_at >= started_at),
  error       text,
  sqlstate    text CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
  PRIMARY KEY (run_id, block_name, attempt)
);
COMMENT ON TABLE pipeline.block_attempts IS 'every attempt of every block run, with its outcome (retries show here)';
COMMENT ON COLUMN pipeline.block_attempts.run_id IS 'the run';
COMMENT ON COLUMN pipeline.block_attempts.block_name IS 'the block';
COMMENT ON COLUMN pipeline.block_attempts.attempt IS 'attempt number, 1 for the first try';
COMMENT ON COLUMN pipeline.block_attempts.status IS 'running, succeeded, failed or cancelled';
COMMENT ON COLUMN pipeline.block_attempts.started_at IS 'when the attempt started';
COMMENT ON COLUMN pipeline.block_attempts.finished_at IS 'when it ended';
COMMENT ON COLUMN pipeline.block_attempts.error IS 'why it failed';
COMMENT ON COLUMN pipeline.block_attempts.sqlstate IS 'SQLSTATE of that error';
ALTER TABLE pipeline.block_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_block_attempts ON pipeline.block_attempts
  USING (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = block_attempts.run_id))
  WITH CHECK (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = block_attempts.run_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.block_attempts TO pipeline_user;
SELECT pg_catalog.pg_extension_config_dump('pipeline.block_attempts', '');

CREATE FUNCTION pipeline.run(name text, variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_run';
COMMENT ON FUNCTION pipeline.run(text, jsonb, text) IS
  'run a pipeline now, in a background worker as the calling role, and wait; returns the run id, or raises the failing block''s error (the run stays recorded)';

-- Secrets: values only their owner can read, for {{ secret('name') }} in templates.
CREATE TABLE pipeline.secrets (
  owner  regrole NOT NULL DEFAULT current_user::regrole,
  name   text NOT NULL,
  value  text NOT NULL,
  PRIMARY KEY (owner, name)
);
COMMENT ON TABLE pipeline.secrets IS 'named secret values for templates ({{ secret(''name'') }}); each role sees only its own';
COMMENT ON COLUMN pipeline.secrets.owner IS 'role the secret belongs to';
COMMENT ON COLUMN pipeline.secrets.name IS 'the name templates use';
COMMENT ON COLUMN pipeline.secrets.value IS 'the secret';
ALTER TABLE pipeline.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_secrets ON pipeline.secrets
  USING (owner = current_user::regrole) WITH CHECK (owner = current_user::regrole);
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.secrets TO pipeline_user;
SELECT pg_catalog.pg_extension_config_dump('pipeline.secrets', '');

CREATE FUNCTION pipeline.set_secret(name text, value text) RETURNS void LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
  INSERT INTO pipeline.secrets (name, value) VALUES (set_secret.name, set_secret.value)
    ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value;
END;
COMMENT ON FUNCTION pipeline.set_secret(text, text) IS 'store (or replace) a secret of the current role';

CREATE FUNCTION pipeline.secret(name text) RETURNS text LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE v text;
BEGIN
  SELECT s.value INTO v FROM pipeline.secrets s WHERE s.owner = current_user::regrole AND s.name = secret.name;
  IF v IS NULL THEN
    RAISE EXCEPTION 'secret "%" does not exist', secret.name
      USING ERRCODE = 'undefined_object', HINT = 'Store it with pipeline.set_secret(name, value).';
  END IF;
  RETURN v;
END $$;
COMMENT ON FUNCTION pipeline.secret(text) IS 'the current role''s secret of that name, for templates';

CREATE FUNCTION pipeline.env_var(name text) RETURNS text LANGUAGE c STABLE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_env_var';
COMMENT ON FUNCTION pipeline.env_var(text) IS
  'the server process''s environment variable (superusers and members of pg_read_server_files), as Mage''s env_var';

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pipeline FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline.run(text, jsonb, text), pipeline.set_secret(text, text),
  pipeline.secret(text), pipeline.env_var(text) TO pipeline_user;

-------------------------------------------------------------------------------------------------
-- Orchestration: queued runs for the launcher, waiting, cancelling, retrying, backfills,
-- pg_cron schedules, live progress
-------------------------------------------------------------------------------------------------

CREATE FUNCTION pipeline._wake_launcher() RETURNS void LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'pipeline_wake_launcher';
COMMENT ON FUNCTION pipeline._wake_launcher() IS 'wake the launcher when this transaction commits';

CREATE FUNCTION pipeline._cron_previous(cron text, at timestamptz) RETURNS timestamptz
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'pipeline_cron_previous';
COMMENT ON FUNCTION pipeline._cron_previous(text, timestamptz) IS 'latest firing of a cron expression at or before a time (UTC)';

-- Queues one run of the current version; the launcher starts it.
CREATE FUNCTION pipeline._enqueue(p_name text, p_project text, p_variables jsonb, p_trigger text,
    p_start timestamptz, p_end timestamptz, p_backfill bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pid bigint; ver int; spec jsonb; active int; rid bigint;
BEGIN
  IF p_variables IS NULL OR jsonb_typeof(p_variables) <> 'object' THEN
    RAISE EXCEPTION 'variables must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Pass variables as ''{"year": 2021, "month": 1}''.';
  END IF;
  SELECT p.pipeline_id, v.version, v.spec INTO pid, ver, spec
    FROM pipeline.pipelines p JOIN pipeline.pipeline_versions v USING (pipeline_id)
   WHERE p.name = p_name AND p.project = p_project ORDER BY v.version DESC LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pipeline "%" does not exist in project "%"', p_name, p_project
      USING ERRCODE = 'undefined_object', HINT = 'Register it with pipeline.register(yaml).';
  END IF;
  IF spec -> 'settings' ->> 'overlap' = 'skip' AND p_trigger IN ('trigger', 'schedule') THEN
    SELECT count(*) INTO active FROM pipeline.runs
     WHERE pipeline_id = pid AND status IN ('queued', 'running');
    IF active >= coalesce((spec -> 'settings' ->> 'max_active_runs')::int, 1) THEN
      RAISE NOTICE 'pipeline "%" already has % active run(s): this % is skipped (overlap: skip)',
        p_name, active, p_trigger;
      RETURN NULL;
    END IF;
  END IF;
  INSERT INTO pipeline.runs (pipeline_id, version, status, trigger, variables, execution_date,
                             interval_start, interval_end, backfill_id)
  VALUES (pid, ver, 'queued', p_trigger, coalesce(spec -> 'variables', '{}') || p_variables,
          coalesce(p_start, now()), p_start, p_end, p_backfill)
  RETURNING run_id INTO rid;
  INSERT INTO pipeline.block_runs (run_id, block_name, block_type)
  SELECT rid, b ->> 'name', b ->> 'type' FROM jsonb_array_elements(spec -> 'blocks') AS b;
  PERFORM pg_notify('pipeline_events', json_build_object('run_id', rid, 'pipeline', p_name,
    'project', p_project, 'status', 'queued', 'trigger', p_trigger)::text);
  PERFORM pipeline._wake_launcher();
  RETURN rid;
END $$;

CREATE FUNCTION pipeline.trigger(name text, variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE sql VOLATILE
RETURN pipeline._enqueue(name, project, variables, 'trigger', NULL, NULL, NULL);
COMMENT ON FUNCTION pipeline.trigger(text, jsonb, text) IS
  'queue a run for the background workers and return its id at once (NULL when skipped by overlap: skip)';

CREATE FUNCTION pipeline.wait(run_id bigint, timeout interval DEFAULT NULL)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  st text;
  deadline timestamptz := clock_timestamp() + timeout;
BEGIN
  LOOP
    SELECT r.status INTO st FROM pipeline.runs r WHERE r.run_id = wait.run_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'run % does not exist', wait.run_id USING ERRCODE = 'undefined_object';
    END IF;
    IF st IN ('succeeded', 'failed', 'cancelled') OR clock_timestamp() >= deadline THEN
      RETURN st;
    END IF;
    IF st = 'queued' AND EXISTS (
        SELECT FROM pipeline.runs r WHERE r.run_id = wait.run_id
           AND r.xmin::text = (pg_current_xact_id_if_assigned()::text::numeric % 4294967296)::text) THEN
      RAISE EXCEPTION 'run % was queued in this transaction, which has not committed', wait.run_id
        USING ERRCODE = 'invalid_transaction_state',
              HINT = 'Commit, then wait for it: the workers see committed runs only.';
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
COMMENT ON FUNCTION pipeline.wait(bigint, interval) IS
  'wait until a run ends (or the timeout passes) and return its status';

CREATE FUNCTION pipeline.cancel(run_id bigint) RETURNS boolean LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_cancel';
COMMENT ON FUNCTION pipeline.cancel(bigint) IS
  'cancel a queued or running run: its running block stops within seconds, nothing half-done is published; false when it had ended';

CREATE FUNCTION pipeline.retry(run_id bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE STRICT AS $$
DECLARE
  r pipeline.runs;
  rid bigint;
BEGIN
  SELECT * INTO r FROM pipeline.runs WHERE runs.run_id = retry.run_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'run % does not exist', retry.run_id USING ERRCODE = 'undefined_object';
  END IF;
  IF r.status NOT IN ('failed', 'cancelled') THEN
    RAISE EXCEPTION 'run % is %: only failed or cancelled runs can be retried', r.run_id, r.status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  INSERT INTO pipeline.runs (pipeline_id, version, status, trigger, variables, execution_date,
                             interval_start, interval_end, backfill_id, retry_of)
  VALUES (r.pipeline_id, r.version, 'queued', 'retry', r.variables, r.execution_date,
          r.interval_start, r.interval_end, r.backfill_id, r.run_id)
  RETURNING runs.run_id INTO rid;
  -- Blocks that succeeded keep their output; the failed and never-run ones run again.
  INSERT INTO pipeline.block_runs (run_id, block_name, block_type, status, rows_in, rows_out,
                                   bytes, output_relation, condition)
  SELECT rid, b.block_name, b.block_type,
         CASE WHEN b.status = 'succeeded' THEN 'succeeded' ELSE 'pending' END,
         CASE WHEN b.status = 'succeeded' THEN b.rows_in END,
         CASE WHEN b.status = 'succeeded' THEN b.rows_out END,
         CASE WHEN b.status = 'succeeded' THEN b.bytes END,
         CASE WHEN b.status = 'succeeded' THEN b.output_relation END,
         CASE WHEN b.status = 'succeeded' THEN b.condition END
    FROM pipeline.block_runs b WHERE b.run_id = r.run_id ORDER BY b.block_run_id;
  PERFORM pg_notify('pipeline_events', json_build_object('run_id', rid, 'status', 'queued',
    'trigger', 'retry', 'retry_of', r.run_id)::text);
  PERFORM pipeline._wake_launcher();
  RETURN rid;
END $$;
COMMENT ON FUNCTION pipeline.retry(bigint) IS
  'queue a new run of a failed or cancelled run that re-runs only its failed and never-run blocks';

CREATE FUNCTION pipeline.backfill(name text, start timestamptz, stop timestamptz, step interval,
    variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  t timestamptz := start;
  first bigint;
  rid bigint;
  n int := 0;
BEGIN
  IF step IS NULL OR start + step <= start THEN
    RAISE EXCEPTION 'backfill step must be a positive interval' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF stop <= start THEN
    RAISE EXCEPTION 'backfill stop (%) must be after its start (%)', stop, start
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  WHILE t < stop LOOP
    n := n + 1;
    IF n > 10000 THEN
      RAISE EXCEPTION 'backfill would make more than 10000 runs' USING ERRCODE = 'program_limit_exceeded',
        HINT = 'Use a larger step or a shorter range.';
    END IF;
    rid := pipeline._enqueue(name, project, variables, 'backfill', t, least(t + step, stop), first);
    IF first IS NULL THEN
      first := rid;
      UPDATE pipeline.runs SET backfill_id = rid WHERE run_id = rid;
    END IF;
    t := t + step;
  END LOOP;
  RETURN first;
END $$;
COMMENT ON FUNCTION pipeline.backfill(text, timestamptz, timestamptz, interval, jsonb, text) IS
  'queue one run per interval [t, t + step) from start to stop, each with its own execution_date; returns the backfill id';

-- Each interval counts by its latest run, so a retried interval replaces its failure.
CREATE VIEW pipeline.backfills WITH (security_invoker = true) AS
SELECT l.backfill_id, p.name AS pipeline, min(l.interval_start) AS start, max(l.interval_end) AS stop,
       count(*) AS intervals,
       count(*) FILTER (WHERE l.status = 'succeeded') AS done,
       count(*) FILTER (WHERE l.status = 'failed') AS failed,
       count(*) FILTER (WHERE l.status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE l.status IN ('queued', 'running')) AS remaining
  FROM (SELECT DISTINCT ON (backfill_id, interval_start) *
          FROM pipeline.runs WHERE backfill_id IS NOT NULL
         ORDER BY backfill_id, interval_start, run_id DESC) AS l
  JOIN pipeline.pipelines p USING (pipeline_id)
 GROUP BY l.backfill_id, p.name;
COMMENT ON VIEW pipeline.backfills IS 'backfills and their progress: intervals done, failed, remaining';

-- A scheduled firing: the data interval is from the previous firing to this one.
CREATE FUNCTION pipeline._scheduled_trigger(name text, project text, cron text, variables jsonb)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  t_end timestamptz := pipeline._cron_previous(cron, now());
  t_start timestamptz := pipeline._cron_previous(cron, t_end - interval '1 minute');
BEGIN
  RETURN pipeline._enqueue(name, project, variables, 'schedule', t_start, t_end, NULL);
END $$;

CREATE FUNCTION pipeline.schedule(name text, cron text, variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  job text := 'pipeline:' || project || '.' || name;
  command text;
  jobid bigint;
BEGIN
  IF to_regnamespace('cron') IS NULL THEN
    RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
      USING ERRCODE = 'feature_not_supported',
            HINT = 'Schedules need pg_cron: put it in shared_preload_libraries, set cron.database_name to this database, and CREATE EXTENSION pg_cron.';
  END IF;
  PERFORM pipeline._cron_previous(cron, now());  -- refuses an expression it cannot read
  IF NOT EXISTS (SELECT FROM pipeline.pipelines p WHERE p.name = schedule.name AND p.project = schedule.project) THEN
    RAISE EXCEPTION 'pipeline "%" does not exist in project "%"', name, project
      USING ERRCODE = 'undefined_object', HINT = 'Register it with pipeline.register(yaml).';
  END IF;
  -- pg_cron only fires; once pg_pipeline is dropped the job removes itself.
  command := format($c$DO $job$ BEGIN IF to_regprocedure('pipeline._scheduled_trigger(text,text,text,jsonb)') IS NULL THEN PERFORM cron.unschedule(%L); ELSE PERFORM pipeline._scheduled_trigger(%L, %L, %L, %L::jsonb); END IF; END $job$;$c$,
                    job, name, project, cron, variables);
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid USING job, cron, command;
  RETURN jobid;
END $$;
COMMENT ON FUNCTION pipeline.schedule(text, text, jsonb, text) IS
  'run a pipeline on a cron schedule: a pg_cron job named pipeline:<project>.<name> that only triggers (rescheduling replaces it)';

CREATE FUNCTION pipeline.unschedule(name text, project text DEFAULT 'default')
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  job text := 'pipeline:' || project || '.' || name;
  found_job boolean;
BEGIN
  IF to_regnamespace('cron') IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT EXISTS (SELECT FROM cron.job WHERE jobname = $1)' INTO found_job USING job;
  IF found_job THEN
    EXECUTE 'SELECT cron.unschedule($1)' USING job;
  END IF;
  RETURN found_job;
END $$;
COMMENT ON FUNCTION pipeline.unschedule(text, text) IS 'remove a pipeline''s pg_cron schedule; false when it had none';

CREATE VIEW pipeline.progress WITH (security_invoker = true) AS
SELECT r.run_id, p.project, p.name AS pipeline, b.block_name, b.block_type, b.attempt,
       clock_timestamp() - b.started_at AS elapsed,
       c.param3 AS rows_loaded, c.param11 AS bytes_downloaded, c.param1 AS bytes_processed,
       r.worker_pid
  FROM pipeline.runs r
  JOIN pipeline.pipelines p USING (pipeline_id)
  JOIN pipeline.block_runs b ON b.run_id = r.run_id AND b.status = 'running'
  LEFT JOIN pg_stat_get_progress_info('COPY') AS c ON c.pid = b.worker_pid
 WHERE r.status = 'running';
COMMENT ON VIEW pipeline.progress IS 'live runs: the block running, its attempt, elapsed time, rows and bytes loaded so far';

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pipeline FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline._wake_launcher(), pipeline._cron_previous(text, timestamptz),
  pipeline._enqueue(text, text, jsonb, text, timestamptz, timestamptz, bigint),
  pipeline.trigger(text, jsonb, text), pipeline.wait(bigint, interval), pipeline.cancel(bigint),
  pipeline.retry(bigint), pipeline.backfill(text, timestamptz, timestamptz, interval, jsonb, text),
  pipeline._scheduled_trigger(text, text, text, jsonb), pipeline.schedule(text, text, jsonb, text),
  pipeline.unschedule(text, text) TO pipeline_user;
GRANT SELECT ON pipeline.backfills, pipeline.progress TO pipeline_user;
