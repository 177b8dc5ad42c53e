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
    retry: {retries: 2, delay: 1s, max_delay: 1m, exponential_backoff: true}
  - {name: shape, type: transformer, upstream: [load], materialize: table, sql: "SELECT * FROM {{ load }}", timeout: 30s,
     tests: [{assert: "SELECT true", message: fine}, {expression: "a > 0"}, {unique: [a]}]}
  - {name: gate, type: conditional, upstream: [shape], sql: "SELECT true"}
  - {name: out, type: data_exporter, upstream: [shape, gate], sql: "SELECT * FROM {{ shape }}", target: {schema: s, table: t, if_exists: append}}
  - {name: tell, type: callback, upstream: [out], on_success: "SELECT 1", on_failure: "SELECT 2"}
)yaml";

}  // namespace

TEST(SpecRead, EveryKeyRoundTrips) {
  PipelineSpec spec = ParsePipelineYaml(kEveryKey);
  spec.blocks[1].pin = "0123abcd";
  std::string json = SpecToJson(spec);
  EXPECT_EQ(SpecToJson(SpecFromJson(json)), json);
  EXPECT_EQ(SpecFromJson(json).blocks[1].pin, "0123abcd");
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
