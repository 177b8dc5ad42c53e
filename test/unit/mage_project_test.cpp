// Mage projects become pg_pipeline pipelines pipeline by pipeline: what runs here is imported
// (Python blocks as Python, SQL as SQL, exporters with their targets, odd uuids renamed
// consistently), what Mage never runs is skipped, what cannot run here is refused naming the
// place in the user's own file, and nothing is read outside the project folder.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.hpp"
#include "core/mage_project.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/validate.hpp"

using namespace pgpipe::core;

namespace {

// A project folder under /tmp, removed afterwards.
class TempProject {
 public:
  TempProject() {
    char pattern[] = "/tmp/pgpipe_mage_test_XXXXXX";
    dir_ = mkdtemp(pattern);
    std::filesystem::create_directories(dir_ + "/pipelines");
  }
  ~TempProject() { std::filesystem::remove_all(dir_); }
  // Writes `text` to `relative`, making its folders.
  void Write(const std::string& relative, const std::string& text) const {
    std::filesystem::path path = dir_ + "/" + relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// The environment of these tests.
std::optional<std::string> Env(const std::string& name) {
  static const std::map<std::string, std::string> env = {{"POSTGRES_DBNAME", "ny_taxi"}, {"POSTGRES_USER", "root"}};
  auto found = env.find(name);
  if (found == env.end()) return std::nullopt;
  return found->second;
}

// Pipeline `name` of the project, converted.
MagePipeline Convert(const TempProject& project, const std::string& name) {
  ProjectFolder folder(project.dir(), 1024 * 1024);
  return ConvertMagePipeline(folder, name, YamlLimits{});
}

// The row of block `block`.
ImportRow RowOf(const MagePipeline& p, const std::string& block) {
  for (const auto& row : p.block_rows)
    if (row.block == block) return row;
  ADD_FAILURE() << "no row for block " << block;
  return {};
}

// The validated spec of an importable pipeline.
PipelineSpec Validated(const MagePipeline& p) {
  EXPECT_TRUE(p.importable) << p.pipeline_row.reason;
  PipelineSpec spec = p.spec;
  ValidatePipeline(spec);
  return spec;
}

const char* kSqlExporter = R"(
blocks:
- uuid: rows
  type: data_loader
  language: sql
  content: SELECT 1 AS id
  sql: SELECT 1 AS id
  downstream_blocks: [publish]
- uuid: publish
  type: data_exporter
  language: sql
  upstream_blocks: [rows]
  sql: SELECT * FROM {{ df_1 }}
  configuration: CONFIG
)";

// A one-exporter pipeline whose exporter has this configuration.
PipelineSpec WithExporterConfig(const std::string& configuration) {
  TempProject project;
  std::string metadata = kSqlExporter;
  metadata.replace(metadata.find("CONFIG"), 6, configuration);
  project.Write("pipelines/upserting/metadata.yaml", metadata);
  return Validated(Convert(project, "upserting"));
}

}  // namespace

TEST(MageProject, AnExporterWithUniqueConstraintsUpserts) {
  PipelineSpec spec = WithExporterConfig(
      "{data_provider: postgres, data_provider_schema: s, data_provider_table: t, export_write_policy: append, "
      "unique_constraints: [id], unique_conflict_method: UPDATE}");
  const TargetSpec& t = *spec.FindBlock("publish")->target;
  EXPECT_EQ(t.schema, "s");
  EXPECT_EQ(t.if_exists, "upsert");
  EXPECT_EQ(t.unique_key, std::vector<std::string>{"id"});
  EXPECT_EQ(t.on_conflict, "update");
}

TEST(MageProject, IgnoreKeepsTheRowsThere) {
  PipelineSpec spec = WithExporterConfig(
      "{data_provider_table: t, export_write_policy: append, unique_constraints: [id], "
      "unique_conflict_method: IGNORE}");
  EXPECT_EQ(spec.FindBlock("publish")->target->on_conflict, "nothing");
}

TEST(MageProject, WithoutConstraintsTheWritePolicyStands) {
  PipelineSpec spec = WithExporterConfig("{data_provider_table: t, export_write_policy: append, unique_constraints: []}");
  const TargetSpec& t = *spec.FindBlock("publish")->target;
  EXPECT_EQ(t.if_exists, "append");
  EXPECT_TRUE(t.unique_key.empty());
}

TEST(MageProject, AnExporterToBigQueryIsRefusedNotTurnedIntoAPostgresExport) {
  TempProject project;
  std::string metadata = kSqlExporter;
  metadata.replace(metadata.find("CONFIG"), 6, "\n    data_provider: bigquery\n    data_provider_table: t");
  project.Write("pipelines/bq/metadata.yaml", metadata);
  MagePipeline p = Convert(project, "bq");
  EXPECT_FALSE(p.importable);
  EXPECT_EQ(p.pipeline_row.outcome, "refused");
  EXPECT_EQ(RowOf(p, "publish").outcome, "refused");
  EXPECT_EQ(RowOf(p, "publish").reason,
            "block \"publish\" runs its SQL in bigquery (configuration.data_provider at line 15, column 20 of "
            "pipelines/bq/metadata.yaml); pg_pipeline runs SQL in this PostgreSQL database and exports to it only");
  EXPECT_EQ(RowOf(p, "rows").reason, "not imported: pipeline \"bq\" is refused");
}

TEST(MageProject, BlocksWithoutLanguageArePythonUnlessTheirFileIsSql) {
  TempProject project;
  project.Write("data_loaders/load.py", "@data_loader\ndef load(*args, **kwargs):\n    return 1\n");
  project.Write("transformers/clean.sql", "SELECT * FROM {{ df_1 }}\n");
  project.Write("pipelines/mixed/metadata.yaml",
                "blocks:\n- {uuid: load, type: data_loader, upstream_blocks: []}\n"
                "- {uuid: clean, type: transformer, upstream_blocks: [load]}\n");
  MagePipeline p = Convert(project, "mixed");
  PipelineSpec spec = Validated(p);
  const BlockSpec& load = *spec.FindBlock("load");
  EXPECT_EQ(load.language, "python");
  EXPECT_EQ(load.file, "data_loaders/load.py");
  EXPECT_EQ(load.python, "@data_loader\ndef load(*args, **kwargs):\n    return 1\n");
  EXPECT_EQ(spec.FindBlock("clean")->language, "sql");
  EXPECT_EQ(spec.FindBlock("clean")->sql, "SELECT * FROM {{ load }}\n");
  EXPECT_TRUE(p.python);
  EXPECT_EQ(RowOf(p, "load").reason, "no language key: read as Python, as Mage does");
  EXPECT_EQ(RowOf(p, "clean").reason, "no language key: read as SQL (its file is .sql)");
  EXPECT_EQ(RowOf(p, "clean").language, "sql");
}

TEST(MageProject, AFileSourcePointingAtPythonIsPython) {
  TempProject project;
  project.Write("data_loaders/sub/load_rides.py", "print(1)\n");
  project.Write("pipelines/p/metadata.yaml",
                "blocks:\n- uuid: load\n  type: data_loader\n  configuration:\n    file_source:\n"
                "      path: " + std::filesystem::path(project.dir()).filename().string() + "/data_loaders/sub/load_rides.py\n");
  PipelineSpec spec = Validated(Convert(project, "p"));
  EXPECT_EQ(spec.FindBlock("load")->language, "python");
  EXPECT_EQ(spec.FindBlock("load")->file, "data_loaders/sub/load_rides.py");
  EXPECT_EQ(spec.FindBlock("load")->python, "print(1)\n");
}

TEST(MageProject, SaidSqlButItsFileIsPythonIsRefused) {
  TempProject project;
  project.Write("data_loaders/load.py", "print(1)\n");
  project.Write("pipelines/p/metadata.yaml",
                "blocks:\n- uuid: load\n  type: data_loader\n  language: sql\n  configuration: {file_path: data_loaders/load.py}\n");
  MagePipeline p = Convert(project, "p");
  EXPECT_EQ(RowOf(p, "load").reason,
            "block \"load\" is SQL (language at line 4, column 13 of pipelines/p/metadata.yaml), but its file "
            "data_loaders/load.py is Python");
}

TEST(MageProject, OddUuidsAreRenamedAndEveryReferenceFollows) {
  TempProject project;
  project.Write("data_loaders/taxi/load rides.sql", "SELECT 1 AS n\n");
  project.Write("transformers/2clean.sql", "SELECT * FROM {{ df_1 }} JOIN {{ block_output('taxi/load rides') }} USING (n)\n");
  project.Write("pipelines/odd/metadata.yaml",
                "uuid: odd-pipeline\nblocks:\n- {uuid: taxi/load rides, type: data_loader, downstream_blocks: [2clean]}\n"
                "- {uuid: 2clean, type: transformer, upstream_blocks: [taxi/load rides]}\n");
  MagePipeline p = Convert(project, "odd");
  PipelineSpec spec = Validated(p);
  EXPECT_EQ(p.name, "odd_pipeline");
  EXPECT_EQ(p.pipeline_row.reason, "Mage uuid \"odd-pipeline\" is not an identifier: named \"odd_pipeline\" here");
  const BlockSpec& clean = *spec.FindBlock("_2clean");
  EXPECT_EQ(clean.upstream, std::vector<std::string>{"taxi_load_rides"});
  EXPECT_EQ(clean.sql, "SELECT * FROM {{ taxi_load_rides }} JOIN {{ taxi_load_rides }} USING (n)\n");
  EXPECT_EQ(RowOf(p, "taxi_load_rides").reason,
            "Mage uuid \"taxi/load rides\" is not a usable name: named \"taxi_load_rides\" here; no language key: "
            "read as SQL (its file is .sql)");
}

TEST(MageProject, ChartsScratchpadsAndMarkdownAreSkippedAndUnlinked) {
  TempProject project;
  project.Write("transformers/t.sql", "SELECT 1 AS n\n");
  project.Write("pipelines/p/metadata.yaml", R"(blocks:
- {uuid: t, type: transformer, language: sql, downstream_blocks: [rides_chart, notes]}
- {uuid: notes, type: scratchpad, language: python, upstream_blocks: [t]}
- {uuid: intro, type: markdown, language: markdown}
widgets:
- {uuid: rides_chart, type: chart, language: python, upstream_blocks: [t]}
)");
  MagePipeline p = Convert(project, "p");
  PipelineSpec spec = Validated(p);
  EXPECT_EQ(spec.blocks.size(), 1u);
  EXPECT_TRUE(spec.blocks[0].downstream.empty());
  EXPECT_EQ(RowOf(p, "rides_chart").outcome, "skipped");
  EXPECT_EQ(RowOf(p, "rides_chart").kind, "chart");
  EXPECT_EQ(RowOf(p, "notes").reason, "a scratchpad: Mage never runs scratchpads");
  EXPECT_EQ(RowOf(p, "intro").outcome, "skipped");
  ASSERT_EQ(p.notices.size(), 1u);
  EXPECT_EQ(p.notices[0],
            "ignored chart \"rides_chart\" in downstream_blocks of block \"t\" (line 2, column 67 of "
            "pipelines/p/metadata.yaml): charts are Mage's UI, not part of a run");
}

TEST(MageProject, WhatCannotRunIsRefusedWithItsPlace) {
  TempProject project;
  project.Write("data_loaders/months.py", "print(1)\n");
  project.Write("pipelines/dyn/metadata.yaml",
                "blocks:\n- uuid: months\n  type: data_loader\n  language: python\n  configuration:\n    dynamic: true\n");
  project.Write("pipelines/stream/metadata.yaml", "type: streaming\nblocks:\n- {uuid: months, type: data_loader, language: python}\n");
  project.Write("pipelines/rlang/metadata.yaml", "blocks:\n- {uuid: months, type: data_loader, language: r}\n");
  project.Write("pipelines/dbt/metadata.yaml", "blocks:\n- {uuid: model, type: dbt, language: sql}\n");
  EXPECT_EQ(Convert(project, "dyn").pipeline_row.reason,
            "block \"months\" is dynamic (configuration.dynamic at line 6, column 14 of pipelines/dyn/metadata.yaml): "
            "Mage runs its downstream blocks once per item of its output, and pg_pipeline has no dynamic blocks");
  MagePipeline stream = Convert(project, "stream");
  EXPECT_EQ(stream.pipeline_row.reason,
            "pipeline type \"streaming\" (line 1, column 7 of pipelines/stream/metadata.yaml): Mage streams it from "
            "Kafka, Kinesis and the like and it never ends; pg_pipeline runs batch pipelines");
  EXPECT_EQ(RowOf(stream, "months").reason, "not imported: pipeline \"stream\" is refused");
  EXPECT_EQ(Convert(project, "rlang").pipeline_row.reason,
            "block \"months\" is written in R (language at line 2, column 47 of pipelines/rlang/metadata.yaml): "
            "pg_pipeline runs SQL and Python blocks");
  EXPECT_EQ(RowOf(Convert(project, "dbt"), "model").outcome, "refused");
}

TEST(MageProject, APythonBlockUsingAMageModuleWeDoNotProvideIsRefusedAtItsLine) {
  TempProject project;
  project.Write("data_exporters/to_gcs.py",
                "import pandas as pd\nfrom mage_ai.io.config import ConfigFileLoader\n"
                "from mage_ai.io.google_cloud_storage import GoogleCloudStorage\n");
  project.Write("data_exporters/ok.py", "from mage_ai.io import config, postgres\nimport mage_ai.settings.repo\n");
  project.Write("pipelines/gcs/metadata.yaml", "blocks:\n- {uuid: to_gcs, type: data_exporter, language: python}\n");
  project.Write("pipelines/ok/metadata.yaml", "blocks:\n- {uuid: ok, type: data_exporter, language: python}\n");
  EXPECT_EQ(Convert(project, "gcs").pipeline_row.reason,
            "block \"to_gcs\" imports mage_ai.io.google_cloud_storage (at line 3, column 6 of "
            "data_exporters/to_gcs.py), which pg_pipeline's mage_ai does not provide: its Python blocks load from "
            "and export to PostgreSQL (mage_ai.io.postgres) only");
  EXPECT_TRUE(Convert(project, "ok").importable);
}

TEST(MageProject, ASourceLoaderAndATargetExporterNeedNoFiles) {
  TempProject project;
  project.Write("transformers/keep.sql", "SELECT * FROM {{ df_1 }} WHERE passenger_count > 0\n");
  project.Write("pipelines/fused/metadata.yaml", R"(blocks:
- uuid: load
  type: data_loader
  source: {url: "http://127.0.0.1/x.csv", columns: {passenger_count: Int64}}
- uuid: keep
  type: transformer
  language: sql
  upstream_blocks: [load]
- uuid: publish
  type: data_exporter
  language: sql
  upstream_blocks: [keep]
  configuration: {data_provider: postgres, data_provider_schema: s, data_provider_table: t}
)");
  PipelineSpec spec = Validated(Convert(project, "fused"));
  EXPECT_TRUE(spec.FindBlock("load")->source.has_value());
  EXPECT_TRUE(spec.FindBlock("publish")->sql.empty());
  EXPECT_EQ(spec.FindBlock("publish")->target->table, "t");
}

TEST(MageProject, AMissingFileIsNamed) {
  TempProject project;
  project.Write("pipelines/p/metadata.yaml", "blocks:\n- {uuid: load, type: data_loader, language: python}\n");
  EXPECT_EQ(Convert(project, "p").pipeline_row.reason,
            "block \"load\" has no file: data_loaders/load.py does not exist in the project folder");
}

TEST(MageProject, FilesOutsideTheFolderAreNeverRead) {
  TempProject project;
  project.Write("pipelines/up/metadata.yaml",
                "blocks:\n- uuid: load\n  type: data_loader\n  configuration: {file_path: ../../etc/passwd}\n");
  project.Write("pipelines/abs/metadata.yaml",
                "blocks:\n- uuid: load\n  type: data_loader\n  configuration: {file_source: {path: /etc/passwd}}\n");
  project.Write("pipelines/uuid/metadata.yaml", "blocks:\n- {uuid: ../../../etc/passwd, type: data_loader, language: sql}\n");
  ASSERT_EQ(symlink("/etc/passwd", (project.dir() + "/passwd.py").c_str()), 0);
  project.Write("pipelines/link/metadata.yaml",
                "blocks:\n- uuid: load\n  type: data_loader\n  configuration: {file_path: passwd.py}\n");
  project.Write("data_loaders/big.py", std::string(2048, '#'));
  project.Write("pipelines/big/metadata.yaml", "blocks:\n- {uuid: big, type: data_loader, language: python}\n");
  EXPECT_EQ(Convert(project, "up").pipeline_row.reason,
            "block \"load\" names its file \"../../etc/passwd\" (configuration.file_path at line 4, column 30 of "
            "pipelines/up/metadata.yaml), which is not inside the project folder: it goes up out of the folder with \"..\"");
  EXPECT_EQ(Convert(project, "abs").pipeline_row.reason,
            "block \"load\" names its file \"/etc/passwd\" (configuration.file_source.path at line 4, column 39 of "
            "pipelines/abs/metadata.yaml), which is not inside the project folder: it is an absolute path");
  EXPECT_EQ(Convert(project, "uuid").pipeline_row.reason,
            "block \"../../../etc/passwd\"'s file \"data_loaders/../../../etc/passwd.sql\" is not inside the "
            "project folder: it goes up out of the folder with \"..\"");
  EXPECT_EQ(Convert(project, "link").pipeline_row.reason,
            "block \"load\": \"passwd.py\" is or goes through a symbolic link, which the import does not follow");
  ProjectFolder small(project.dir(), 1024);
  EXPECT_EQ(ConvertMagePipeline(small, "big", YamlLimits{}).pipeline_row.reason,
            "block \"big\": \"data_loaders/big.py\" is 2048 bytes, more than the limit of 1024 bytes");
}

TEST(MageProject, APipelineIsBoundedAsAPipelineFileIsHoweverManyBlocksShareAFile) {
  TempProject project;
  project.Write("data_loaders/big.py", std::string(600, '#'));
  std::string metadata = "blocks:\n";
  for (int i = 0; i < 3; ++i)
    metadata += "- {uuid: b" + std::to_string(i) + ", type: data_loader, language: python, configuration: {file_path: data_loaders/big.py}}\n";
  project.Write("pipelines/p/metadata.yaml", metadata);
  ProjectFolder folder(project.dir(), 1024);
  MagePipeline p = ConvertMagePipeline(folder, "p", YamlLimits{});
  EXPECT_EQ(p.pipeline_row.reason,
            "block \"b1\"'s file data_loaders/big.py (600 bytes) takes its pipeline over the limit of 1024 bytes for "
            "metadata.yaml and the block files together (pipeline.max_pipeline_size); and 1 more (see the block rows)");
}

TEST(MageProject, ValidationErrorsNameTheUsersFilesLinesAndColumns) {
  TempProject project;
  project.Write("transformers/t.sql", "SELECT 1 AS n\nUNION ALL SELECT n FROM {{ other\n");
  project.Write("pipelines/bad_link/metadata.yaml",
                "blocks:\n- {uuid: t, type: transformer, language: sql, upstream_blocks: [lod]}\n");
  project.Write("pipelines/bad_sql/metadata.yaml", "blocks:\n- {uuid: t, type: transformer, language: sql}\n");
  EXPECT_EQ(Convert(project, "bad_link").pipeline_row.reason,
            "block \"t\" names unknown upstream block \"lod\" at line 2, column 65 of pipelines/bad_link/metadata.yaml");
  std::string reason = Convert(project, "bad_sql").pipeline_row.reason;
  EXPECT_EQ(reason, "unterminated \"{{\" in sql of block \"t\" at line 2, column 25 of transformers/t.sql");
}

TEST(MageProject, AnEmptyPipelineFolderIsSkipped) {
  TempProject project;
  std::filesystem::create_directories(project.dir() + "/pipelines/nothing");
  MagePipeline p = Convert(project, "nothing");
  EXPECT_EQ(p.pipeline_row.outcome, "skipped");
  EXPECT_EQ(p.pipeline_row.reason,
            "pipelines/nothing has no metadata.yaml, so there is no pipeline to import");
}

TEST(MageProject, TheWholeProjectReportsProfilesAndTriggers) {
  TempProject project;
  project.Write("io_config.yaml", "version: 0.1.1\ndev:\n  POSTGRES_DBNAME: {{ env_var('POSTGRES_DBNAME') }}\n"
                                  "  POSTGRES_PASSWORD: {{ env_var('POSTGRES_PASSWORD') }}\n"
                                  "  POSTGRES_PORT: \"{{ env_var('POSTGRES_PORT', '5432') }}\"\n");
  project.Write("transformers/t.sql", "SELECT 1 AS n\n");
  project.Write("pipelines/p/metadata.yaml", "blocks:\n- {uuid: t, type: transformer, language: sql}\n");
  project.Write("pipelines/p/triggers.yaml",
                "triggers:\n- {name: daily, schedule_type: time, schedule_interval: '0 6 * * *', status: active}\n"
                "- {name: nightly, schedule_type: time, schedule_interval: '@daily', status: active, variables: {n: 1}}\n"
                "- {name: by_api, schedule_type: api, status: active}\n");
  std::filesystem::create_directories(project.dir() + "/pipelines/empty");
  MageProject mage = ReadMageProject(project.dir() + "/", YamlLimits{}, Env);
  ASSERT_EQ(mage.profiles.size(), 1u);
  EXPECT_EQ(mage.profiles[0].settings_json,
            "{\"POSTGRES_DBNAME\":\"ny_taxi\",\"POSTGRES_PASSWORD\":\"PG_PIPELINE_UNSET_ENV_VAR__POSTGRES_PASSWORD__\","
            "\"POSTGRES_PORT\":\"5432\"}");
  ASSERT_EQ(mage.profile_rows.size(), 1u);
  EXPECT_EQ(mage.profile_rows[0].reason,
            "environment variables not set in the server: POSTGRES_PASSWORD (a block that reads one of these settings "
            "fails naming it)");
  ASSERT_EQ(mage.pipelines.size(), 2u);
  EXPECT_EQ(mage.pipelines[0].pipeline_row.outcome, "skipped");
  const MagePipeline& p = mage.pipelines[1];
  ASSERT_EQ(p.schedules.size(), 2u);
  EXPECT_EQ(ScheduleNotAsked(p.name, p.schedules[0]).reason, "schedule '0 6 * * *' not imported: pass schedules => true");
  EXPECT_EQ(p.schedules[1].cron, "0 0 * * *");
  EXPECT_EQ(p.schedules[1].variables_json, "{\"n\":1}");
  ASSERT_EQ(p.trigger_rows.size(), 1u);
  EXPECT_EQ(p.trigger_rows[0].outcome, "skipped");
  EXPECT_EQ(p.trigger_rows[0].reason,
            "an API trigger: call pipeline.trigger('p') instead (line 4, column 3 of pipelines/p/triggers.yaml)");
}

TEST(MageProject, NotAProjectAtAll) {
  EXPECT_THROW(ReadMageProject("/nonexistent/project", YamlLimits{}, Env), Error);
  TempProject project;
  std::filesystem::remove_all(project.dir() + "/pipelines");
  try {
    ReadMageProject(project.dir(), YamlLimits{}, Env);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.message()).find("is not a Mage project: it has no pipelines folder"), std::string::npos);
  }
}

TEST(MageSql, RewritesKeepTheFilesLinesAndColumns) {
  TextPosition at;
  std::string sql = RewriteMageSql("SELECT *\n  FROM {{ df_1 }} WHERE {{ variables('n') }} > x\n", {"load_rides"},
                                   {}, "t", "transformers/t.sql", &at);
  EXPECT_EQ(sql, "SELECT *\n  FROM {{ load_rides }} WHERE {{ n }} > x\n");
  size_t where = sql.find("WHERE");
  EXPECT_EQ(at.At(where).ToString(), "line 2, column 19 of transformers/t.sql");
  EXPECT_EQ(at.At(sql.find("FROM")).ToString(), "line 2, column 3 of transformers/t.sql");
  try {
    RewriteMageSql("SELECT 1\nFROM {{ df_2 }}", {"a"}, {}, "t", "transformers/t.sql", &at);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.message(), "block \"t\" reads {{ df_2 }} at line 2, column 6 of transformers/t.sql but has 1 upstream blocks");
  }
}

TEST(MageSql, Identifiers) {
  EXPECT_EQ(MageIdentifier("load/taxi"), "load_taxi");
  EXPECT_EQ(MageIdentifier("2021 rides"), "_2021_rides");
  EXPECT_EQ(MageIdentifier("café"), "caf__");
  EXPECT_EQ(MageIdentifier(std::string(80, 'a')).size(), 63u);
}
