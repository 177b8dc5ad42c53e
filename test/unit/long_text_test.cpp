// Text that used to go through std::regex, which libstdc++ runs recursively, one stack frame per
// character: some 100 KB of digits in a variable, a long column type or a
// long run variable crashed the process (in Postgres: the backend, and with it the cluster).
// Each matcher is now written by hand; here each is checked against the regex it replaced on
// short tricky inputs (where std::regex is safe), and on the long inputs that used to crash.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "catch_error.hpp"
#include "core/dtypes.hpp"
#include "core/mage_project.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/render.hpp"
#include "core/test_plan.hpp"

namespace pgpipe::core {
namespace {

constexpr size_t kLong = 400000;  // 100,000 was enough to crash each of them

// --- references: the regexes as they were ----------------------------------------------------

// The old regex rewrite of Mage's placeholders (upstream u1, u2).
std::string OldRewriteMageSql(const std::string& sql) {
  const std::vector<std::string> upstream = {"u1", "u2"};
  static const std::regex df(R"(\{\{\s*df_([0-9]+)\s*\}\})");
  std::smatch m;
  std::string rest = sql, result;
  while (std::regex_search(rest, m, df)) {
    size_t n = std::stoul(m[1].str());
    if (n < 1 || n > upstream.size()) return "error";
    result += m.prefix().str() + "{{ " + upstream[n - 1] + " }}";
    rest = m.suffix().str();
  }
  std::string out = result + rest;
  static const std::regex block_output(R"(\{\{\s*block_output\(\s*['"]([A-Za-z0-9_]+)['"][^}]*\)\s*\}\})");
  out = std::regex_replace(out, block_output, "{{ $1 }}");
  static const std::regex variables(R"(\{\{\s*variables\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)\s*\}\})");
  return std::regex_replace(out, variables, "{{ $1 }}");
}

// --- the code under test, through its public entry points ------------------------------------

// What the importer makes of `sql` in a transformer with upstream u1, u2 ("error" when it
// refuses it).
class MageFolder {
 public:
  std::string Rewrite(const std::string& sql) {
    TextPosition at;
    try {
      return RewriteMageSql(sql, {"u1", "u2"}, {}, "t", "transformers/t.sql", &at);
    } catch (const Error&) {
      return "error";
    }
  }
};

TEST(LongText, MagePlaceholdersAreRewrittenAsTheRegexDid) {
  MageFolder mage;
  for (const char* sql :
       {"SELECT * FROM {{ df_1 }} JOIN {{df_2}}", "{{{ df_1 }}", "{{ df_1 }", "{{ df_3 }}", "{{ df_0 }}",
        "{{ block_output('load') }}", "{{ block_output(\"load\", parse=lambda df: df) }}",
        "{{ block_output('load', x=')') }}", "{{ block_output('load'  )  }}", "{{ block_output('load' }}",
        "{{ block_output('a'}) }}", "{{ block_output('a')\n}}",
        "{{ block_output('a', '}') }}", "{{ block_output('a') x }}", "{{ variables('year') }}",
        "{{ variables( 'year' ) }}", "{{ variables('year', 1) }}", "a {{ b }} c {{",
        "{{ block_output('a') }} and {{ variables(\"b\") }} and {{ df_2 }}", "{{ df_01 }}"}) {
    EXPECT_EQ(mage.Rewrite(sql), OldRewriteMageSql(sql)) << sql;
  }
  // (unlike the regex, a Mage uuid that is not an identifier is read, and named as it is here)
  EXPECT_EQ(mage.Rewrite("{{ block_output('lo-ad') }}"), "{{ lo_ad }}");
  std::string args(kLong, 'x');
  EXPECT_EQ(mage.Rewrite("select * from {{ block_output('load', " + args + ") }}"),
            "select * from {{ load }}");
}

TEST(LongText, LongNumbersInVariablesAndRunVariables) {
  std::string digits(kLong, '7');
  PipelineSpec spec = ParsePipelineYaml(
      "name: p\nvariables:\n  big: " + digits + "\n  real: 1." + digits + "e5\n  word: 12ab\n"
      "blocks:\n  - {name: load, type: data_loader, sql: select 1}\n");
  EXPECT_TRUE(spec.variables[0].json == "\"" + digits + "\"");  // too long for int64: a string
  EXPECT_TRUE(spec.variables[1].json == "1." + digits + "e5");
  EXPECT_EQ(spec.variables[2].json, "\"12ab\"");
  // Too long for bigint: text, as in the spec's JSON.
  EXPECT_TRUE(VariablesSelectSql("{\"n\": " + digits + "}") == "SELECT '" + digits + "'::text AS \"n\"");
  EXPECT_EQ(VariablesSelectSql("{\"n\": -12}"), "SELECT -12::bigint AS \"n\"");
  EXPECT_EQ(VariablesSelectSql("{\"r\": -1.5e3}"), "SELECT -1.5e3::numeric AS \"r\"");
}

TEST(LongText, LongColumnTypesAndMessages) {
  EXPECT_EQ(MapColumnType("datetime64" + std::string(kLong, 'x')), "");
  EXPECT_EQ(MapColumnType("Int65"), "");
  EXPECT_EQ(MapColumnType("float46"), "");
  EXPECT_EQ(MapColumnType("Int" + std::string(kLong, '9')), "");
  EXPECT_EQ(MapColumnType("Int64"), "bigint");
  EXPECT_EQ(MapColumnType("Integer"), "Integer");  // not pandas-shaped: a SQL type name
  EXPECT_TRUE(MissingVariable("error: column \"" + std::string(kLong, 'v') + "\" does not exist") ==
              std::optional<std::string>(std::string(kLong, 'v')));
  EXPECT_EQ(MissingVariable("column \"a\"b\" does not exist"), std::nullopt);
  EXPECT_EQ(MissingVariable("column \"x\" of relation; column \"y\" does not exist"),
            std::optional<std::string>("y"));
}

}  // namespace
}  // namespace pgpipe::core
