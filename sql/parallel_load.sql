-- Parallel ingest: a loader's load split across load workers (parallel: N). What is worth a
-- diff: the key's validation and its canonical JSON, the GUCs, rows and exact checksums equal to
-- the single COPY's on files whose records cross chunk boundaries (quoted line breaks, CRLF, a
-- header alone, one row), for a plain loader into staging and for a fused chain; a bad row in
-- the last chunk failing the block with the single COPY's message and file line, the target
-- untouched and nothing left in staging; the lowest line winning when two parts fail; and the
-- rule when a load is not split. (Cancel, kill -9 and progress: test/scripts/parallel_load.sh.)
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' || '/files/chunky' AS files \gset

-- The error of a statement, with what varies between runs made stable: run ids, the port, the
-- random part of relation names, and the relation COPY names (a staging table or a new one).
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; ctx text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, ctx = PG_EXCEPTION_CONTEXT;
  RETURN regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
      st || ': ' || msg || coalesce((SELECT string_agg(E'\n  context: ' || l, '' ORDER BY o)
                                       FROM regexp_split_to_table(ctx, E'\n') WITH ORDINALITY AS c (l, o)
                                      WHERE l !~ '^(PL/pgSQL|SQL statement)'), ''),
      'COPY [^,]+, line', 'COPY T, line', 'g'), '"pipeline_staging_[0-9a-f_]+"\."[^"]+"', 'STAGING', 'g'),
      '_pgp_new_[0-9a-f]{8}', '_pgp_new_X', 'g'),
      '(run|r)([ _]?)[0-9]+', '\1\2N', 'g'), '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g');
END $$;
CREATE FUNCTION pg_temp.checksum(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(x::text, ''|'' ORDER BY x::text)), '''') FROM %s x', t) INTO r;
  RETURN r;
END $$;
-- The log lines of the latest run, seconds and sizes masked.
CREATE TEMP VIEW last_log AS
  SELECT block_name, regexp_replace(message, 'in [0-9.]+ s \([0-9.]+ MB downloaded, [0-9.]+ MB of CSV\)', 'in S s (SIZES)') AS message
    FROM pipeline.run_log WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY log_id;

-- 1. The key: a whole number from 1 to 32, on a block's source only; stored only when set.
SELECT pg_temp.error_of($$SELECT pipeline.validate('name: p
blocks:
  - {name: l, type: data_loader, source: {url: "http://x/a.csv", parallel: 0}}')$$);
SELECT pg_temp.error_of($$SELECT pipeline.validate('name: p
blocks:
  - {name: l, type: data_loader, source: {url: "http://x/a.csv", parallel: 33}}')$$);
SELECT pg_temp.error_of($$SELECT pipeline.validate('name: p
blocks:
  - {name: l, type: data_loader, source: {url: "http://x/a.csv", parallel: two}}')$$);
SELECT pipeline.validate('name: p
blocks:
  - {name: l, type: data_loader, source: {url: "http://x/a.csv", parallel: 4}}') #> '{blocks,0,source,parallel}' AS stored;
SELECT pipeline.validate('name: p
blocks:
  - {name: l, type: data_loader, source: {url: "http://x/a.csv"}}') #> '{blocks,0,source}' ? 'parallel' AS stored_when_unset;
SELECT pg_temp.error_of($$SELECT pipeline.load_csv('http://x/a.csv', 'x', '{"parallel": 2}')$$);
SELECT name, setting, unit, context FROM pg_settings WHERE name IN ('pipeline.load_workers', 'pipeline.load_chunk_size') ORDER BY name;

-- 2. The same rows as the single COPY, exactly: each file loaded with parallel 1 and 3 (chunks
--    of 8 kB: a dozen or more per file), by a plain loader into staging published by an
--    exporter, and by a fused chain (its filter pushed into every part's COPY).
ALTER ROLE CURRENT_USER SET pipeline.load_chunk_size = '8kB';
CREATE FUNCTION pg_temp.register_shapes(n int, base text) RETURNS void LANGUAGE sql AS $f$
  SELECT pipeline.register(format($y$
name: plain_%1$s
variables: {file: quoted.csv}
blocks:
  - name: load
    type: data_loader
    source:
      url: "%2$s/{{ file }}"
      columns: {id: bigint, amount: float64, at: timestamp}
      parallel: %1$s
  - {name: export, type: data_exporter, upstream: [load], target: {schema: par, table: plain_%1$s}}
$y$, n, base));
  SELECT pipeline.register(format($y$
name: fused_%1$s
variables: {file: quoted.csv}
blocks:
  - name: load
    type: data_loader
    source:
      url: "%2$s/{{ file }}"
      columns: {id: bigint, amount: float64, at: timestamp}
      parallel: %1$s
  - {name: keep, type: transformer, upstream: [load], sql: "SELECT * FROM {{ load }} WHERE id %% 7 <> 0"}
  - {name: export, type: data_exporter, upstream: [keep], target: {schema: par, table: fused_%1$s}}
$y$, n, base));
$f$;
SELECT pg_temp.register_shapes(1, :'files'), pg_temp.register_shapes(3, :'files');
CREATE TABLE results (file text, shape text, workers int, outcome text);
CREATE FUNCTION pg_temp.load_both(file text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE shape text; n int; outcome text;
BEGIN
  FOREACH shape IN ARRAY ARRAY['plain', 'fused'] LOOP
    FOREACH n IN ARRAY ARRAY[1, 3] LOOP
      outcome := pg_temp.error_of(format($s$SELECT pipeline.run('%s_%s', '{"file": "%s"}')$s$, shape, n, file));
      IF outcome = 'no error' THEN
        outcome := pg_temp.checksum(format('par.%s_%s', shape, n)::regclass);
      END IF;
      INSERT INTO results VALUES (file, shape, n, outcome);
    END LOOP;
  END LOOP;
END $$;
SELECT pg_temp.load_both('quoted.csv');
SELECT * FROM last_log;
SELECT pg_temp.load_both('crlf.csv');
SELECT pg_temp.load_both('header_only.csv');
SELECT pg_temp.load_both('one_row.csv');
SELECT * FROM last_log;
-- every file, both shapes: the split load's outcome equals the single COPY's
SELECT r1.file, r1.shape, r1.outcome = r3.outcome AS same_as_one_copy, split_part(r1.outcome, ':', 1) AS rows
  FROM results r1 JOIN results r3 USING (file, shape) WHERE r1.workers = 1 AND r3.workers = 3 ORDER BY 1, 2;
SELECT outcome AS quoted_checksum FROM results WHERE file = 'quoted.csv' AND shape = 'plain' AND workers = 1 \gset

-- 3. A bad row in the last chunk: the block fails with the single COPY's message and file line;
--    the target keeps the rows it had; no staging is left, and no new table beside the target.
TRUNCATE results;
SELECT pg_temp.checksum('par.plain_3') AS plain_before, pg_temp.checksum('par.fused_3') AS fused_before \gset
SELECT pg_temp.load_both('bad_last.csv');
SELECT pg_temp.load_both('bad_crlf.csv');
SELECT file, shape, workers, outcome FROM results ORDER BY 1, 2, 3;
SELECT pg_temp.checksum('par.plain_3') = :'plain_before' AS plain_untouched,
       pg_temp.checksum('par.fused_3') = :'fused_before' AS fused_untouched;
SELECT count(*) AS staging_left FROM pipeline.staging;
SELECT count(*) AS relations_left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN (SELECT schema_oid::regnamespace::text FROM pipeline.staging_schemas) OR c.relname LIKE '%pgp_new%';
SELECT block_name, status, error FROM pipeline.block_runs WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY block_run_id;

-- 4. Two parts fail (records 700 and 1500, in different chunks): as a single COPY, the first bad
--    row in file order is reported (a failing part stops the others only past its line).
TRUNCATE results;
SELECT pg_temp.load_both('bad_two.csv');
SELECT file, shape, workers, outcome FROM results ORDER BY 1, 2, 3;

-- 5. When a load is not split: a source the chunker cannot cut exactly (here an encoding whose
--    multibyte characters may hold ASCII bytes) loads with one COPY, and says why.
SELECT pipeline.register(format($y$
name: unsplittable
blocks:
  - name: load
    type: data_loader
    source: {url: "%s/quoted.csv", encoding: SJIS, columns: {id: bigint, amount: float64, at: timestamp}, parallel: 2}
  - {name: export, type: data_exporter, upstream: [load], target: {schema: par, table: unsplittable}}
$y$, :'files'));
SELECT pg_temp.error_of($$SELECT pipeline.run('unsplittable')$$);
SELECT * FROM last_log;
SELECT pg_temp.checksum('par.unsplittable') = :'quoted_checksum' AS same_rows;
-- the GUC's default applies to a source that does not say parallel
SELECT pipeline.register(format($y$
name: by_default
blocks:
  - name: load
    type: data_loader
    source: {url: "%s/quoted.csv", columns: {id: bigint, amount: float64, at: timestamp}}
  - {name: export, type: data_exporter, upstream: [load], target: {schema: par, table: by_default}}
$y$, :'files'));
ALTER ROLE CURRENT_USER SET pipeline.load_workers = 2;
SELECT pipeline.run('by_default') > 0 AS ran;
SELECT * FROM last_log;
SELECT pg_temp.checksum('par.by_default') = :'quoted_checksum' AS same_rows;
ALTER ROLE CURRENT_USER RESET pipeline.load_workers;
ALTER ROLE CURRENT_USER RESET pipeline.load_chunk_size;
