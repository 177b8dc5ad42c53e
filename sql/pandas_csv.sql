-- A loader reading a file as pandas' read_csv does (what compiled Mage loaders ask for):
-- na_values (fields read as NULL, quoted or not, in every column) and optional_columns
-- (declared columns a file may lack). test/fixtures/pandas_csv/README says what each file holds.
\getenv http_port PGPIPE_HTTP_PORT
SELECT 'http://127.0.0.1:' || :'http_port' || '/files/pandas' AS files \gset
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; hnt text; ctx text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT,
                          ctx = PG_EXCEPTION_CONTEXT;
  RETURN st || ': ' || msg || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END ||
         coalesce(E'\n  ' || substring(ctx from 'COPY [^\n]*'), '');
END $$;
\set na '["", "#N/A", "N/A", "NA", "NULL", "NaN", "-NaN", "nan", "null", "n/a", "<NA>"]'
\set types '{"id": "Int64", "name": "str", "fare": "float64", "flag": "bool", "note": "str"}'

-- 1. NA strings become NULL in every column, quoted or not; N"A, None and a multi-line field
--    ending in NA are values.
SELECT pipeline.load_csv(:'files' || '/na.csv', 'na_rows',
  format('{"create": true, "columns": %s, "na_values": %s}', :'types', :'na')::jsonb);
SELECT id, name, fare, flag, replace(note, E'\n', '\n') AS note FROM na_rows ORDER BY id;
-- without na_values, COPY itself: "NA" is text, N/A fails a number
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv(%L, 'plain_rows', %L)$$,
  :'files' || '/na.csv', format('{"create": true, "columns": %s}', :'types')));

-- 2. A bad row after NA rows keeps its own line number.
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv(%L, 'bad_rows', %L)$$,
  :'files' || '/na_bad.csv', format('{"create": true, "columns": %s, "na_values": %s}', :'types', :'na')));

-- 3. What na_values cannot be: with null set, holding the delimiter, in an encoding that hides
--    ASCII bytes in its characters.
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv(%L, 'x', '{"create": true, "null": "\\N", "na_values": ["NA"]}')$$,
  :'files' || '/na.csv'));
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv(%L, 'x', '{"create": true, "na_values": ["a,b"]}')$$,
  :'files' || '/na.csv'));
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv(%L, 'x', '{"create": true, "encoding": "SJIS", "na_values": ["NA"]}')$$,
  :'files' || '/na.csv'));

-- 4. optional_columns: a declared column the file lacks is left out of the new table; present,
--    it is loaded with its type; a header column nobody declared fails the load by name; an
--    optional column must be declared.
\set opt '"columns": {"id": "Int64", "fare": "float64", "ehail_fee": "float64"}, "optional_columns": ["fare", "ehail_fee"], "na_values": ["NA"]'
SELECT pipeline.load_csv(:'files' || '/optional.csv', 'without_fee', format('{"create": true, %s}', :'opt')::jsonb);
SELECT pipeline.load_csv(:'files' || '/optional_present.csv', 'with_fee', format('{"create": true, %s}', :'opt')::jsonb);
SELECT attrelid::regclass AS "table", string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS columns
  FROM pg_attribute WHERE attrelid IN ('without_fee'::regclass, 'with_fee'::regclass) AND attnum > 0 GROUP BY 1 ORDER BY 1;
SELECT * FROM with_fee ORDER BY id;
-- a second file without the optional column loads into the table that has it (NULL there)
SELECT pipeline.load_csv(:'files' || '/optional.csv', 'with_fee', format('{%s}', :'opt')::jsonb);
SELECT count(*) AS rows, count(ehail_fee) AS with_fee FROM with_fee;
SELECT pg_temp.error_of(format($$SELECT pipeline.load_csv(%L, 'x', %L)$$,
  :'files' || '/undeclared.csv', format('{"create": true, %s}', :'opt')));
SELECT pg_temp.error_of($$SELECT pipeline.load_csv('http://127.0.0.1/x.csv', 'x',
  '{"columns": {"id": "Int64"}, "optional_columns": ["tip"]}')$$);

-- 5. In a pipeline: a fused chain (one COPY) reads NA as NULL before the transformer's filter;
--    a loader with na_values is not split across load workers.
SELECT pipeline.register(format($$
name: pandas_fares
blocks:
  - name: load
    type: data_loader
    source:
      url: %s/na.csv
      parallel: 2
      columns: %s
      na_values: %s
  - name: priced
    type: transformer
    upstream: [load]
    sql: SELECT * FROM {{ load }} WHERE fare IS NOT NULL
  - name: export
    type: data_exporter
    upstream: [priced]
    target: {schema: public, table: priced_rides}
$$, :'files', :'types', :'na'));
SELECT pipeline.run('pandas_fares') AS run_id \gset
SELECT status FROM pipeline.runs WHERE run_id = :run_id;
SELECT id, fare FROM priced_rides ORDER BY id;
SELECT block_name, regexp_replace(message, '[0-9.]+ (s|MB)', 'N \1', 'g') AS message
  FROM pipeline.run_log WHERE run_id = :run_id ORDER BY log_id;
