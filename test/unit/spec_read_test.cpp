// The stored canonical spec reads back into the same spec: what a run executes is exactly what
// was registered.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "catch_error.hpp"
#include "core/error.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/spec_json.hpp"
#include "core/spec_read.hpp"

using namespace pgpipe::core;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kEveryKey = R"yaml(
name: every_key
description: all of it
tags: [a, b]
variables: {year: 2021, label: "01", ratio: 0.5, list: [1, x], on: true}
settings: {max_active_runs: 3, overlap: skip, timeout: 1h, webhook_url: "http://127.0.0.1/hook"}
blocks:
  - {name: ready, type: sensor, url: "http://127.0.0.1/ready", interval: 2s, timeout: 1m}
  - name: load
    type: data_loader
    upstream: [ready]
    source:
      url: "http://127.0.0.1/{{ year }}.csv"
      compression: gzip
      columns: {a: Int64, "b c": "numeric(10,2)"}
      parse_dates: [d]
      header: false
      delimiter: ";"
      quote: "'"
      escape: "\\"
      "null": NA
      encoding: LATIN1
      connect_timeout: 5s
      timeout: 10m
      max_bytes: 1000
      parallel: 3
    tests:
      - {row_count: {min: 1, max: 9}, name: some rows}
      - {not_null: [a], message: "a is set"}
      - {accepted_values: {column: a, values: [1, 2]}}
      - {not_null: [b c], severity: warn}
    retry: {retries: 2, delay: 1s, max_delay: 1m, exponential_backoff: true}
  - {name: shape, type: transformer, upstream: [load], materialize: table, sql: "SELECT * FROM {{ load }}", timeout: 30s,
     tests: [{assert: "SELECT true", message: fine}, {expression: "a > 0"}, {unique: [a]}]}
  - {name: gate, type: conditional, upstream: [shape], sql: "SELECT true", trigger_rule: none_failed}
  - {name: out, type: data_exporter, upstream: [shape, gate], sql: "SELECT * FROM {{ shape }}", target: {schema: s, table: t, if_exists: append}}
  - {name: keyed, type: data_exporter, upstream: [shape], target: {table: k, if_exists: append, unique_constraints: [a], unique_conflict_method: IGNORE}}
  - {name: tell, type: callback, upstream: [out], on_success: "SELECT 1", on_failure: "SELECT 2"}
)yaml";

}  // namespace

TEST(SpecRead, EveryKeyRoundTrips) {
  PipelineSpec spec = ParsePipelineYaml(kEveryKey);
  spec.blocks[1].pin = "0123abcd";
  std::string json = SpecToJson(spec);
  EXPECT_EQ(SpecToJson(SpecFromJson(json)), json);
  PipelineSpec read = SpecFromJson(json);
  EXPECT_EQ(read.blocks[1].pin, "0123abcd");
  EXPECT_EQ(read.blocks[1].tests[3].severity, "warn");
  EXPECT_EQ(read.blocks[3].trigger_rule, "none_failed");
  // Mage's append with unique constraints is an upsert that keeps the row already there
  EXPECT_EQ(read.blocks[5].target->if_exists, "upsert");
  EXPECT_EQ(read.blocks[5].target->unique_key, std::vector<std::string>{"a"});
  EXPECT_EQ(read.blocks[5].target->on_conflict, "nothing");
}

TEST(SpecRead, ParallelIsStoredOnlyWhenSet) {
  PipelineSpec spec = ParsePipelineYaml(kEveryKey);
  EXPECT_EQ(SpecFromJson(SpecToJson(spec)).blocks[1].source->parallel, 3);
  spec.blocks[1].source->parallel = 0;  // (unset: the GUC pipeline.load_workers decides)
  std::string json = SpecToJson(spec);
  EXPECT_EQ(json.find("\"parallel\""), std::string::npos);
  EXPECT_EQ(SpecFromJson(json).blocks[1].source->parallel, 0);
}

TEST(SpecRead, TheTaxiExampleRoundTrips) {
  PipelineSpec spec = ParsePipelineYaml(ReadFile(std::string(PGPIPE_SOURCE_DIR) + "/examples/nyc_taxi.yaml"));
  std::string json = SpecToJson(spec);
  EXPECT_EQ(SpecToJson(SpecFromJson(json)), json);
}

TEST(SpecRead, DamageIsNamed) {
  Error e = CatchError([] { SpecFromJson(R"({"name": "p", "blocks": [{"name": "a", "type": "explode"}]})"); });
  EXPECT_EQ(e.sqlstate(), "XX001");
  EXPECT_STREQ(e.message(), "the stored pipeline spec is damaged: blocks[0].type \"explode\" is not a block type");
  e = CatchError([] { SpecFromJson("[1, 2]"); });
  EXPECT_STREQ(e.message(), "the stored pipeline spec is damaged: the spec is not an object");
  e = CatchError([] { SpecFromJson(R"({"name": "p", "blocks": [{"name": "a", "type": "transformer", "retry": {"retries": "x"}}]})"); });
  EXPECT_STREQ(e.message(), "the stored pipeline spec is damaged: blocks[0].retry.retries is not a number");
}

TEST(SpecRead, CompiledMageBlocksRoundTrip) {
  PipelineSpec spec = ParsePipelineYaml(R"yaml(
name: compiled
blocks:
  - name: load
    type: data_loader
    compiled_from: data_loaders/load.py
    python: "import pandas as pd"
    source:
      urls: ["http://127.0.0.1/a.csv", "http://127.0.0.1/b.csv"]
      columns: {a: Int64}
      optional_columns: [a]
      na_values: ["", "NA", "NULL"]
  - name: shape
    type: transformer
    upstream: [load]
    sql: SELECT * FROM {{ load }}
    rename_columns: [{map: {a: b}}, {expression: "lower(name)"}]
    log: ["SELECT 'rows: ' || count(*) FROM {{ load }}"]
)yaml");
  std::string json = SpecToJson(spec);
  EXPECT_EQ(SpecToJson(SpecFromJson(json)), json);
  PipelineSpec read = SpecFromJson(json);
  EXPECT_EQ(read.blocks[0].source->url, "http://127.0.0.1/a.csv");
  EXPECT_EQ(read.blocks[0].source->urls.size(), 2u);
  EXPECT_EQ(read.blocks[0].source->na_values, (std::vector<std::string>{"", "NA", "NULL"}));
  EXPECT_EQ(read.blocks[0].compiled_from, "data_loaders/load.py");
  EXPECT_EQ(read.blocks[1].rename_columns_json, R"j([{"map":{"a":"b"}},{"expression":"lower(name)"}])j");
  EXPECT_EQ(read.blocks[1].log_queries.size(), 1u);
}

TEST(SpecRead, ARenameStepNeedsExactlyOneOfMapOrExpression) {
  Error e = CatchError([] {
    ParsePipelineYaml("name: p\nblocks:\n  - {name: a, type: data_loader, sql: select 1, rename_columns: [{}]}\n");
  });
  EXPECT_EQ(e.sqlstate(), "22023");
  EXPECT_NE(std::string(e.message()).find("exactly one of map (old: new names) or expression"), std::string::npos)
      << e.message();
}
