-- pipeline.register: storing, versioning, validation errors through SQL, shared blocks and
-- who sees what. (pg_regress runs from the repository root, so files are read from there.)
-- Each test file starts from a fresh catalog.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; hnt text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END;
END $$;

\set taxi `cat examples/nyc_taxi.yaml`
SELECT pipeline.register(:'taxi');
SELECT project, name, description FROM pipeline.pipelines;
SELECT name, type, pipeline_id IS NOT NULL AS local FROM pipeline.blocks ORDER BY block_id;
SELECT jsonb_pretty(spec -> 'blocks' -> 0 -> 'source' -> 'columns' -> 0) AS first_column,
       spec -> 'blocks' -> 0 -> 'source' -> 'columns' -> 16 ->> 'type' AS parsed_date_type,
       spec -> 'blocks' -> 1 -> 'upstream' AS transformer_upstream,
       spec -> 'blocks' -> 0 -> 'downstream' AS loader_downstream,
       spec -> 'variables' AS variables
  FROM pipeline.pipeline_versions;

-- The same file again keeps the version; a changed file makes version 2 and keeps version 1.
SELECT pipeline.register(:'taxi');
SELECT pipeline.register(replace(:'taxi', 'Load a month', 'Load one month'));
SELECT version, spec ->> 'description' AS description FROM pipeline.pipeline_versions ORDER BY version;
SELECT description FROM pipeline.pipelines;

-- Errors name what is wrong and where.
SELECT pg_temp.error_of(format('SELECT pipeline.register(%L)', E'name: p\nblocks:\n  - name: a\n    type: data_loader\n   sql: select 1\n'));
SELECT pg_temp.error_of(format('SELECT pipeline.register(%L)', E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1, upstrem: [b]}\n'));
SELECT pg_temp.error_of(format('SELECT pipeline.register(%L)', E'name: p\nblocks:\n  - {name: a, type: transformer, sql: select 1, upstream: [c]}\n  - {name: b, type: transformer, sql: select 1, upstream: [a]}\n  - {name: c, type: transformer, sql: select 1, upstream: [b]}\n'));
-- a type only the server can judge
SELECT pg_temp.error_of(format('SELECT pipeline.register(%L)', replace(:'taxi', 'VendorID: Int64', 'VendorID: integr')));
SELECT pg_temp.error_of(format('SELECT pipeline.register(%L)', replace(:'taxi', 'VendorID: Int64', 'VendorID: "numeric(10"')));
SELECT pg_temp.error_of(format('SELECT pipeline.register(%L, %L)', :'taxi', 'nowhere'));
SELECT pipeline.register(NULL) IS NULL AS strict_null;

-- variables keep JSON types; a leading zero is still the number
SELECT pipeline.validate(E'name: v\nvariables: {month: 01, year: 2021, label: "01", ratio: .5}\nblocks:\n  - {name: one, type: data_loader, sql: select 1}\n') -> 'variables';

-- pipeline.validate stores nothing and returns the canonical JSON.
SELECT pipeline.validate(E'name: tiny\nblocks:\n  - {name: one, type: data_loader, sql: select 1}\n');
SELECT count(*) AS pipelines_named_tiny FROM pipeline.pipelines WHERE name = 'tiny';

-- Shared blocks: defined once in a project, used by several pipelines; a change shows everywhere.
SELECT pipeline.create_project('shop');
SELECT pipeline.register(E'name: orders\nblocks:\n  - {name: today, type: data_loader, shared: true, sql: select 1 as n}\n  - {name: total, type: transformer, upstream: [today], sql: "select sum(n) from {{ today }}"}\n', 'shop');
SELECT pipeline.register(E'name: refunds\nblocks:\n  - {name: today, shared: true}\n  - {name: refunds, type: transformer, upstream: [today], sql: "select * from {{ today }}"}\n', 'shop');
SELECT name, type, pipeline_id IS NULL AS shared FROM pipeline.blocks WHERE project = 'shop' ORDER BY name, shared;
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: bad_ref\nblocks:\n  - {name: yesterday, shared: true}\n', 'shop')$$);

-- Roles see only their own pipelines and runs.
CREATE ROLE regress_alice LOGIN IN ROLE pipeline_user;
CREATE ROLE regress_bob LOGIN IN ROLE pipeline_user;
CREATE ROLE regress_eve LOGIN;
SET ROLE regress_alice;
SELECT pipeline.register(E'name: alice_private\nblocks:\n  - {name: one, type: data_loader, sql: select 1}\n');
SELECT name, owner FROM pipeline.pipelines ORDER BY name;
SET ROLE regress_bob;
SELECT name, owner FROM pipeline.pipelines ORDER BY name;
SELECT count(*) AS versions_bob_sees FROM pipeline.pipeline_versions;
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: alice_private\nblocks:\n  - {name: one, type: data_loader, sql: select 2}\n')$$);
SELECT pipeline.register(E'name: bob_private\nblocks:\n  - {name: one, type: data_loader, sql: select 1}\n');
-- bob can neither give his rows to alice nor write rows in her name
SELECT pg_temp.error_of($$UPDATE pipeline.pipelines SET owner = 'regress_alice' WHERE name = 'bob_private'$$);
SELECT pg_temp.error_of($$INSERT INTO pipeline.runs (pipeline_id, version, owner) SELECT pipeline_id, 1, 'regress_alice' FROM pipeline.pipelines WHERE name = 'bob_private'$$);
SELECT pg_temp.error_of($$UPDATE pipeline.pipelines SET description = 'mine now' WHERE name = 'alice_private'$$);
SELECT description FROM pipeline.pipelines WHERE name = 'alice_private';
-- bob may use alice's shared blocks but not redefine them; he can make projects of his own
SET ROLE regress_alice;
SELECT pipeline.register(E'name: alice_shared\nblocks:\n  - {name: alice_block, type: data_loader, shared: true, sql: select 1 as n}\n', 'shop');
SET ROLE regress_bob;
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: bob_override\nblocks:\n  - {name: alice_block, type: data_loader, shared: true, sql: select 666 as n}\n', 'shop')$$);
SELECT pipeline.register(E'name: bob_uses\nblocks:\n  - {name: alice_block, shared: true}\n  - {name: t, type: transformer, upstream: [alice_block], sql: "select * from {{ alice_block }}"}\n', 'shop');
SELECT pipeline.create_project('bobs_project');
SELECT name, owner FROM pipeline.projects ORDER BY name;
SELECT pg_temp.error_of($$UPDATE pipeline.projects SET source_dir = '/tmp/stolen' WHERE name = 'shop'$$);
SELECT source_dir FROM pipeline.projects WHERE name = 'shop';
SET ROLE regress_eve;
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: eve\nblocks:\n  - {name: one, type: data_loader, sql: select 1}\n')$$);
SELECT pg_temp.error_of($$SELECT * FROM pipeline.pipelines$$);
RESET ROLE;
SELECT name, owner FROM pipeline.pipelines ORDER BY name;

-- Dropping a pipeline removes its versions and local blocks.
SELECT pipeline.drop_pipeline('alice_private');
SELECT pipeline.drop_pipeline('alice_private');
SELECT pipeline.drop_pipeline('bob_private');
SELECT pipeline.drop_pipeline('bob_uses', 'shop'), pipeline.drop_pipeline('alice_shared', 'shop');
DELETE FROM pipeline.blocks WHERE owner IN ('regress_alice'::regrole, 'regress_bob'::regrole);
DELETE FROM pipeline.projects WHERE name = 'bobs_project';
DROP ROLE regress_alice, regress_bob, regress_eve;

-- pipeline.env_var: the server's environment, for superusers and pg_read_server_files only.
SELECT pipeline.env_var('PATH') IS NOT NULL AS path_is_set;
SELECT pg_temp.error_of($$SELECT pipeline.env_var('PGPIPE_SURELY_NOT_SET')$$);
CREATE ROLE regress_env IN ROLE pipeline_user;
SET ROLE regress_env;
SELECT pg_temp.error_of($$SELECT pipeline.env_var('PATH')$$);
RESET ROLE;
DROP ROLE regress_env;
