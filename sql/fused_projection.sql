-- Projection fusion: a transformer that computes or renames columns ("SELECT *, a * 2 AS b FROM
-- {{ loader }} WHERE ...", "SELECT a AS x, ...") runs with its loader and exporter as one load
-- straight into the exporter's new table, each computed column a stored generated column while
-- COPY fills it, made plain afterwards: no staging table, no second write. Proven equal to the
-- unfused run (pipeline.fuse_blocks off: staging, a view, CREATE TABLE AS): the same rows, an
-- exact checksum, the same column names and types in the same order; with one COPY and split
-- across 3 load workers. Shapes that cannot be a generated column run unfused.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' || '/files/chunky' AS files \gset
CREATE FUNCTION pg_temp.checksum(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(x::text, ''|'' ORDER BY x::text)), '''') FROM %s x', t) INTO r;
  RETURN r;
END $$;
-- The published table's columns as a user sees them: names and types in order.
CREATE FUNCTION pg_temp.columns_of(t regclass) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
    FROM pg_attribute WHERE attrelid = t AND attnum > 0 AND NOT attisdropped
$$;
-- Whether the latest run was fused (its loader's log line says so).
CREATE FUNCTION pg_temp.last_fused() RETURNS boolean LANGUAGE sql AS $$
  SELECT EXISTS (SELECT FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs)
                  AND message LIKE '%written straight into%')
$$;
CREATE FUNCTION pg_temp.register(name text, sql text, workers int, base text) RETURNS text LANGUAGE sql AS $f$
  SELECT pipeline.register(format($y$
name: %1$s
blocks:
  - name: load
    type: data_loader
    source:
      url: "%4$s/quoted.csv"
      columns: {id: bigint, note: text, amount: float64, at: timestamp}
      parallel: %3$s
  - {name: shape, type: transformer, upstream: [load], sql: %2$s}
  - {name: export, type: data_exporter, upstream: [shape], target: {schema: proj, table: %1$s}}
$y$, name, to_json(sql)::text, workers, base))
$f$;
CREATE TABLE outcomes (shape text, run text, fused boolean, checksum text, columns text);
ALTER ROLE CURRENT_USER SET pipeline.load_chunk_size = '8kB';

-- Each shape: registered three times (its runs then execute in order below).
CREATE TABLE shapes (shape text PRIMARY KEY, sql text);
INSERT INTO shapes VALUES
  ('derived', 'SELECT *, amount * 2 AS double_amount, upper(note) AS loud, date_trunc(''day'', at) AS day, amount::numeric(10,2) AS money, id % 3 = 0 AS third FROM {{ load }} WHERE id % 7 <> 0'),
  ('renamed', 'SELECT id AS ride, note AS remark, amount AS fare, at AS pickup FROM {{ load }}'),
  ('swapped', 'SELECT amount AS id, id AS amount, note, at FROM {{ load }} WHERE amount > 100'),
  ('subset', 'SELECT at, id, round(amount) AS whole FROM {{ load }}'),
  ('passthrough', 'SELECT * FROM {{ load }}'),
  ('twice', 'SELECT id, id AS id_again, note || ''!'' AS shout, amount, at FROM {{ load }} WHERE note LIKE ''n%''');
SELECT pg_temp.register(shape || '_' || kind, sql, CASE kind WHEN 'split' THEN 3 ELSE 1 END, :'files')
  FROM shapes, unnest(ARRAY['unfused', 'one_copy', 'split']) AS kind ORDER BY shape, kind;

-- (fusion off for the unfused runs: a role setting, which run workers apply)
ALTER ROLE CURRENT_USER SET pipeline.fuse_blocks = off;
SELECT pipeline.run(shape || '_unfused') > 0 AS ran FROM shapes ORDER BY shape;
ALTER ROLE CURRENT_USER RESET pipeline.fuse_blocks;
INSERT INTO outcomes SELECT shape, 'unfused', NULL, pg_temp.checksum(format('proj.%I', shape || '_unfused')::regclass),
                            pg_temp.columns_of(format('proj.%I', shape || '_unfused')::regclass) FROM shapes;
CREATE FUNCTION pg_temp.run_fused() RETURNS void LANGUAGE plpgsql AS $$
DECLARE s record; kind text; t regclass;
BEGIN
  FOR s IN SELECT shape FROM shapes ORDER BY shape LOOP
    FOREACH kind IN ARRAY ARRAY['one_copy', 'split'] LOOP
      PERFORM pipeline.run(s.shape || '_' || kind);
      t := format('proj.%I', s.shape || '_' || kind)::regclass;
      INSERT INTO outcomes VALUES (s.shape, kind, pg_temp.last_fused(), pg_temp.checksum(t), pg_temp.columns_of(t));
    END LOOP;
  END LOOP;
END $$;
SELECT pg_temp.run_fused();
-- every shape: fused, with one COPY and split, equal to the unfused run in rows, checksum, columns
SELECT u.shape, f.run, f.fused, f.checksum = u.checksum AS same_rows, f.columns = u.columns AS same_columns,
       split_part(u.checksum, ':', 1) AS rows
  FROM outcomes u JOIN outcomes f USING (shape) WHERE u.run = 'unfused' AND f.run <> 'unfused' ORDER BY 1, 2;
SELECT shape, columns FROM outcomes WHERE run = 'unfused' ORDER BY shape;
-- the published tables carry no generated column; a file column the output leaves out is dropped
SELECT c.relname, count(*) FILTER (WHERE a.attgenerated <> '') AS generated, count(*) FILTER (WHERE a.attisdropped) AS dropped
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'proj'::regnamespace AND c.relname LIKE '%\_split' GROUP BY 1 ORDER BY 1;
SELECT block_name, regexp_replace(message, 'in [0-9.]+ s \([0-9.]+ MB downloaded, [0-9.]+ MB of CSV\)', 'in S s (SIZES)') AS message
  FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY log_id;

-- Not a generated column, so not fused (and the same rows as ever): a volatile or stable
-- function, an aggregate, a subquery, an explicit collation, a whole-row reference.
CREATE TABLE unfusable (shape text, sql text);
INSERT INTO unfusable VALUES
  ('volatile', 'SELECT *, random() < 2 AS always FROM {{ load }}'),
  ('stable', 'SELECT *, now() > at AS past FROM {{ load }}'),
  ('aggregate', 'SELECT count(*) AS n FROM {{ load }}'),
  ('subquery', 'SELECT *, (SELECT 1) AS one FROM {{ load }}'),
  ('collated', 'SELECT *, note COLLATE "C" AS c_note FROM {{ load }}'),
  ('whole_row', 'SELECT *, l::text AS line FROM {{ load }} l');
SELECT pg_temp.register(shape, sql, 1, :'files') FROM unfusable ORDER BY shape;
SELECT shape, pipeline.run(shape) > 0 AS ran, pg_temp.last_fused() AS fused FROM unfusable ORDER BY shape;

-- A computed column that fails on a row: the transformer's error (as unfused), with the file line.
SELECT pg_temp.register('failing', 'SELECT *, 1 / (id - 1500) AS boom FROM {{ load }}', 3, :'files');
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; ctx text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, ctx = PG_EXCEPTION_CONTEXT;
  RETURN st || ': ' || msg || ' / ' || coalesce(substring(ctx FROM 'line [0-9]+'), 'no line');
END $$;
SELECT pg_temp.error_of($$SELECT pipeline.run('failing')$$);
SELECT block_name, status FROM pipeline.block_runs WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY block_run_id;
SELECT to_regclass('proj.failing') IS NULL AS nothing_published;
ALTER ROLE CURRENT_USER RESET pipeline.load_chunk_size;
