// Offsets inside a scalar's text map to the file's line and column for every scalar style, and
// template errors in a pipeline point there.
#include "core/scalar_position.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "catch_error.hpp"
#include "core/pipeline_yaml.hpp"

namespace pgpipe::core {
namespace {

// Where the first `needle` inside the value of `key` is, in the file `yaml`.
std::string Where(const std::string& yaml, const char* key, const std::string& needle) {
  YAML::Node root = YAML::Load(yaml);
  TextPosition where = LocateScalar(yaml, root[key]);
  size_t offset = root[key].Scalar().find(needle);
  EXPECT_NE(offset, std::string::npos) << needle;
  return where.At(offset).ToString();
}

TEST(LocateScalar, PlainOnOneLineAndFolded) {
  EXPECT_EQ(Where("sql: select {{ x }}\n", "sql", "{{"), "line 1, column 13");
  EXPECT_EQ(Where("a: 1\nsql: select *\n  from t\n   where {{ x }}\n", "sql", "{{"),
            "line 4, column 10");
  EXPECT_EQ(Where("{a: 1, sql: \"select {{ x }}\"}\n", "sql", "{{"), "line 1, column 21");
}

TEST(LocateScalar, Quoted) {
  EXPECT_EQ(Where("sql: \"select {{ x }}\"\n", "sql", "{{"), "line 1, column 14");
  EXPECT_EQ(Where("sql: 'it''s {{ x }}'\n", "sql", "{{"), "line 1, column 13");
  EXPECT_EQ(Where("sql: \"select\n  *\n  from {{ x }}\"\n", "sql", "{{"), "line 3, column 8");
  // After an escape no column can be exact: the scalar's start is reported.
  EXPECT_EQ(Where("sql: \"a\\tb {{ x }}\"\n", "sql", "{{"), "line 1, column 6");
  EXPECT_EQ(Where("sql: \"{{ x }}\\t\"\n", "sql", "{{"), "line 1, column 7");  // before it: exact
}

TEST(LocateScalar, LiteralAndFoldedBlocks) {
  const std::string literal = "sql: |\n  select *\n    from {{ t }}\n";
  EXPECT_EQ(Where(literal, "sql", "{{"), "line 3, column 10");
  EXPECT_EQ(Where(literal, "sql", "select"), "line 2, column 3");
  EXPECT_EQ(Where("sql: |2-  # comment\n    select\n  {{ t }}\n", "sql", "{{"), "line 3, column 3");
  EXPECT_EQ(Where("sql: >\n  select *\n\n  from {{ t }}\n", "sql", "{{"), "line 4, column 8");
  EXPECT_EQ(Where("sql: &body |\n  select {{ t }}\n", "sql", "{{"), "line 2, column 10");
  EXPECT_EQ(Where("sql: !!str\n  select {{ t }}\n", "sql", "{{"), "line 2, column 10");
}

TEST(LocateScalar, ByteOrderMarkAndCrLf) {
  EXPECT_EQ(Where("\xEF\xBB\xBFsql: select {{ x }}\n", "sql", "{{"), "line 1, column 13");
  EXPECT_EQ(Where("a: 1\r\nsql: |\r\n  select\r\n  {{ x }}\r\n", "sql", "{{"), "line 4, column 3");
}

TEST(TemplatePositions, ErrorsInsideSqlPointIntoTheFile) {
  const char* head = "name: p\nblocks:\n  - {name: load, type: data_loader, sql: select 1}\n";
  Error e = CatchError([&] {
    ParsePipelineYaml(std::string(head) +
                      "  - name: t\n    type: transformer\n    upstream: [load]\n    sql: |\n"
                      "      select * from {{ load }}\n      where {{ self }}\n");
  });
  EXPECT_EQ(std::string(e.message()),
            "{{ self }} in sql of block \"t\" is only meaningful in tests at line 9, column 13");
  e = CatchError([&] {
    ParsePipelineYaml(std::string(head) +
                      "  - {name: t, type: transformer, upstream: [load], sql: \"x {{ t }}\"}\n");
  });
  EXPECT_EQ(std::string(e.message()),
            "sql of block \"t\" refers to its own block; use {{ self }} in tests at line 4, "
            "column 60");
}

}  // namespace
}  // namespace pgpipe::core
