// YAML values as JSON, as the catalog stores pipeline variables.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/spec_json.hpp"

using namespace pgpipe::core;

namespace {
std::string J(const char* yaml) { return YamlToJson(YAML::Load(yaml)); }
}  // namespace

TEST(YamlToJson, NumbersBecomeValidJson) {
  EXPECT_EQ(J("01"), "1");
  EXPECT_EQ(J("+7"), "7");
  EXPECT_EQ(J("-0"), "0");
  EXPECT_EQ(J(".5"), "0.5");
  EXPECT_EQ(J("-.5"), "-0.5");
  EXPECT_EQ(J("007.50"), "7.50");
  EXPECT_EQ(J("1."), "1.0");
  EXPECT_EQ(J("1e3"), "1e3");
  EXPECT_EQ(J("123456789012345678901234"), "\"123456789012345678901234\"");
}

TEST(YamlToJson, QuotedScalarsStayStrings) {
  EXPECT_EQ(J("'01'"), "\"01\"");
  EXPECT_EQ(J("\"true\""), "\"true\"");
}

TEST(YamlToJson, BooleansNullsAndCollections) {
  EXPECT_EQ(J("true"), "true");
  EXPECT_EQ(J("False"), "false");
  EXPECT_EQ(J("~"), "null");
  EXPECT_EQ(J("{a: [1, x, null], b: {c: \"q\\\"\"}}"), R"({"a":[1,"x",null],"b":{"c":"q\""}})");
}
