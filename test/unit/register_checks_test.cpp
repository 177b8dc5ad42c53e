// What register refuses beyond syntax: reserved target schemas, URL schemes written in the file,
// block names a template would misread, and two spellings of one key.
#include <gtest/gtest.h>

#include "catch_error.hpp"
#include "core/names.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/url.hpp"

namespace pgpipe::core {
namespace {

const char* kLoad = "  - {name: load, type: data_loader, sql: select 1 as x}\n";

// The message of the Error parsing and validating `yaml` throws.
std::string Refusal(const std::string& yaml) {
  return CatchError([&] { ParsePipelineYaml(yaml); }).message();
}

TEST(ReservedSchemas, SystemAndOwnSchemasWhateverTheCase) {
  for (const char* schema : {"pg_catalog", "pg_toast", "pg_toast_temp_3", "pg_temp", "pg_temp_12",
                             "PG_Catalog", "information_schema", "pipeline", "Pipeline",
                             "pipeline_staging"})
    EXPECT_NE(ReservedSchemaProblem(schema), "") << schema;
  for (const char* schema : {"public", "pgsql", "pipelines", "staging", "analytics", "pg"})
    EXPECT_EQ(ReservedSchemaProblem(schema), "") << schema;
  Error e = CatchError([&] {
    ParsePipelineYaml(std::string("name: p\nblocks:\n") + kLoad +
                      "  - {name: e, type: data_exporter, upstream: [load], target: "
                      "{schema: pg_temp_3, table: t}}\n");
  });
  EXPECT_EQ(e.sqlstate(), "42939");
  EXPECT_EQ(e.detail(), "Schemas named pg_* and information_schema belong to PostgreSQL.");
}

TEST(UrlSchemes, OnlyWhenTheFileWritesThemOut) {
  EXPECT_EQ(LiteralUrlScheme("https://x.org/a.csv"), std::optional<std::string>("https"));
  EXPECT_EQ(LiteralUrlScheme("FILE:///etc/passwd"), std::optional<std::string>("file"));
  EXPECT_EQ(LiteralUrlScheme("x.org/a.csv"), std::optional<std::string>(""));
  EXPECT_EQ(LiteralUrlScheme("{{ base_url }}/a.csv"), std::nullopt);
  EXPECT_EQ(LiteralUrlScheme("http{{ s }}://x.org/a.csv"), std::nullopt);
  EXPECT_EQ(LiteralUrlScheme("https://{{ host }}/a.csv"), std::optional<std::string>("https"));

  auto loader = [](const std::string& url) {
    return "name: p\nblocks:\n  - {name: load, type: data_loader, source: {url: \"" + url + "\"}}\n";
  };
  EXPECT_NO_THROW(ParsePipelineYaml(loader("https://x.org/{{ year }}.csv")));
  EXPECT_NO_THROW(ParsePipelineYaml(
      "name: p\nvariables: {base: \"https://x.org\"}\nblocks:\n"
      "  - {name: load, type: data_loader, source: {url: \"{{ base }}/a.csv\"}}\n"));
  EXPECT_EQ(Refusal(loader("gopher://127.0.0.1:70/x")),
            "unsupported URL scheme \"gopher\" in url of block \"load\" at line 3, column 51");
  EXPECT_EQ(Refusal(loader("x.org/a.csv")), "url of block \"load\" has no scheme at line 3, column 51");
  EXPECT_EQ(Refusal("name: p\nblocks:\n  - {name: s, type: sensor, url: \"ftp://x.org/ready\"}\n"),
            "unsupported URL scheme \"ftp\" in url of block \"s\" at line 3, column 34");
}

TEST(BlockNames, NoneThatATemplateReadsOtherwise) {
  for (const char* name : {"self", "run_id", "pipeline", "execution_date", "interval_start",
                           "interval_end"}) {
    Error e = CatchError([&] {
      ParsePipelineYaml(std::string("name: p\nblocks:\n  - {name: ") + name +
                        ", type: data_loader, sql: select 1}\n");
    });
    EXPECT_EQ(e.sqlstate(), "42939") << name;
    EXPECT_EQ(std::string(e.message()),
              std::string("block name \"") + name + "\" is reserved in templates at line 3, column 12");
  }
  // A shared block's reference is a block name too.
  EXPECT_EQ(Refusal("name: p\nvariables: {year: 2021}\nblocks:\n  - {name: year, shared: true}\n"),
            "block \"year\" has the name of a variable of pipeline \"p\" at line 4, column 12");
}

TEST(KeySpellings, UpstreamOrUpstreamBlocksNotBoth) {
  std::string yaml = std::string("name: p\nblocks:\n") + kLoad +
                     "  - {name: t, type: transformer, upstream: [load], upstream_blocks: [], "
                     "sql: select 1}\n";
  Error e = CatchError([&] { ParsePipelineYaml(yaml); });
  EXPECT_EQ(e.sqlstate(), "22023");
  EXPECT_EQ(std::string(e.message()),
            "block \"t\" has both upstream and upstream_blocks at line 4, column 69");
  PipelineSpec spec = ParsePipelineYaml(std::string("uuid: p\nblocks:\n") + kLoad +
                                        "  - {uuid: t, type: transformer, upstream_blocks: [load], "
                                        "sql: select 1}\n");
  EXPECT_EQ(spec.blocks[1].upstream, std::vector<std::string>{"load"});
}

}  // namespace
}  // namespace pgpipe::core
