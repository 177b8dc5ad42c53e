-- pg_pipeline 0.1 -> 0.2 (ALTER EXTENSION pg_pipeline UPDATE): the security model (writes only
-- through the extension's functions, per-role staging recorded by OID, pinned shared blocks,
-- schedules in the catalog), bounded crash recovery, and DROP EXTENSION that leaves nothing
-- behind. The result equals a fresh 0.2 install; test/scripts/upgrade.sh compares the two
-- catalogs and runs pipelines of an upgraded, populated 0.1 catalog.

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.2'" to load this file. \quit

-------------------------------------------------------------------------------------------------
-- The schema pipeline becomes a member of the extension, so DROP EXTENSION removes it. In 0.1
-- the extension lived in it (CREATE EXTENSION made it, DROP EXTENSION left it behind); like
-- pg_cron, 0.2 lives in pg_catalog and makes its schemas itself.
-------------------------------------------------------------------------------------------------

DO $$
DECLARE
  ext oid := (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'pg_pipeline');
BEGIN
  IF (SELECT extnamespace FROM pg_catalog.pg_extension WHERE oid = ext) <> 'pg_catalog'::regnamespace THEN
    UPDATE pg_catalog.pg_extension SET extnamespace = 'pg_catalog'::regnamespace WHERE oid = ext;
    DELETE FROM pg_catalog.pg_depend
     WHERE classid = 'pg_catalog.pg_extension'::regclass AND objid = ext
       AND refclassid = 'pg_catalog.pg_namespace'::regclass AND deptype = 'n';
  END IF;
END
$$;
ALTER EXTENSION pg_pipeline ADD SCHEMA pipeline;
COMMENT ON SCHEMA pipeline IS 'pg_pipeline: the catalog of projects, pipelines, runs and their history, and its functions';
COMMENT ON SCHEMA pipeline_staging IS 'staging of pg_pipeline 0.1 runs; 0.2 stages in one schema per role (pipeline.staging_schemas)';

-------------------------------------------------------------------------------------------------
-- Catalog changes
-------------------------------------------------------------------------------------------------

ALTER TABLE pipeline.blocks ADD COLUMN hash text GENERATED ALWAYS AS (md5(definition::text)) STORED;
ALTER TABLE pipeline.blocks DROP CONSTRAINT blocks_type_check,
  ADD CONSTRAINT blocks_type_check CHECK (type IN ('data_loader', 'transformer', 'data_exporter', 'sensor', 'conditional', 'callback', 'custom'));
COMMENT ON COLUMN pipeline.blocks.pipeline_id IS 'pipeline owning a local block; NULL for a block shared by the project';
COMMENT ON COLUMN pipeline.blocks.owner IS 'role that wrote the block; only it (and roles with its privileges) may change a shared block';
COMMENT ON COLUMN pipeline.blocks.hash IS 'md5 of the definition: pipeline versions pin the shared blocks they use by it, and runs refuse a shared block that changed since';

ALTER TABLE pipeline.runs ADD COLUMN recoveries integer NOT NULL DEFAULT 0 CHECK (recoveries >= 0);
ALTER TABLE pipeline.runs ADD COLUMN warnings integer NOT NULL DEFAULT 0 CHECK (warnings >= 0);
COMMENT ON COLUMN pipeline.runs.owner IS 'role that started the run: it executes with this role''s privileges, and only it (and roles with its privileges) can see and cancel it';
-- (the view's "*" was expanded when it was made: it gets the new column as a fresh install does)
CREATE OR REPLACE VIEW pipeline.backfills WITH (security_invoker = true) AS
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
COMMENT ON COLUMN pipeline.runs.recoveries IS 'times the run was queued again after its worker was interrupted (a shutdown, a termination, a crash); bounded by pipeline.max_recoveries';
COMMENT ON COLUMN pipeline.runs.warnings IS 'tests with severity: warn that failed in the run (the sum over its blocks)';

ALTER TABLE pipeline.block_runs ADD COLUMN output_oid oid;
ALTER TABLE pipeline.block_runs ADD COLUMN warnings integer NOT NULL DEFAULT 0 CHECK (warnings >= 0);
ALTER TABLE pipeline.block_attempts ADD COLUMN note text;
COMMENT ON COLUMN pipeline.block_attempts.note IS 'what followed a failed attempt: "retried in N s", "not retried: permanent", "no retries left"';
COMMENT ON COLUMN pipeline.block_runs.worker_pid IS 'backend that ran (or runs) the block''s latest attempt';
COMMENT ON COLUMN pipeline.block_runs.status IS 'pending, running, succeeded, failed, skipped, upstream_failed or cancelled';
COMMENT ON COLUMN pipeline.block_runs.output_relation IS 'relation holding the block''s output (a staging table or view, or an exporter''s target), as text for people; cleared when staging is dropped';
COMMENT ON COLUMN pipeline.block_runs.output_oid IS 'the staging relation holding the output, by OID (see pipeline.staging)';
COMMENT ON COLUMN pipeline.block_runs.warnings IS 'tests with severity: warn that failed in the latest attempt (each is a warning line of run_log)';

COMMENT ON COLUMN pipeline.pipeline_versions.spec IS 'the validated pipeline as canonical JSON, shared blocks resolved and pinned (their "pin" is the hash they had): what its runs execute';

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

-- 0.1 kept failed runs' staging in pipeline_staging, named in block_runs.output_relation (a
-- column its owner could rewrite). Record, by OID, only what is really there and really the
-- run owner's, so retention drops exactly those.
INSERT INTO pipeline.staging (relid, run_id, block_name, owner, relkind, created_at)
SELECT c.oid, b.run_id, b.block_name, r.owner, c.relkind, coalesce(b.finished_at, r.created_at)
  FROM pipeline.block_runs b
  JOIN pipeline.runs r USING (run_id)
  JOIN pg_catalog.pg_class c ON c.oid = to_regclass(b.output_relation)
 WHERE b.output_relation LIKE 'pipeline_staging.%'
   AND c.relnamespace = 'pipeline_staging'::regnamespace AND c.relkind IN ('r', 'v')
   AND c.relowner = r.owner::oid
ON CONFLICT (relid) DO NOTHING;
UPDATE pipeline.block_runs b SET output_oid = s.relid
  FROM pipeline.staging s WHERE s.run_id = b.run_id AND s.block_name = b.block_name;

-- Connection profiles leave pipeline.projects, which every pipeline user reads, for a table
-- only the project's owner reads; 0.1's projects.io_config becomes its rows.
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
INSERT INTO pipeline.profiles (project, profile, settings, owner)
SELECT p.name, e.key, e.value, p.owner
  FROM pipeline.projects p, jsonb_each(p.io_config) AS e
 WHERE jsonb_typeof(e.value) = 'object' AND e.key ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$';
ALTER TABLE pipeline.projects DROP COLUMN io_config;

-- Versions pin the shared blocks they use, at the definition they have now (a 0.1 spec already
-- holds the definition resolved at registration; runs execute that).
UPDATE pipeline.pipeline_versions v
   SET spec = jsonb_set(v.spec, '{blocks}', (
     SELECT jsonb_agg(CASE WHEN (b ->> 'shared')::boolean AND sb.hash IS NOT NULL
                           THEN b || jsonb_build_object('pin', sb.hash) ELSE b END ORDER BY ord)
       FROM jsonb_array_elements(v.spec -> 'blocks') WITH ORDINALITY AS e (b, ord)
       LEFT JOIN pipeline.blocks sb ON sb.project = p.project AND sb.pipeline_id IS NULL
                                   AND sb.name = b ->> 'name'))
  FROM pipeline.pipelines p
 WHERE p.pipeline_id = v.pipeline_id AND jsonb_typeof(v.spec -> 'blocks') = 'array';

-------------------------------------------------------------------------------------------------
-- Functions: those that write become C functions that act as the calling role
-------------------------------------------------------------------------------------------------

DROP FUNCTION pipeline.import_project(text, text);
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

CREATE OR REPLACE FUNCTION pipeline.create_project(name text)
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_create_project';
COMMENT ON FUNCTION pipeline.create_project(text) IS 'create an empty project owned by the calling role';

CREATE OR REPLACE FUNCTION pipeline.validate(yaml text)
RETURNS jsonb LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'pipeline_validate';

CREATE OR REPLACE FUNCTION pipeline.drop_pipeline(name text, project text DEFAULT 'default')
RETURNS boolean LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_drop_pipeline';
COMMENT ON FUNCTION pipeline.drop_pipeline(text, text) IS
  'drop a pipeline with its versions, local blocks, schedule, run history and staging; false when there was none';

CREATE OR REPLACE FUNCTION pipeline.trigger(name text, variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_trigger';

CREATE OR REPLACE FUNCTION pipeline.wait(run_id bigint, timeout interval DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION pipeline.retry(run_id bigint) RETURNS bigint LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_retry';
COMMENT ON FUNCTION pipeline.retry(bigint) IS
  'queue a new run of a failed or cancelled run: its succeeded blocks keep their output; failed and never-run blocks, and the blocks after them, run again';

CREATE OR REPLACE FUNCTION pipeline.backfill(name text, start timestamptz, stop timestamptz, step interval,
    variables jsonb DEFAULT '{}', project text DEFAULT 'default')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_backfill';

DROP FUNCTION pipeline.schedule(text, text, jsonb, text);
CREATE FUNCTION pipeline.schedule(name text, cron text, variables jsonb DEFAULT '{}', project text DEFAULT 'default',
    catch_up text DEFAULT 'none')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_schedule';
COMMENT ON FUNCTION pipeline.schedule(text, text, jsonb, text, text) IS
  'run a pipeline on a cron schedule: a pg_cron job named pipeline:<project>.<name>, run as the calling role, that only triggers (rescheduling replaces it; catch_up says what happens to firings missed while the server was down); returns the job id';

CREATE OR REPLACE FUNCTION pipeline.unschedule(name text, project text DEFAULT 'default')
RETURNS boolean LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pipeline_unschedule';

CREATE FUNCTION pipeline._fire_schedule(schedule_id bigint)
RETURNS bigint LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pipeline_fire_schedule';
COMMENT ON FUNCTION pipeline._fire_schedule(bigint) IS
  'what a schedule''s pg_cron job runs: queue the run of the interval from the previous firing to this one (its owner only)';

CREATE OR REPLACE FUNCTION pipeline.set_secret(name text, value text) RETURNS void LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_set_secret';
COMMENT ON FUNCTION pipeline.set_secret(text, text) IS 'store (or replace) a secret of the calling role';

CREATE FUNCTION pipeline.drop_secret(name text) RETURNS boolean LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'pipeline_drop_secret';
COMMENT ON FUNCTION pipeline.drop_secret(text) IS 'remove a secret of the calling role; false when it had none';

CREATE OR REPLACE FUNCTION pipeline.secret(name text) RETURNS text LANGUAGE plpgsql STABLE STRICT
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

COMMENT ON FUNCTION pipeline._boundary_selftest(text) IS 'exercises both directions of the C++/Postgres boundary (tests; superusers only)';

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pipeline_python') THEN
    CREATE ROLE pipeline_python NOLOGIN;
  END IF;
END
$$;
GRANT pipeline_user TO pipeline_python;
COMMENT ON ROLE pipeline_python IS 'may also register and run pipelines with Python blocks, whose code runs as the server''s operating-system user: grant it only to roles trusted that far';

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

CREATE FUNCTION pipeline._on_drop_extension() RETURNS event_trigger LANGUAGE c
  AS 'MODULE_PATHNAME', 'pipeline_on_drop_extension';
COMMENT ON FUNCTION pipeline._on_drop_extension() IS
  'before DROP EXTENSION pg_pipeline: removes its pg_cron jobs, its staging and the roles'' staging schemas';

-- Schedules made by 0.1 are pg_cron jobs whose command calls _scheduled_trigger: they become
-- rows of pipeline.schedules, and their jobs fire _fire_schedule instead.
DO $$
DECLARE
  j record;
  sid bigint;
BEGIN
  IF to_regclass('cron.job') IS NULL THEN
    RETURN;
  END IF;
  FOR j IN EXECUTE $q$
      SELECT j.jobid, j.schedule, j.username, p.pipeline_id,
             coalesce(replace(substring(j.command FROM $r$'((?:[^']|'')*)'::jsonb$r$), '''''', ''''), '{}')::jsonb AS variables
        FROM cron.job j
        JOIN pipeline.pipelines p ON j.jobname = 'pipeline:' || p.project || '.' || p.name
       WHERE j.database = current_database() AND j.command LIKE '%pipeline._scheduled_trigger(%'$q$
  LOOP
    INSERT INTO pipeline.schedules (pipeline_id, cron, variables, owner, jobid)
    VALUES (j.pipeline_id, j.schedule, j.variables, j.username::regrole, j.jobid)
    ON CONFLICT (pipeline_id) DO NOTHING
    RETURNING schedule_id INTO sid;
    IF sid IS NOT NULL THEN
      EXECUTE 'SELECT cron.alter_job($1, command => $2)'
        USING j.jobid, format('SELECT pipeline._fire_schedule(%s)', sid);
    END IF;
  END LOOP;
END
$$;

DROP FUNCTION pipeline._scheduled_trigger(text, text, text, jsonb);
DROP FUNCTION pipeline._enqueue(text, text, jsonb, text, timestamptz, timestamptz, bigint);
DROP FUNCTION pipeline._owner_of(text, text);
DROP FUNCTION pipeline._wake_launcher();

-------------------------------------------------------------------------------------------------
-- Security: read-only row-level security; no direct writes for anyone but the owner
-------------------------------------------------------------------------------------------------

DROP POLICY read_projects ON pipeline.projects;
DROP POLICY create_projects ON pipeline.projects;
DROP POLICY change_projects ON pipeline.projects;
DROP POLICY own_pipelines ON pipeline.pipelines;
DROP POLICY own_versions ON pipeline.pipeline_versions;
DROP POLICY read_blocks ON pipeline.blocks;
DROP POLICY write_blocks ON pipeline.blocks;
DROP POLICY own_runs ON pipeline.runs;
DROP POLICY own_block_runs ON pipeline.block_runs;
DROP POLICY own_run_log ON pipeline.run_log;
DROP POLICY own_block_attempts ON pipeline.block_attempts;
DROP POLICY own_secrets ON pipeline.secrets;

ALTER TABLE pipeline.schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.staging_schemas ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.staging ENABLE ROW LEVEL SECURITY;

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
CREATE POLICY read_secrets ON pipeline.secrets FOR SELECT USING (owner = current_user::regrole);
CREATE POLICY read_profiles ON pipeline.profiles FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY read_schedules ON pipeline.schedules FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY read_staging_schemas ON pipeline.staging_schemas FOR SELECT USING (pg_has_role(role, 'USAGE'));
CREATE POLICY read_staging ON pipeline.staging FOR SELECT USING (pg_has_role(owner, 'USAGE'));

-- (a load split across workers: its workers' COPY rows carry the leader's pid in param13, and
-- their rows add up under it; the leader's own row has the bytes)
CREATE OR REPLACE VIEW pipeline.progress WITH (security_invoker = true) AS
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

REVOKE ALL ON ALL TABLES IN SCHEMA pipeline FROM PUBLIC, pipeline_user;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pipeline FROM PUBLIC, pipeline_user;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pipeline FROM PUBLIC, pipeline_user;
REVOKE ALL ON SCHEMA pipeline_staging FROM PUBLIC, pipeline_user;
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
-- Python blocks now, when PL/Python is already in the database (pipeline._python_block joins the
-- extension, executable by pipeline_python only).
SELECT pipeline.enable_python() FROM pg_catalog.pg_extension WHERE extname = 'plpython3u';

-------------------------------------------------------------------------------------------------
-- pg_dump, and what DROP EXTENSION must clean up first
-------------------------------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('pipeline.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.profiles', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pipeline.schedules', 'schedule_id'), '');

CREATE EVENT TRIGGER pipeline_drop_extension ON ddl_command_start
  WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
  EXECUTE FUNCTION pipeline._on_drop_extension();
