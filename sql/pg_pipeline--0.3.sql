-- pg_pipeline 0.3: the catalog (schema pipeline), its functions, views, row-level security and
-- privileges. Grouped by concern:
--   1. roles and schemas          4. functions (registry, runs, orchestration, loading, secrets)
--   2. catalog tables             5. security: row-level security and privileges, granted once
--   3. views                      6. pg_dump and the DROP EXTENSION hook
--
-- The security model (docs/sql-reference.md, "Security model"): a role can only ever act as
-- itself. Roles read the catalog through row-level security, which shows them their own rows;
-- nobody but the extension's owner may write it. Every write goes through the extension's C
-- functions, which act as the calling role, check that it owns what it changes
-- (pg_has_role(caller, owner, 'USAGE')) and write as the extension's owner with search_path
-- pg_catalog, pipeline, pg_temp, as pg_cron's cron.schedule does. Background workers read the
-- catalog as input to validate, never as instructions.
--
-- 0.1 and 0.2 have shipped: pg_pipeline--0.1--0.2.sql and pg_pipeline--0.2--0.3.sql bring their
-- catalogs here, and test/scripts/upgrade.sh checks that an updated catalog and a fresh one are
-- the same. Keep the tables' column order as 0.1's with new
-- columns appended, so they stay comparable.

\echo Use "CREATE EXTENSION pg_pipeline" to load this file. \quit

-------------------------------------------------------------------------------------------------
-- 1. Roles and schemas
-------------------------------------------------------------------------------------------------

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pipeline_user') THEN
    CREATE ROLE pipeline_user NOLOGIN;
  END IF;
END
$$;
COMMENT ON ROLE pipeline_user IS 'may register, run and inspect its own pg_pipeline pipelines';

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pipeline_python') THEN
    CREATE ROLE pipeline_python NOLOGIN;
  END IF;
END
$$;
GRANT pipeline_user TO pipeline_python;
COMMENT ON ROLE pipeline_python IS 'may also register and run pipelines with Python blocks, whose code runs as the server''s operating-system user: grant it only to roles trusted that far';

CREATE SCHEMA pipeline;
COMMENT ON SCHEMA pipeline IS 'pg_pipeline: the catalog of projects, pipelines, runs and their history, and its functions';
-- 0.1 kept every role's staging here; 0.2 gives each role a staging schema of its own
-- (pipeline.staging_schemas). Nobody but the extension creates anything here any more.
CREATE SCHEMA pipeline_staging;
COMMENT ON SCHEMA pipeline_staging IS 'staging of pg_pipeline 0.1 runs; 0.2 stages in one schema per role (pipeline.staging_schemas)';

-------------------------------------------------------------------------------------------------
-- 2. Catalog tables
-------------------------------------------------------------------------------------------------

CREATE TABLE pipeline.projects (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
  owner       regrole NOT NULL DEFAULT current_user::regrole,
  source_dir  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.projects IS 'namespaces of pipelines, shared blocks and connection profiles; "default" always exists';
COMMENT ON COLUMN pipeline.projects.name IS 'project name, an identifier';
COMMENT ON COLUMN pipeline.projects.owner IS 'role that created the project';
COMMENT ON COLUMN pipeline.projects.source_dir IS 'server directory the project was imported from (Mage layout), if any';
COMMENT ON COLUMN pipeline.projects.created_at IS 'when the project was created';
INSERT INTO pipeline.projects (name, owner) VALUES ('default', current_user::regrole);

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
COMMENT ON COLUMN pipeline.pipeline_versions.spec IS 'the validated pipeline as canonical JSON, shared blocks resolved and pinned (their "pin" is the hash they had): what its runs execute';
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
  type        text NOT NULL CHECK (type IN ('data_loader', 'transformer', 'data_exporter', 'sensor', 'conditional', 'callback', 'custom')),
  definition  jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
  yaml        text NOT NULL,
  owner       regrole NOT NULL DEFAULT current_user::regrole,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  hash        text GENERATED ALWAYS AS (md5(definition::text)) STORED,
  UNIQUE NULLS NOT DISTINCT (project, pipeline_id, name)
);
COMMENT ON TABLE pipeline.blocks IS 'block definitions: shared by a project''s pipelines (pipeline_id NULL) or local to the current version of one pipeline';
COMMENT ON COLUMN pipeline.blocks.block_id IS 'surrogate key';
COMMENT ON COLUMN pipeline.blocks.project IS 'project of the block';
COMMENT ON COLUMN pipeline.blocks.pipeline_id IS 'pipeline owning a local block; NULL for a block shared by the project';
COMMENT ON COLUMN pipeline.blocks.name IS 'block name (Mage uuid)';
COMMENT ON COLUMN pipeline.blocks.type IS 'data_loader, transformer, data_exporter, sensor, conditional or callback';
COMMENT ON COLUMN pipeline.blocks.definition IS 'the block as canonical JSON';
COMMENT ON COLUMN pipeline.blocks.yaml IS 'the block as YAML, as the engine reads it';
COMMENT ON COLUMN pipeline.blocks.owner IS 'role that wrote the block; only it (and roles with its privileges) may change a shared block';
COMMENT ON COLUMN pipeline.blocks.updated_at IS 'when the definition last changed';
COMMENT ON COLUMN pipeline.blocks.hash IS 'md5 of the definition: pipeline versions pin the shared blocks they use by it, and runs refuse a shared block that changed since';

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
  recoveries      integer NOT NULL DEFAULT 0 CHECK (recoveries >= 0),
  warnings        integer NOT NULL DEFAULT 0 CHECK (warnings >= 0),
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
COMMENT ON COLUMN pipeline.runs.owner IS 'role that started the run: it executes with this role''s privileges, and only it (and roles with its privileges) can see and cancel it';
COMMENT ON COLUMN pipeline.runs.retry_of IS 'the run this one retries, if any';
COMMENT ON COLUMN pipeline.runs.backfill_id IS 'the backfill that created this run, if any';
COMMENT ON COLUMN pipeline.runs.worker_pid IS 'process of the background worker executing the run';
COMMENT ON COLUMN pipeline.runs.claimed_at IS 'when the launcher claimed the queued run';
COMMENT ON COLUMN pipeline.runs.created_at IS 'when the run was queued';
COMMENT ON COLUMN pipeline.runs.started_at IS 'when its first block started';
COMMENT ON COLUMN pipeline.runs.finished_at IS 'when it reached a final state';
COMMENT ON COLUMN pipeline.runs.error IS 'the failing block''s error, for a failed run';
COMMENT ON COLUMN pipeline.runs.sqlstate IS 'SQLSTATE of that error';
COMMENT ON COLUMN pipeline.runs.recoveries IS 'times the run was queued again after its worker was interrupted (a shutdown, a termination, a crash); bounded by pipeline.max_recoveries';
COMMENT ON COLUMN pipeline.runs.warnings IS 'tests with severity: warn that failed in the run (the sum over its blocks)';

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
  output_oid      oid,
  warnings        integer NOT NULL DEFAULT 0 CHECK (warnings >= 0),
  UNIQUE (run_id, block_name),
  CHECK (finished_at >= started_at)
);
COMMENT ON TABLE pipeline.block_runs IS 'one row per block of a run: status, attempts, rows, bytes, timings, error';
COMMENT ON COLUMN pipeline.block_runs.block_run_id IS 'surrogate key';
COMMENT ON COLUMN pipeline.block_runs.run_id IS 'the run';
COMMENT ON COLUMN pipeline.block_runs.block_name IS 'the block';
COMMENT ON COLUMN pipeline.block_runs.block_type IS 'the block''s type';
COMMENT ON COLUMN pipeline.block_runs.status IS 'pending, running, succeeded, failed, skipped, upstream_failed or cancelled';
COMMENT ON COLUMN pipeline.block_runs.attempt IS 'attempts made so far (1 for the first try)';
COMMENT ON COLUMN pipeline.block_runs.rows_in IS 'rows read from upstream outputs or loaded from the source';
COMMENT ON COLUMN pipeline.block_runs.rows_out IS 'rows in the block''s output';
COMMENT ON COLUMN pipeline.block_runs.bytes IS 'bytes downloaded (loaders)';
COMMENT ON COLUMN pipeline.block_runs.output_relation IS 'relation holding the block''s output (a staging table or view, or an exporter''s target), as text for people; cleared when staging is dropped';
COMMENT ON COLUMN pipeline.block_runs.condition IS 'what a conditional block said (false skipped its downstream blocks)';
COMMENT ON COLUMN pipeline.block_runs.worker_pid IS 'backend that ran (or runs) the block''s latest attempt';
COMMENT ON COLUMN pipeline.block_runs.next_attempt_at IS 'when the next retry may start';
COMMENT ON COLUMN pipeline.block_runs.started_at IS 'when the current attempt started';
COMMENT ON COLUMN pipeline.block_runs.finished_at IS 'when the block reached a final state';
COMMENT ON COLUMN pipeline.block_runs.error IS 'error message of the last failed attempt';
COMMENT ON COLUMN pipeline.block_runs.error_detail IS 'its detail and context';
COMMENT ON COLUMN pipeline.block_runs.sqlstate IS 'its SQLSTATE';
COMMENT ON COLUMN pipeline.block_runs.output_oid IS 'the staging relation holding the output, by OID (see pipeline.staging)';
COMMENT ON COLUMN pipeline.block_runs.warnings IS 'tests with severity: warn that failed in the latest attempt (each is a warning line of run_log)';

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

CREATE TABLE pipeline.block_attempts (
  run_id      bigint NOT NULL REFERENCES pipeline.runs ON DELETE CASCADE,
  block_name  text NOT NULL,
  attempt     integer NOT NULL CHECK (attempt > 0),
  status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
  started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz CHECK (finished_at >= started_at),
  error       text,
  sqlstate    text CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
  note        text,
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
COMMENT ON COLUMN pipeline.block_attempts.note IS 'what followed a failed attempt: "retried in N s", "not retried: permanent", "no retries left"';

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

-- Connection profiles (Mage's io_config.yaml): they hold passwords, so only roles with the
-- privileges of the project's owner read them (pipeline.projects is readable by every user).
CREATE TABLE pipeline.profiles (
  project   text NOT NULL REFERENCES pipeline.projects (name) ON UPDATE CASCADE ON DELETE CASCADE,
  profile   text NOT NULL CHECK (profile ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$'),
  settings  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
  owner     regrole NOT NULL,
  PRIMARY KEY (project, profile)
);
COMMENT ON TABLE pipeline.profiles IS 'connection profiles of projects (Mage''s io_config.yaml), for Python blocks; only roles with the privileges of the project''s owner read them';
COMMENT ON COLUMN pipeline.profiles.project IS 'the project';
COMMENT ON COLUMN pipeline.profiles.profile IS 'the profile''s name, as blocks name it (ConfigFileLoader(path, ''dev''))';
COMMENT ON COLUMN pipeline.profiles.settings IS 'its settings (POSTGRES_HOST, ...); "pg_pipeline_remote": true points a Postgres profile at that server instead of this database';
COMMENT ON COLUMN pipeline.profiles.owner IS 'the project''s owner when the profile was set: only roles with its privileges read the row or get it in their runs';

CREATE TABLE pipeline.schedules (
  schedule_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pipeline_id  bigint NOT NULL UNIQUE REFERENCES pipeline.pipelines ON DELETE CASCADE,
  cron         text NOT NULL,
  variables    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(variables) = 'object'),
  owner        regrole NOT NULL,
  jobid        bigint,
  created_at   timestamptz NOT NULL DEFAULT now(),
  catch_up     text NOT NULL DEFAULT 'none' CHECK (catch_up IN ('none', 'latest', 'all')),
  last_fire    timestamptz
);
COMMENT ON TABLE pipeline.schedules IS 'pipelines run on a cron schedule: each is a pg_cron job named pipeline:<project>.<name> that only triggers';
COMMENT ON COLUMN pipeline.schedules.schedule_id IS 'surrogate key; the pg_cron job fires pipeline._fire_schedule(schedule_id)';
COMMENT ON COLUMN pipeline.schedules.pipeline_id IS 'the pipeline (one schedule each)';
COMMENT ON COLUMN pipeline.schedules.cron IS 'the cron expression';
COMMENT ON COLUMN pipeline.schedules.variables IS 'variables every scheduled run gets';
COMMENT ON COLUMN pipeline.schedules.owner IS 'role that scheduled it: the pg_cron job runs as this role';
COMMENT ON COLUMN pipeline.schedules.jobid IS 'the pg_cron job';
COMMENT ON COLUMN pipeline.schedules.created_at IS 'when it was scheduled';
COMMENT ON COLUMN pipeline.schedules.catch_up IS 'firings missed while the server or the launcher was down: none (nothing), latest (one run for the latest), all (one run each, in order, at most 100)';
COMMENT ON COLUMN pipeline.schedules.last_fire IS 'the latest firing a run was queued for (each firing queues at most one run)';

-- Staging: every relation the extension creates for a block's output, by OID, so clean-up
-- drops exactly what a run made and nothing a user named.
CREATE TABLE pipeline.staging_schemas (
  role         regrole PRIMARY KEY,
  schema_oid   oid NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.staging_schemas IS 'each role''s staging schema: created by the extension, owned by the role, where no other role can create anything';
COMMENT ON COLUMN pipeline.staging_schemas.role IS 'the role';
COMMENT ON COLUMN pipeline.staging_schemas.schema_oid IS 'its staging schema, by OID';
COMMENT ON COLUMN pipeline.staging_schemas.created_at IS 'when it was created';

CREATE TABLE pipeline.staging (
  relid       oid PRIMARY KEY,
  run_id      bigint NOT NULL REFERENCES pipeline.runs ON DELETE CASCADE,
  block_name  text NOT NULL,
  owner       regrole NOT NULL,
  relkind     "char" NOT NULL CHECK (relkind IN ('r', 'v')),
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON pipeline.staging (run_id);
COMMENT ON TABLE pipeline.staging IS 'staging relations made by runs, by OID: dropped when their run succeeds, or after pipeline.staging_retention when it did not';
COMMENT ON COLUMN pipeline.staging.relid IS 'the relation';
COMMENT ON COLUMN pipeline.staging.run_id IS 'the run that made it';
COMMENT ON COLUMN pipeline.staging.block_name IS 'the block whose output it holds';
COMMENT ON COLUMN pipeline.staging.owner IS 'the run''s role, which owns it';
COMMENT ON COLUMN pipeline.staging.relkind IS 'r (an UNLOGGED table) or v (a view), as made';
COMMENT ON COLUMN pipeline.staging.created_at IS 'when it was made';

-------------------------------------------------------------------------------------------------
-- 3. Views
-------------------------------------------------------------------------------------------------

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

-- (a load split across workers: its workers' COPY rows carry the leader's pid in param13, and
-- their rows add up under it; the leader's own row has the bytes)
CREATE VIEW pipeline.progress WITH (security_invoker = true) AS
SELECT r.run_id, p.project, p.name AS pipeline, b.block_name, b.block_type, b.attempt,
       clock_timestamp() - b.started_at AS elapsed,
       (SELECT sum(w.param3)::bigint FROM pg_stat_get_progress_info('COPY') AS w
         WHERE w.pid = b.worker_pid OR w.param13 = b.worker_pid) AS rows_loaded,
       c.param11 AS bytes_downloaded, c.param1 AS bytes_processed,
       r.worker_pid
  FROM pipeline.runs r
  JOIN pipeline.pipelines p USING (pipeline_id)
  JOIN pipeline.block_runs b ON b.run_id = r.run_id AND b.status = 'running'
  LEFT JOIN pg_stat_get_progress_info('COPY') AS c ON c.pid = b.worker_pid
 WHERE r.status = 'running';
COMMENT ON VIEW pipeline.progress IS 'live runs: the block running, its attempt, elapsed time, rows and bytes loaded so far';

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
-- 4. Functions. Those that write are C: they act as the calling role and check what it owns.
-------------------------------------------------------------------------------------------------

-- Registry
CREATE FUNCTION pipeline.register(yaml text, project text DEFAULT 'default')
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_register';
COMMENT ON FUNCTION pipeline.register(text, text) IS
  'validate a pipeline file and store it as the pipeline''s new current version; returns the pipeline name';

CREATE FUNCTION pipeline.create_project(name text)
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_create_project';
COMMENT ON FUNCTION pipeline.create_project(text) IS 'create an empty project owned by the calling role';

CREATE FUNCTION pipeline.import_project(dir text, project text DEFAULT NULL, schedules boolean DEFAULT false,
                                        native boolean DEFAULT true)
RETURNS TABLE (pipeline text, block text, kind text, language text, outcome text, reason text)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_import_project';
COMMENT ON FUNCTION pipeline.import_project(text, text, boolean, boolean) IS
  'import a Mage project folder pipeline by pipeline (io_config.yaml profiles, pipelines/*/metadata.yaml, SQL and Python block files, triggers.yaml schedules when schedules is true); Python blocks of the shapes the compiler knows become native blocks unless native is false; one row per pipeline, block, chart, trigger and profile saying imported, skipped or refused, and why (native or python, for Python blocks). Requires pg_read_server_files';

CREATE FUNCTION pipeline.set_profile(project text, profile text, settings jsonb)
RETURNS void LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_set_profile';
COMMENT ON FUNCTION pipeline.set_profile(text, text, jsonb) IS
  'store (or replace) a connection profile of a project the calling role owns; {"pg_pipeline_remote": true, "POSTGRES_HOST": ...} points a Postgres profile at another server';

CREATE FUNCTION pipeline.drop_profile(project text, profile text)
RETURNS boolean LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_drop_profile';
COMMENT ON FUNCTION pipeline.drop_profile(text, text) IS 'remove a connection profile of a project the calling role owns; false when there was none';

CREATE FUNCTION pipeline.dag(name text, format text DEFAULT 'mermaid', project text DEFAULT 'default')
RETURNS text LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'pipeline_dag';
COMMENT ON FUNCTION pipeline.dag(text, text, text) IS 'the pipeline''s block graph as Mermaid (format mermaid) or Graphviz DOT (format dot)';

CREATE FUNCTION pipeline.validate(yaml text)
RETURNS jsonb LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'pipeline_validate';
COMMENT ON FUNCTION pipeline.validate(text) IS 'parse and validate a pipeline file without storing it; returns its canonical JSON';

CREATE FUNCTION pipeline.drop_pipeline(name text, project text DEFAULT 'default')
RETURNS boolean LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_drop_pipeline';
COMMENT ON FUNCTION pipeline.drop_pipeline(text, text) IS
  'drop a pipeline with its versions, local blocks, schedule, run history and staging; false when there was none';

-- Runs
CREATE FUNCTION pipeline.run(name text, variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_run';
COMMENT ON FUNCTION pipeline.run(text, jsonb, text) IS
  'run a pipeline now, in a background worker as the calling role, and wait; returns the run id, or raises the failing block''s error (the run stays recorded)';

CREATE FUNCTION pipeline.trigger(name text, variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_trigger';
COMMENT ON FUNCTION pipeline.trigger(text, jsonb, text) IS
  'queue a run for the background workers and return its id at once (NULL when skipped by overlap: skip)';

CREATE FUNCTION pipeline.wait(run_id bigint, timeout interval DEFAULT NULL)
RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pipeline, pg_temp AS $$
DECLARE
  st text;
  deadline timestamptz := clock_timestamp() + timeout;
  nap float8 := 0.01;
BEGIN
  -- A snapshot taken once never sees the run end.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'pipeline.wait cannot wait in a % transaction', upper(current_setting('transaction_isolation'))
      USING ERRCODE = 'invalid_transaction_state',
            DETAIL = 'Its snapshot would never show the run ending.',
            HINT = 'Wait in a READ COMMITTED transaction (the default), or query pipeline.runs from new transactions.';
  END IF;
  LOOP
    SELECT r.status INTO st FROM pipeline.runs r WHERE r.run_id = wait.run_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'run % does not exist', wait.run_id USING ERRCODE = 'undefined_object',
        HINT = 'Runs of other roles are not visible.';
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
    PERFORM pg_sleep(least(nap, greatest(extract(epoch FROM deadline - clock_timestamp()), 0.001)));
    nap := least(nap * 2, 0.2);  -- short runs answer at once, long ones cost little
  END LOOP;
END $$;
COMMENT ON FUNCTION pipeline.wait(bigint, interval) IS
  'wait until a run ends (or the timeout passes) and return its status; READ COMMITTED only';

CREATE FUNCTION pipeline.cancel(run_id bigint) RETURNS boolean LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_cancel';
COMMENT ON FUNCTION pipeline.cancel(bigint) IS
  'cancel a queued or running run: its running block stops within seconds, nothing half-done is published; false when it had ended';

CREATE FUNCTION pipeline.retry(run_id bigint) RETURNS bigint LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_retry';
COMMENT ON FUNCTION pipeline.retry(bigint) IS
  'queue a new run of a failed or cancelled run: its succeeded blocks keep their output; failed and never-run blocks, and the blocks after them, run again';

-- Orchestration: backfills and pg_cron schedules
CREATE FUNCTION pipeline.backfill(name text, start timestamptz, stop timestamptz, step interval,
    variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_backfill';
COMMENT ON FUNCTION pipeline.backfill(text, timestamptz, timestamptz, interval, jsonb, text) IS
  'queue one run per interval [t, t + step) from start to stop, each with its own execution_date; returns the backfill id';

CREATE FUNCTION pipeline.schedule(name text, cron text, variables jsonb DEFAULT '{}', project text DEFAULT 'default',
    catch_up text DEFAULT 'none')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_schedule';
COMMENT ON FUNCTION pipeline.schedule(text, text, jsonb, text, text) IS
  'run a pipeline on a cron schedule: a pg_cron job named pipeline:<project>.<name>, run as the calling role, that only triggers (rescheduling replaces it; catch_up says what happens to firings missed while the server was down); returns the job id';

CREATE FUNCTION pipeline.unschedule(name text, project text DEFAULT 'default')
RETURNS boolean LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_unschedule';
COMMENT ON FUNCTION pipeline.unschedule(text, text) IS 'remove a pipeline''s pg_cron schedule; false when it had none';

CREATE FUNCTION pipeline._fire_schedule(schedule_id bigint)
RETURNS bigint LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_fire_schedule';
COMMENT ON FUNCTION pipeline._fire_schedule(bigint) IS
  'what a schedule''s pg_cron job runs: queue the run of the interval from the previous firing to this one (its owner only)';

CREATE FUNCTION pipeline._cron_previous(cron text, at timestamptz) RETURNS timestamptz
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'pipeline_cron_previous';
COMMENT ON FUNCTION pipeline._cron_previous(text, timestamptz) IS 'latest firing of a cron expression at or before a time (UTC)';

-- Loading
CREATE FUNCTION pipeline.load_csv(url text, target text, options jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_load_csv';
COMMENT ON FUNCTION pipeline.load_csv(text, text, jsonb) IS
  'stream a CSV or CSV.gz file from an http(s) URL into a table through COPY; returns the rows loaded';

-- Secrets and the environment, for templates
CREATE FUNCTION pipeline.set_secret(name text, value text) RETURNS void LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_set_secret';
COMMENT ON FUNCTION pipeline.set_secret(text, text) IS 'store (or replace) a secret of the calling role';

CREATE FUNCTION pipeline.drop_secret(name text) RETURNS boolean LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_drop_secret';
COMMENT ON FUNCTION pipeline.drop_secret(text) IS 'remove a secret of the calling role; false when it had none';

CREATE FUNCTION pipeline.secret(name text) RETURNS text LANGUAGE plpgsql STABLE STRICT
  SET search_path = pg_catalog, pipeline, pg_temp AS $$
DECLARE v text;
BEGIN
  SELECT s.value INTO v FROM pipeline.secrets s WHERE s.owner = current_user::regrole AND s.name = secret.name;
  IF v IS NULL THEN
    RAISE EXCEPTION 'secret "%" does not exist', secret.name
      USING ERRCODE = 'undefined_object', HINT = 'Store it with pipeline.set_secret(name, value).';
  END IF;
  RETURN v;
END $$;
COMMENT ON FUNCTION pipeline.secret(text) IS 'the calling role''s secret of that name, for templates';

CREATE FUNCTION pipeline.env_var(name text) RETURNS text LANGUAGE c STABLE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_env_var';
COMMENT ON FUNCTION pipeline.env_var(text) IS
  'the server process''s environment variable (superusers and members of pg_read_server_files), as Mage''s env_var';

-- Internals
CREATE FUNCTION pipeline._boundary_selftest(kind text)
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_boundary_selftest';
COMMENT ON FUNCTION pipeline._boundary_selftest(text) IS 'exercises both directions of the C++/Postgres boundary (tests; superusers only)';

-- Python blocks (src/pg/python/, python/README.md). The runtime's own entry point,
-- pipeline._python_block, is PL/Python: pipeline.enable_python() makes it (below, when
-- plpython3u is already here; else a superuser calls it later).
CREATE FUNCTION pipeline.enable_python() RETURNS boolean LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'pipeline_enable_python';
COMMENT ON FUNCTION pipeline.enable_python() IS
  'superusers: make this database able to run Python blocks (PL/Python, then pipeline._python_block and pipeline._compile_block for members of pipeline_python); false when plpython3u cannot be created yet';
CREATE FUNCTION pipeline._copy_in(target regclass, data text, header boolean DEFAULT true, null_string text DEFAULT '')
RETURNS bigint LANGUAGE c VOLATILE SET datestyle = 'ISO, MDY' SET timezone = 'UTC'
  AS 'MODULE_PATHNAME', 'pipeline_copy_in';
COMMENT ON FUNCTION pipeline._copy_in(regclass, text, boolean, text) IS
  'internal (Python blocks): COPY FROM one chunk of CSV text into target, as the caller; returns the rows';
CREATE FUNCTION pipeline._copy_in_columns(target regclass, rows bigint, names text[], kinds text[], data bytea[], nulls bytea[])
RETURNS bigint LANGUAGE c VOLATILE SET datestyle = 'ISO, MDY' SET timezone = 'UTC'
  AS 'MODULE_PATHNAME', 'pipeline_copy_in_columns';
COMMENT ON FUNCTION pipeline._copy_in_columns(regclass, bigint, text[], text[], bytea[], bytea[]) IS
  'internal (Python blocks): COPY FROM a DataFrame''s column buffers into target, as the caller; returns the rows';
CREATE FUNCTION pipeline._copy_out(relation regclass, null_string text DEFAULT '')
RETURNS SETOF text LANGUAGE c VOLATILE
  SET datestyle = 'ISO, MDY' SET timezone = 'UTC' SET intervalstyle = 'postgres' SET extra_float_digits = 1
  AS 'MODULE_PATHNAME', 'pipeline_copy_out';
COMMENT ON FUNCTION pipeline._copy_out(regclass, text) IS
  'internal (Python blocks): the relation''s rows as CSV chunks, read as the caller';
CREATE FUNCTION pipeline._copy_out_columns(relation regclass)
RETURNS SETOF bytea LANGUAGE c VOLATILE
  SET datestyle = 'ISO, MDY' SET timezone = 'UTC' SET intervalstyle = 'postgres' SET extra_float_digits = 1
  AS 'MODULE_PATHNAME', 'pipeline_copy_out_columns';
COMMENT ON FUNCTION pipeline._copy_out_columns(regclass) IS
  'internal (Python blocks): the relation''s rows as column buffers for a DataFrame, read as the caller';
CREATE FUNCTION pipeline._python_path() RETURNS text LANGUAGE c STABLE
  AS 'MODULE_PATHNAME', 'pipeline_python_path';
COMMENT ON FUNCTION pipeline._python_path() IS
  'internal (Python blocks): the directory of the Python runtime PL/Python imports';

-- Fused chains' tests counted by the load itself (src/pg/load/copy_bridge.cpp, CopyWhere): the
-- load appends CASE WHEN <test condition i> THEN pipeline._count_row(<its random token>, i) ELSE true END
-- to its COPY's WHERE.
-- STABLE, though it counts, so that COPY keeps its multi-row inserts; a call with any other token
-- counts nothing, so anyone may call it.
CREATE FUNCTION pipeline._count_row(token bigint, i integer)
RETURNS boolean LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'pipeline_count_row';
COMMENT ON FUNCTION pipeline._count_row(bigint, integer) IS
  'internal (loads): true; counts one row into count i of the COPY running in this process whose token this is';

CREATE FUNCTION pipeline._on_drop_extension() RETURNS event_trigger LANGUAGE c
  AS 'MODULE_PATHNAME', 'pipeline_on_drop_extension';
COMMENT ON FUNCTION pipeline._on_drop_extension() IS
  'before DROP EXTENSION pg_pipeline: removes its pg_cron jobs, its staging and the roles'' staging schemas';

-------------------------------------------------------------------------------------------------
-- 5. Security: row-level security shows each role its own rows; nobody but the extension's
--    owner writes the catalog; pipeline_user gets the user-facing functions.
-------------------------------------------------------------------------------------------------

ALTER TABLE pipeline.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.pipelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.pipeline_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.block_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.run_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.block_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.staging_schemas ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.staging ENABLE ROW LEVEL SECURITY;

-- Every pipeline user sees every project (to register into it) and every shared block (to use it).
CREATE POLICY read_projects ON pipeline.projects FOR SELECT USING (true);
CREATE POLICY read_pipelines ON pipeline.pipelines FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY read_versions ON pipeline.pipeline_versions FOR SELECT
  USING (EXISTS (SELECT FROM pipeline.pipelines p WHERE p.pipeline_id = pipeline_versions.pipeline_id));
CREATE POLICY read_blocks ON pipeline.blocks FOR SELECT
  USING (pipeline_id IS NULL OR EXISTS (SELECT FROM pipeline.pipelines p WHERE p.pipeline_id = blocks.pipeline_id));
CREATE POLICY read_runs ON pipeline.runs FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY read_block_runs ON pipeline.block_runs FOR SELECT
  USING (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = block_runs.run_id));
CREATE POLICY read_run_log ON pipeline.run_log FOR SELECT
  USING (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = run_log.run_id));
CREATE POLICY read_block_attempts ON pipeline.block_attempts FOR SELECT
  USING (EXISTS (SELECT FROM pipeline.runs r WHERE r.run_id = block_attempts.run_id));
-- A secret is its owner's alone: not even roles with its privileges read it.
CREATE POLICY read_secrets ON pipeline.secrets FOR SELECT USING (owner = current_user::regrole);
-- A project's profiles hold its passwords: roles with the privileges of its owner only.
CREATE POLICY read_profiles ON pipeline.profiles FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY read_schedules ON pipeline.schedules FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY read_staging_schemas ON pipeline.staging_schemas FOR SELECT USING (pg_has_role(role, 'USAGE'));
CREATE POLICY read_staging ON pipeline.staging FOR SELECT USING (pg_has_role(owner, 'USAGE'));

REVOKE ALL ON ALL TABLES IN SCHEMA pipeline FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pipeline FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pipeline FROM PUBLIC;
REVOKE ALL ON SCHEMA pipeline_staging FROM PUBLIC;
GRANT USAGE ON SCHEMA pipeline TO pipeline_user;
GRANT SELECT ON ALL TABLES IN SCHEMA pipeline TO pipeline_user;
GRANT EXECUTE ON FUNCTION
  pipeline.register(text, text), pipeline.create_project(text), pipeline.import_project(text, text, boolean, boolean),
  pipeline.set_profile(text, text, jsonb), pipeline.drop_profile(text, text),
  pipeline.dag(text, text, text), pipeline.validate(text), pipeline.drop_pipeline(text, text),
  pipeline.run(text, jsonb, text), pipeline.trigger(text, jsonb, text), pipeline.wait(bigint, interval),
  pipeline.cancel(bigint), pipeline.retry(bigint),
  pipeline.backfill(text, timestamptz, timestamptz, interval, jsonb, text),
  pipeline.schedule(text, text, jsonb, text, text), pipeline.unschedule(text, text),
  pipeline._fire_schedule(bigint), pipeline._cron_previous(text, timestamptz),
  pipeline.load_csv(text, text, jsonb),
  pipeline.set_secret(text, text), pipeline.drop_secret(text), pipeline.secret(text), pipeline.env_var(text)
  TO pipeline_user;
GRANT EXECUTE ON FUNCTION
  pipeline._copy_in(regclass, text, boolean, text), pipeline._copy_in_columns(regclass, bigint, text[], text[], bytea[], bytea[]),
  pipeline._copy_out(regclass, text), pipeline._copy_out_columns(regclass), pipeline._python_path()
  TO pipeline_user;
GRANT EXECUTE ON FUNCTION pipeline._count_row(bigint, integer) TO PUBLIC;
-- Python blocks now, when PL/Python is already in the database (pipeline._python_block joins the
-- extension, executable by pipeline_python only).
SELECT pipeline.enable_python() FROM pg_catalog.pg_extension WHERE extname = 'plpython3u';

-------------------------------------------------------------------------------------------------
-- 6. pg_dump, and what DROP EXTENSION must clean up first
-------------------------------------------------------------------------------------------------

-- User rows survive pg_dump and restore; the built-in default project is recreated by the script.
-- (Staging is not dumped: it is scratch space, and its OIDs would not survive a restore.)
SELECT pg_catalog.pg_extension_config_dump('pipeline.projects', $$WHERE name <> 'default'$$);
SELECT pg_catalog.pg_extension_config_dump('pipeline.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.pipeline_versions', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.blocks', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.runs', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.block_runs', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.run_log', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.block_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.secrets', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.profiles', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.schedules', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.pipelines', 'pipeline_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.blocks', 'block_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.runs', 'run_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.block_runs', 'block_run_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.run_log', 'log_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.schedules', 'schedule_id'), '');

-- Before DROP EXTENSION pg_pipeline (or DROP SCHEMA pipeline CASCADE): the pg_cron jobs, staging
-- relations and staging schemas the extension made go first, so the drop leaves nothing behind.
CREATE EVENT TRIGGER pipeline_drop_extension ON ddl_command_start
  WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
  EXECUTE FUNCTION pipeline._on_drop_extension();
