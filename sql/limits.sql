-- Bounded input: what one file, one download or one answer may cost, and retries only where a
-- retry can help. Each refusal names its cause and, for files, where it is.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' AS base \gset
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; dtl text; hnt text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, dtl = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  RETURN regexp_replace(regexp_replace(st || ': ' || msg || CASE WHEN dtl <> '' THEN E'\n  detail: ' || dtl ELSE '' END
      || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END,
      '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g'), '(run|runs|r)([ _]?)[0-9]+', '\1\2N', 'g');
END $$;
CREATE ROLE limits_user LOGIN IN ROLE pipeline_user;

-- 1. A 488-byte alias bomb is refused at once (it used to take 45 s and 5 GB), under a timeout
--    that would stop it anyway.
SET statement_timeout = '5s';
SELECT pg_temp.error_of($$SELECT pipeline.validate($y$
name: bomb
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
blocks: [*h]
$y$)$$);
RESET statement_timeout;
-- validate is STABLE, not IMMUTABLE (it reads the GUC below)
SELECT provolatile FROM pg_proc WHERE oid = 'pipeline.validate(text)'::regprocedure;

-- 2. The file size is the administrator's: pipeline.max_pipeline_size, superuser-set.
SET pipeline.max_pipeline_size = 1;
SELECT pg_temp.error_of($$SELECT pipeline.validate('name: p' || repeat(E'\n# padding', 200) || E'\nblocks: [{name: a, type: data_loader, sql: select 1}]')$$);
RESET pipeline.max_pipeline_size;
SET ROLE limits_user;
SELECT pg_temp.error_of($$SET pipeline.max_pipeline_size = 100000$$);
SELECT pg_temp.error_of($$SET pipeline.max_decompressed_size = 0$$);
RESET ROLE;

-- 3. Refused at register, at the place of the cause.
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1}\n---\nname: q\n')$$);
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: p\nblocks:\n  - name: a\n    type: data_loader\n    source: {url: "file:///etc/passwd"}\n')$$);
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1}\n  - {name: b, type: data_exporter, upstream: [a], target: {schema: pg_catalog, table: t}}\n')$$);
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: p\nblocks:\n  - {name: self, type: data_loader, sql: select 1}\n')$$);
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1}\n  - {name: b, type: transformer, upstream: [a], upstream_blocks: [a], sql: select 1}\n')$$);
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1}\n  - {name: b, type: transformer, upstream: [a, nope], sql: select 1}\n')$$);
SELECT pg_temp.error_of($$SELECT pipeline.register(E'name: p\nblocks:\n\t- {name: a, type: data_loader, sql: select 1}\n')$$);

-- 4. Downloads: decompressed bytes are capped (a 48 kB gzip of 50 MB of CSV), as soon as they
--    pass the cap; a load's own cap may only lower the administrator's.
CREATE TABLE bomb (a int, b int);
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv('%s/files/bomb.csv.gz', 'bomb', '{"max_decompressed_bytes": 1000000}')$$, :'base'));
SET pipeline.max_decompressed_size = 2;
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv('%s/files/bomb.csv.gz', 'bomb', '{"max_decompressed_bytes": 100000000}')$$, :'base'));
RESET pipeline.max_decompressed_size;
SELECT count(*) AS rows_kept FROM bomb;
-- an answer without a file, oversized headers, bytes after the end of the gzip stream
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv('%s/status/204', 'loaded', '{"create": true}')$$, :'base'));
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv('%s/big-headers/100/small.csv', 'loaded', '{"create": true}')$$, :'base'));
SELECT regexp_replace(pg_temp.error_of(format($$SELECT pipeline.load_csv('%s/files/trailing.csv.gz', 'loaded', '{"create": true}')$$, :'base')), 'offset [0-9]+', 'offset N');

-- 5. Retries only where a retry can help: a 404 fails at once (one attempt, "not retried:
--    permanent"), two 500s then the file succeed on the third attempt, and a 503's Retry-After
--    is waited for although the policy says no delay.
SELECT pipeline.register(format($$
name: retried
variables: {path: files/small.csv}
blocks:
  - name: load
    type: data_loader
    source: {url: "%s/{{ path }}"}
    retry: {retries: 3}
$$, :'base'));
SELECT pg_temp.error_of($$SELECT pipeline.run('retried', '{"path": "status/404"}')$$);
SELECT attempt, status, note FROM pipeline.block_attempts WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY attempt;
SELECT pipeline.run('retried', jsonb_build_object('path', 'flaky/' || md5(clock_timestamp()::text) || '/2/small.csv')) > 0 AS ran;
SELECT attempt, status, note FROM pipeline.block_attempts WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) ORDER BY attempt;
SELECT pipeline.run('retried', jsonb_build_object('path', 'retry-after/' || md5(clock_timestamp()::text) || '/1/1/small.csv')) > 0 AS ran;
SELECT count(*) AS attempts,
       (SELECT started_at FROM pipeline.block_attempts WHERE run_id = a.run_id AND attempt = 2)
     - (SELECT finished_at FROM pipeline.block_attempts WHERE run_id = a.run_id AND attempt = 1) >= interval '0.9 s' AS waited_for_retry_after
  FROM pipeline.block_attempts a WHERE run_id = (SELECT max(run_id) FROM pipeline.runs) GROUP BY run_id;
-- ... and pipeline.load_csv takes the same retries, each failed attempt a NOTICE (load_csv
-- attempt 1 failed: HTTP 500 ...; retrying in 0.1 s (attempt 2 of 3): not shown here, since the
-- URL's key differs each time); the test server counts the three requests
SELECT md5(clock_timestamp()::text) AS key \gset
SET client_min_messages = warning;
SELECT pipeline.load_csv(format('%s/flaky/%s/2/small.csv', :'base', :'key'), 'retried_load',
                         '{"create": true, "retries": 2, "retry_delay": "100ms"}') AS rows_loaded;
RESET client_min_messages;
SELECT pipeline.load_csv(format('%s/counter/%s', :'base', :'key'), 'requests',
                         '{"create": true, "header": false, "columns": {"n": "Int64"}}') AS counted;
SELECT n AS requests_made FROM requests;
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv('%s/status/404', 'never', '{"create": true, "retries": 5}')$$, :'base'));

DROP ROLE limits_user;
