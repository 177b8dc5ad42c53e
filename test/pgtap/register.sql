-- pipeline.register behaviour: versions, idempotence, Mage spellings, the taxi example.
BEGIN;
SELECT plan(16);

SELECT is(pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1 as x}\n'), 'p',
  'register returns the pipeline name');
SELECT is(pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1 as x}\n'), 'p',
  'registering the same text again is accepted');
SELECT is((SELECT count(*)::int FROM pipeline.pipeline_versions), 1, '... and makes no new version');
SELECT pipeline.register(E'name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 2 as x}\n');
SELECT is((SELECT max(version) FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'p'), 2, 'a changed file becomes version 2');
SELECT is((SELECT yaml ~ 'select 1' FROM pipeline.pipeline_versions WHERE version = 1), true, 'version 1 is kept as it was');
SELECT is((SELECT definition ->> 'sql' FROM pipeline.blocks WHERE name = 'a'), 'select 2 as x',
  'local blocks mirror the current version');

-- Mage spellings
SELECT pipeline.register($$
uuid: mage_names
blocks:
  - uuid: load
    name: Load it
    type: data_loader
    language: sql
    sql: select 1 as n
    downstream_blocks: [shape]
    upstream_blocks: []
    retry_config: {retries: 2, delay: 3}
  - uuid: shape
    type: transformer
    sql: select * from {{ load }}
    upstream_blocks: [load]
    executor_type: local_python
    color: null
$$);
SELECT is((SELECT spec -> 'blocks' -> 1 -> 'upstream' FROM pipeline.pipeline_versions v
             JOIN pipeline.pipelines p USING (pipeline_id) WHERE p.name = 'mage_names'),
  '["load"]'::jsonb, 'upstream_blocks is read as upstream');
SELECT is((SELECT spec -> 'blocks' -> 0 -> 'retry' FROM pipeline.pipeline_versions v
             JOIN pipeline.pipelines p USING (pipeline_id) WHERE p.name = 'mage_names'),
  '{"delay": 3, "retries": 2, "max_delay": 0, "exponential_backoff": false}'::jsonb, 'retry_config is read as retry');

SELECT is(
  (SELECT jsonb_object_agg(c ->> 'name', c ->> 'type')
     FROM jsonb_array_elements(pipeline.validate($$
name: dtypes
blocks:
  - name: load
    type: data_loader
    source:
      url: http://127.0.0.1/x.csv
      columns: {a: Int64, b: int32, c: float64, d: str, e: object, f: bool, g: "datetime64[ns]", h: "numeric(12,2)", i: date}
$$) -> 'blocks' -> 0 -> 'source' -> 'columns') AS c),
  '{"a": "bigint", "b": "integer", "c": "double precision", "d": "text", "e": "text", "f": "boolean", "g": "timestamp", "h": "numeric(12,2)", "i": "date"}'::jsonb,
  'pandas dtype names map to Postgres types; Postgres names pass through');

-- The taxi example
SELECT lives_ok($$SELECT pipeline.register(pg_read_file('/dev/null') || $y$
name: api_to_postgres
variables: {year: 2021, month: 1}
blocks:
  - name: load_api_data
    type: data_loader
    source:
      url: "https://example.invalid/yellow_tripdata_{{ year }}-{{ lpad(month::text, 2, '0') }}.csv.gz"
      columns: {VendorID: Int64, passenger_count: Int64}
      parse_dates: [tpep_pickup_datetime, tpep_dropoff_datetime]
  - name: transform_taxi_data
    type: transformer
    upstream: [load_api_data]
    sql: SELECT * FROM {{ load_api_data }} WHERE passenger_count > 0
    tests:
      - assert: SELECT count(*) = 0 FROM {{ self }} WHERE passenger_count = 0
        message: There are rides with zero passengers
  - name: export_taxi_data
    type: data_exporter
    upstream: [transform_taxi_data]
    target: {schema: ny_taxi, table: yellow_taxi_data, if_exists: replace}
$y$)$$, 'the DESIGN.md taxi pipeline registers');
SELECT is((SELECT spec -> 'blocks' -> 0 -> 'source' -> 'parse_dates'
             FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'api_to_postgres'),
  '["tpep_pickup_datetime", "tpep_dropoff_datetime"]'::jsonb, 'parse_dates are kept');
SELECT is((SELECT spec -> 'blocks' -> 1 -> 'tests' -> 0 ->> 'message'
             FROM pipeline.pipeline_versions JOIN pipeline.pipelines USING (pipeline_id) WHERE name = 'api_to_postgres'),
  'There are rides with zero passengers', 'tests keep their message');

SELECT throws_ok($$SELECT pipeline.register(E'name: p2\nblocks:\n  - {name: a, type: data_loader, sql: x}\n  - {name: a, type: data_loader, sql: y}\n')$$,
  '42710', 'duplicate block name "a" in pipeline "p2" at line 4, column 5', 'duplicate blocks are refused');
SELECT throws_ok($$SELECT pipeline.register(E'name: p3\nblocks:\n  - {name: a, type: data_loaderr, sql: x}\n')$$,
  '22023', 'unknown block type "data_loaderr" in block "a" at line 3, column 21', 'unknown types are refused');
SELECT is((SELECT count(*)::int FROM pipeline.pipelines WHERE name IN ('p2', 'p3')), 0, 'a refused file stores nothing');
SELECT throws_ok($$SELECT pipeline.dag('p', 'svg')$$, '22023', 'unknown DAG format "svg"', 'dag names a bad format');

SELECT * FROM finish();
ROLLBACK;
