-- pipeline.dag draws the registered graph as Mermaid or Graphviz DOT.
-- Each test file starts from a fresh catalog.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
\set taxi `cat examples/nyc_taxi.yaml`
SELECT pipeline.register(:'taxi');
SELECT pipeline.dag('api_to_postgres');
SELECT pipeline.dag('api_to_postgres', 'dot');
SELECT pipeline.register(E'name: diamond\nblocks:\n  - {name: d, type: data_exporter, upstream: [b, c], sql: "select * from {{ b }} join {{ c }} using (n)", target: {table: d}}\n  - {name: b, type: transformer, upstream: [a], sql: "select * from {{ a }}"}\n  - {name: c, type: conditional, upstream: [a], sql: "select true"}\n  - {name: a, type: sensor, sql: select true}\n');
SELECT pipeline.dag('diamond');
SELECT pipeline.dag('api_to_postgres', 'png');
SELECT pipeline.dag('no_such_pipeline');
