// Mage metadata.yaml files become pg_pipeline files: SQL exporters keep their write policy and,
// for upserts, their unique constraints and conflict method.
#include <gtest/gtest.h>

#include "core/mage_project.hpp"
#include "core/pipeline_yaml.hpp"

using namespace pgpipe::core;

namespace {

PipelineSpec Convert(const std::string& configuration) {
  std::string metadata = R"(
name: upserting
blocks:
- uuid: rows
  type: data_loader
  language: sql
  content: SELECT 1 AS id
  sql: SELECT 1 AS id
- uuid: publish
  type: data_exporter
  language: sql
  upstream_blocks: [rows]
  sql: SELECT * FROM {{ df_1 }}
  configuration: )" + configuration + "\n";
  return ParsePipelineYaml(MageMetadataToPipelineYaml(metadata, "/nonexistent", "metadata.yaml"));
}

}  // namespace

TEST(MageProject, AnExporterWithUniqueConstraintsUpserts) {
  PipelineSpec spec = Convert(
      "{data_provider_schema: s, data_provider_table: t, export_write_policy: append, "
      "unique_constraints: [id], unique_conflict_method: UPDATE}");
  const TargetSpec& t = *spec.FindBlock("publish")->target;
  EXPECT_EQ(t.schema, "s");
  EXPECT_EQ(t.if_exists, "upsert");
  EXPECT_EQ(t.unique_key, std::vector<std::string>{"id"});
  EXPECT_EQ(t.on_conflict, "update");
}

TEST(MageProject, IgnoreKeepsTheRowsThere) {
  PipelineSpec spec = Convert(
      "{data_provider_table: t, export_write_policy: append, unique_constraints: [id], "
      "unique_conflict_method: IGNORE}");
  EXPECT_EQ(spec.FindBlock("publish")->target->on_conflict, "nothing");
}

TEST(MageProject, WithoutConstraintsTheWritePolicyStands) {
  PipelineSpec spec = Convert("{data_provider_table: t, export_write_policy: append, unique_constraints: []}");
  const TargetSpec& t = *spec.FindBlock("publish")->target;
  EXPECT_EQ(t.if_exists, "append");
  EXPECT_TRUE(t.unique_key.empty());
}
