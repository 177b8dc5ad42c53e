// io_config.yaml is rendered as Mage renders it, from the environment and before YAML parsing,
// so an unquoted {{ env_var('X') }} is its value and not a YAML flow mapping ({"": null}).
#include <gtest/gtest.h>

#include <map>

#include "core/error.hpp"
#include "core/mage_config.hpp"

using namespace pgpipe::core;

namespace {

std::optional<std::string> Env(const std::string& name) {
  static const std::map<std::string, std::string> env = {{"HOST", "db.local"}, {"EMPTY", ""}};
  auto found = env.find(name);
  if (found == env.end()) return std::nullopt;
  return found->second;
}

std::vector<MageProfile> Profiles(const std::string& text, std::vector<ImportRow>* rows) {
  return ReadMageProfiles(text, "io_config.yaml", Env, YamlLimits{}, rows);
}

}  // namespace

TEST(MageConfig, EnvVarsRenderBeforeParsing) {
  std::vector<std::string> unset;
  EXPECT_EQ(RenderEnvVars("a: {{ env_var('HOST') }}\nb: {{env_var(\"NOPE\")}}\nc: {{ env_var('NOPE', 'x,y') }}\n"
                          "d: {{ env_var('EMPTY', 'unused') }}\ne: {{ other('HOST') }}\n",
                          Env, &unset),
            "a: db.local\nb: PG_PIPELINE_UNSET_ENV_VAR__NOPE__\nc: x,y\nd: \ne: {{ other('HOST') }}\n");
  EXPECT_EQ(unset, std::vector<std::string>{"NOPE"});
  // Not a call: left as it is.
  EXPECT_EQ(RenderEnvVars("{{ env_var('A\") }} {{ env_var('A'", Env), "{{ env_var('A\") }} {{ env_var('A'");
}

TEST(MageConfig, UnquotedTemplatesAreValuesNotMappings) {
  std::vector<ImportRow> rows;
  auto profiles = Profiles("version: 0.1.1\ndev:\n  POSTGRES_HOST: {{ env_var('HOST') }}\n  POSTGRES_PORT: 5432\n", &rows);
  ASSERT_EQ(profiles.size(), 1u);
  EXPECT_EQ(profiles[0].name, "dev");
  EXPECT_EQ(profiles[0].settings_json, "{\"POSTGRES_HOST\":\"db.local\",\"POSTGRES_PORT\":5432}");
  ASSERT_EQ(rows.size(), 1u);  // (version: is Mage's, not a profile, and not reported)
  EXPECT_EQ(rows[0].outcome, "imported");
  EXPECT_EQ(rows[0].reason, "");
}

TEST(MageConfig, WhatIsNotAProfileIsReported) {
  std::vector<ImportRow> rows;
  auto profiles = Profiles("settings: 3\n\"bad name!\": {a: 1}\nok: {a: 1}\n", &rows);
  ASSERT_EQ(profiles.size(), 1u);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].outcome, "skipped");
  EXPECT_EQ(rows[0].reason, "not a profile: its value is not a mapping of settings (line 1, column 1 of io_config.yaml)");
  EXPECT_EQ(rows[1].outcome, "refused");
  EXPECT_FALSE(IsProfileName("bad name!"));
  EXPECT_TRUE(IsProfileName("dev-local.2"));
}

TEST(MageConfig, InvalidYamlNamesTheFileLineAndColumn) {
  std::vector<ImportRow> rows;
  try {
    Profiles("dev:\n  a: [1, 2\n", &rows);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.message()).rfind("io_config.yaml: invalid YAML at line ", 0), 0u) << e.message();
  }
  try {
    Profiles("- a\n- b\n", &rows);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.message(), "io_config.yaml must map profile names to their settings (it is a list)");
  }
}

TEST(MageConfig, AliasBombsAreBounded) {
  std::vector<ImportRow> rows;
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'k'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [*" + std::string(1, c - 1) + ", *" + std::string(1, c - 1) + ", *" +
            std::string(1, c - 1) + ", *" + std::string(1, c - 1) + ", *" + std::string(1, c - 1) + "]\n";
  try {
    Profiles(bomb, &rows);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlstate(), "54000");
  }
}
