// DAG ordering, cycle reports and drawings, on specs parsed from YAML.
#include <gtest/gtest.h>

#include <chrono>

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

// --- cost: linear in blocks and links, no recursion as deep as the chain ---------------------

namespace {

using Clock = std::chrono::steady_clock;

// A chain of n blocks listed in reverse (each block's upstream is the next one in the file),
// the worst order for the old quadratic checks.
std::string ReverseChain(int n) {
  std::string yaml = "name: rev\nblocks:\n";
  for (int i = n - 1; i > 0; --i) {
    std::string up = "b" + std::to_string(i - 1);
    yaml += "  - {name: b" + std::to_string(i) + ", type: transformer, sql: \"select * from {{ " +
            up + " }}\", upstream: [" + up + "]}\n";
  }
  return yaml + "  - {name: b0, type: data_loader, sql: select 1}\n";
}

// Seconds to parse, validate, order, search for cycles and draw `yaml` (the best of `runs`).
double SecondsToCheck(const std::string& yaml, int runs) {
  YamlLimits unlimited;
  unlimited.max_bytes = 0;
  unlimited.max_blocks = 0;
  double best = 1e9;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    PipelineSpec spec = ParsePipelineYaml(yaml, unlimited);
    EXPECT_TRUE(FindCycle(spec).empty());
    EXPECT_EQ(TopologicalOrder(spec).front(), "b0");
    RenderMermaid(spec);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// A chain of n blocks built directly (no YAML), block i upstream of block i + 1, listed in
// reverse; with `closed`, b0 also depends on the last block.
PipelineSpec ChainSpec(int n, bool closed) {
  PipelineSpec spec;
  spec.name = "chain";
  spec.blocks.reserve(static_cast<size_t>(n));
  for (int i = n - 1; i >= 0; --i) {
    BlockSpec b;
    b.name = "b" + std::to_string(i);
    if (i > 0) b.upstream = {"b" + std::to_string(i - 1)};
    if (i == 0 && closed) b.upstream = {"b" + std::to_string(n - 1)};
    spec.blocks.push_back(std::move(b));
  }
  return spec;
}

}  // namespace

TEST(DagCost, TwentyThousandBlocksInReverseOrderCostTenTimesTwoThousand) {
  double small = SecondsToCheck(ReverseChain(2000), 3);
  double large = SecondsToCheck(ReverseChain(20000), 1);
  // Linear is 10x; the quadratic checks this replaced were 100x (22.6 s for 20,000 blocks).
  // 40x leaves room for a busy machine (measured 10x to 18x on a loaded 2-core VM).
  EXPECT_LT(large, 40 * small) << "2,000 blocks: " << small << " s, 20,000 blocks: " << large << " s";
  EXPECT_LT(large, 10.0);  // measured: about 2 s, two thirds of it yaml-cpp parsing
}

TEST(DagCost, TheDefaultLimitsRefuseTwentyThousandBlocksAtOnce) {
  std::string yaml = ReverseChain(20000);
  auto start = Clock::now();
  try {
    ParsePipelineYaml(yaml);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlstate(), "54000");
    EXPECT_EQ(std::string(e.message()), "the pipeline file is " + std::to_string(yaml.size()) +
                                            " bytes, more than the limit of 1048576 bytes");
  }
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 0.1);
}

TEST(DagCost, AChainOfAHundredThousandNeedsNoDeepStack) {
  PipelineSpec chain = ChainSpec(100000, false);
  auto start = Clock::now();
  EXPECT_TRUE(FindCycle(chain).empty());  // recursive, this was 100,000 frames deep
  std::vector<std::string> order = TopologicalOrder(chain);
  EXPECT_EQ(order.front(), "b0");
  EXPECT_EQ(order.back(), "b99999");
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);

  chain = ChainSpec(100000, true);
  EXPECT_EQ(FindCycle(chain).size(), 100001u);
  try {
    TopologicalOrder(chain);
    FAIL() << "no cycle reported";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.message()),
              "pipeline \"chain\" has a cycle: b99999 -> b0 -> b1 -> b2 -> b3 -> b4 -> b5 -> b6 -> "
              "b7 -> b8 -> ... (99981 more) -> b99990 -> b99991 -> b99992 -> b99993 -> b99994 -> "
              "b99995 -> b99996 -> b99997 -> b99998 -> b99999");
  }
}

TEST(DagCost, ASourceWithFiftyThousandColumnsParsesInLinearTime) {
  std::string yaml = "name: wide\nblocks:\n  - name: load\n    type: data_loader\n    source:\n"
                     "      url: https://x.org/wide.csv\n      parse_dates: [";
  for (int i = 0; i < 50000; i += 2) yaml += (i ? ", c" : "c") + std::to_string(i);
  yaml += "]\n      columns:\n";
  for (int i = 0; i < 50000; ++i) yaml += "        c" + std::to_string(i) + ": text\n";
  YamlLimits limits;
  limits.max_bytes = 0;
  auto start = Clock::now();
  PipelineSpec spec = ParsePipelineYaml(yaml, limits);
  // Measured 1 s, most of it yaml-cpp; checking each column against all earlier ones (and each
  // parse_dates name against all columns) took 9.6 s at this width.
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
  ASSERT_EQ(spec.blocks[0].source->columns.size(), 50000u);
  EXPECT_EQ(spec.blocks[0].source->columns[2].pg_type, "timestamp");
  EXPECT_EQ(spec.blocks[0].source->columns[3].pg_type, "text");
}
