// DAG ordering, cycle reports and drawings, on specs parsed from YAML.
#include <gtest/gtest.h>

#include "core/dag.hpp"
#include "core/error.hpp"
#include "core/pipeline_yaml.hpp"

using namespace pgpipe::core;

namespace {

const char* kDiamond = R"(
name: diamond
blocks:
  - {name: d, type: transformer, sql: "select 1", upstream: [b, c]}
  - {name: b, type: transformer, sql: "select 1", upstream: [a]}
  - {name: c, type: transformer, sql: "select 1", upstream: [a]}
  - {name: a, type: data_loader, sql: "select 1"}
)";

}  // namespace

TEST(Dag, OrdersUpstreamFirstKeepingFileOrderForTies) {
  PipelineSpec spec = ParsePipelineYaml(kDiamond);
  EXPECT_EQ(TopologicalOrder(spec), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(Dag, DownstreamListsAreDerivedFromUpstream) {
  PipelineSpec spec = ParsePipelineYaml(kDiamond);
  EXPECT_EQ(spec.FindBlock("a")->downstream, (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(spec.FindBlock("d")->downstream.empty());
}

TEST(Dag, MageDownstreamBlocksBecomeUpstreamLinks) {
  PipelineSpec spec = ParsePipelineYaml(R"(
uuid: mage_style
blocks:
  - {uuid: load, type: data_loader, sql: "select 1", downstream_blocks: [shape]}
  - {uuid: shape, type: transformer, sql: "select * from {{ load }}", upstream_blocks: []}
)");
  EXPECT_EQ(spec.name, "mage_style");
  EXPECT_EQ(spec.FindBlock("shape")->upstream, (std::vector<std::string>{"load"}));
  EXPECT_EQ(spec.FindBlock("load")->downstream, (std::vector<std::string>{"shape"}));
}

TEST(Dag, CycleIsReportedWithItsBlocksInFlowOrder) {
  try {
    ParsePipelineYaml(R"(
name: loop
blocks:
  - {name: a, type: data_loader, sql: "select 1"}
  - {name: b, type: transformer, sql: "select 1", upstream: [a, d]}
  - {name: c, type: transformer, sql: "select 1", upstream: [b]}
  - {name: d, type: transformer, sql: "select 1", upstream: [c]}
)");
    FAIL() << "expected a cycle error";
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlstate(), "42P17");
    EXPECT_STREQ(e.message(), "pipeline \"loop\" has a cycle: b -> c -> d -> b");
  }
}

TEST(Dag, SelfLoopIsACycle) {
  try {
    ParsePipelineYaml("name: p\nblocks:\n  - {name: a, type: transformer, sql: x, upstream: [a]}\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.message(), "pipeline \"p\" has a cycle: a -> a");
  }
}

TEST(Dag, MermaidAndDotDrawEveryEdge) {
  PipelineSpec spec = ParsePipelineYaml(kDiamond);
  std::string mermaid = RenderMermaid(spec);
  EXPECT_EQ(mermaid.rfind("flowchart TD\n", 0), 0u);
  for (const char* edge : {"a --> b", "a --> c", "b --> d", "c --> d"})
    EXPECT_NE(mermaid.find(edge), std::string::npos) << edge;
  EXPECT_NE(mermaid.find("a[/\"a<br/><i>data_loader</i>\"/]"), std::string::npos) << mermaid;
  std::string dot = RenderDot(spec);
  EXPECT_NE(dot.find("\"a\" -> \"b\";"), std::string::npos);
  EXPECT_NE(dot.find("\"d\" [shape=box"), std::string::npos);
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
}

TEST(Dag, DrawingsShowTriggerRulesThatAreNotTheDefault) {
  PipelineSpec spec = ParsePipelineYaml(R"(
name: rules
blocks:
  - {name: a, type: data_loader, sql: "select 1"}
  - {name: b, type: transformer, sql: "select 1", upstream: [a], trigger_rule: all_failed}
  - {name: c, type: transformer, sql: "select 1", upstream: [a]}
)");
  std::string mermaid = RenderMermaid(spec);
  EXPECT_NE(mermaid.find("b[\"b<br/><i>transformer</i><br/>trigger: all_failed\"]"), std::string::npos) << mermaid;
  EXPECT_EQ(mermaid.find("trigger: all_success"), std::string::npos) << mermaid;
  std::string dot = RenderDot(spec);
  EXPECT_NE(dot.find("label=\"b\\ntransformer\\ntrigger: all_failed\", style=dashed"), std::string::npos) << dot;
  EXPECT_NE(dot.find("label=\"c\\ntransformer\"];"), std::string::npos) << dot;
}
