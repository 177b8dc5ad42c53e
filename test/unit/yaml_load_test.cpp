// Bounded YAML loading: alias bombs refused in milliseconds and small memory, aliases that
// only repeat accepted, cycles, depth (aliases included), documents, keys, tabs, sizes; and
// an interrupt raised at any point of parsing and validating reaches the caller.
#include "core/yaml_load.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <string>

#include "catch_error.hpp"
#include "core/error.hpp"
#include "core/interrupts.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/spec_json.hpp"

namespace pgpipe::core {
namespace {

using Clock = std::chrono::steady_clock;

const char* kOneBlock = "blocks:\n  - {name: load, type: data_loader, sql: select 1 as x}\n";

// The audit's bomb: a0 is "lol", each level lists the previous one nine times.
std::string Bomb(int levels) {
  std::string out = "name: bomb\nvariables:\n  a0: &a0 \"lol\"\n";
  for (int i = 1; i <= levels; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    out += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 9; ++k) out += "," + prev;
    out += "]\n";
  }
  return out + kOneBlock;
}

// Milliseconds since t.
double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Parses `yaml` in a child process whose address space is capped at `mb` more than it starts
// with (so a regression fails here instead of exhausting the machine); returns the child's
// exit code: 0 when it threw 54000 naming the node limit.
int ParseBombInChild(const std::string& yaml, long mb) {
  pid_t pid = fork();
  if (pid == 0) {
#if !defined(__SANITIZE_ADDRESS__)
    rlimit limit{};
    long pages = 0;
    if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
      std::fclose(statm);
    }
    limit.rlim_cur = limit.rlim_max =
        static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) +
        static_cast<rlim_t>(mb) * 1024 * 1024;
    setrlimit(RLIMIT_AS, &limit);
#else
    (void)mb;
#endif
    try {
      ParsePipelineYaml(yaml);
    } catch (const Error& e) {
      bool ok = e.sqlstate() == "54000" &&
                std::string(e.message()).rfind("the pipeline file expands to more than 100000 "
                                               "YAML nodes", 0) == 0;
      _exit(ok ? 0 : 1);
    } catch (...) {
      _exit(2);
    }
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(YamlBounds, AliasBombsAreRefusedInMillisecondsWithLittleMemory) {
  for (int levels : {8, 9, 12}) {
    SCOPED_TRACE(levels);
    std::string bomb = Bomb(levels);
    auto start = Clock::now();
    Error e = CatchError([&] { ParsePipelineYaml(bomb); });
    EXPECT_LT(MsSince(start), 200.0);  // measured: under 1 ms
    EXPECT_EQ(e.sqlstate(), "54000");
    EXPECT_EQ(std::string(e.message()),
              "the pipeline file expands to more than 100000 YAML nodes (anchors and aliases "
              "count each time they are used) at line 9, column 12");
    EXPECT_EQ(ParseBombInChild(bomb, 64), 0);  // 64 MB where level 9 used to want 45 GB
  }
}

TEST(YamlBounds, AliasesThatRepeatAreFine) {
  std::string yaml = "name: p\nvariables:\n  base: &base {year: 2021, colors: [yellow, green]}\n"
                     "  again: *base\n  twice: [*base, *base]\nblocks:\n";
  for (int i = 0; i < 50; ++i)
    yaml += "  - {name: load" + std::to_string(i) +
            ", type: data_loader, source: &src" + std::to_string(i) +
            " {url: \"http://example.com/x.csv\", header: true}}\n";
  PipelineSpec spec = ParsePipelineYaml(yaml);
  EXPECT_EQ(spec.blocks.size(), 50u);
  ASSERT_EQ(spec.variables.size(), 3u);
  EXPECT_EQ(spec.variables[2].json,
            R"([{"year":2021,"colors":["yellow","green"]},{"year":2021,"colors":["yellow","green"]}])");
}

TEST(YamlBounds, TheNodeCapGrowsWithTheFileAndCanBeSet) {
  YamlLimits limits;
  EXPECT_EQ(EffectiveMaxNodes(limits, 500), 100000u);
  EXPECT_EQ(EffectiveMaxNodes(limits, 700000), 700000u);
  EXPECT_EQ(EffectiveMaxTextBytes(limits, 500), 1048576u);
  EXPECT_EQ(EffectiveMaxTextBytes(limits, 700000), 7000000u);
  limits.max_nodes = 10;
  Error e = CatchError([&] { LoadBoundedYaml("{a: [1, 2, 3], b: [4, 5, 6, 7]}", limits, "the text"); });
  EXPECT_EQ(std::string(e.message()),
            "the text expands to more than 10 YAML nodes (anchors and aliases count each time "
            "they are used) at line 1, column 26");
}

TEST(YamlBounds, ExpandedTextIsCappedToo) {
  std::string yaml = "s: &s \"" + std::string(1000, 'x') + "\"\nlist: [";
  for (int i = 0; i < 1100; ++i) yaml += i ? ",*s" : "*s";
  yaml += "]\n";
  Error e = CatchError([&] { LoadBoundedYaml(yaml, YamlLimits{}, "the pipeline file"); });
  EXPECT_EQ(e.sqlstate(), "54000");
  EXPECT_EQ(std::string(e.message()).rfind("the pipeline file expands to more than 1048576 bytes "
                                           "of text (anchors and aliases count each time they "
                                           "are used) at line 2, column ", 0),
            0u)
      << e.message();
}

TEST(YamlBounds, AnAliasInsideItsOwnAnchorIsRefused) {
  Error e = CatchError([] { LoadBoundedYaml("a: &a [1, *a]\n", YamlLimits{}, "x"); });
  EXPECT_EQ(e.sqlstate(), "42601");
  EXPECT_EQ(std::string(e.message()), "alias *a refers to a node that contains it at line 1, column 11");
  // Loaded without bounds, the cycle is real; YamlToJson still stops at its depth limit.
  Error json = CatchError([] { YamlToJson(YAML::Load("a: &a [1, *a]\n")); });
  EXPECT_EQ(json.sqlstate(), "54000");
  EXPECT_EQ(std::string(json.message()).rfind("a YAML value nests deeper than 64 levels at ", 0), 0u)
      << json.message();
}

TEST(YamlBounds, DepthCountsWhatAliasesBringIn) {
  std::string forty_open(40, '['), forty_close(40, ']');
  std::string yaml = "a: &a " + forty_open + "x" + forty_close + "\nb: " + forty_open + "*a" +
                     forty_close + "\n";
  Error e = CatchError([&] { LoadBoundedYaml(yaml, YamlLimits{}, "the pipeline file"); });
  EXPECT_EQ(e.sqlstate(), "54000");
  EXPECT_EQ(std::string(e.message()), "the pipeline file nests deeper than 64 levels at line 2, column 44");
}

TEST(YamlBounds, HundredThousandLevelsAreRefusedAtTheLimitAndFast) {
  std::string deep = "x: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  auto start = Clock::now();
  Error e = CatchError([&] { LoadBoundedYaml(deep, YamlLimits{}, "the pipeline file"); });
  EXPECT_LT(MsSince(start), 2000.0);  // measured: 120 ms (yaml-cpp's scanner), 400 under ASan
  EXPECT_EQ(std::string(e.message()), "the pipeline file nests deeper than 64 levels at line 1, column 67");
}

TEST(YamlBounds, OneDocumentOnly) {
  Error e = CatchError([] { ParsePipelineYaml(std::string("name: p\n") + kOneBlock + "---\n"); });
  EXPECT_EQ(std::string(e.message()), "the pipeline file has a second YAML document at line 4, column 1");
  // An explicit start and end of the one document are fine.
  EXPECT_NO_THROW(ParsePipelineYaml(std::string("---\nname: p\n") + kOneBlock + "...\n"));
}

TEST(YamlBounds, MappingKeysAreSingleValues) {
  auto message = [](const std::string& yaml) {
    return std::string(CatchError([&] { LoadBoundedYaml(yaml, YamlLimits{}, "x"); }).message());
  };
  EXPECT_EQ(message("{[a]: 1}"), "a mapping key must be a single value, not a sequence at line 1, column 2");
  EXPECT_EQ(message("? {a: b}\n: x\n"), "a mapping key must be a single value, not a mapping at line 1, column 3");
  EXPECT_EQ(message("k: &k [1]\n*k : 2\n"), "a mapping key must be a single value, not a sequence at line 2, column 1");
  EXPECT_EQ(message(": x\n"), "a mapping key must not be empty at line 1, column 1");
  EXPECT_NO_THROW(LoadBoundedYaml("k: &k key\n*k : 2\n", YamlLimits{}, "x"));
}

TEST(YamlBounds, ATabThatIndentsIsNamed) {
  Error e = CatchError([] { LoadBoundedYaml("a:\n  b: 1\n  \tc: 2\n", YamlLimits{}, "x"); });
  EXPECT_EQ(e.sqlstate(), "42601");
  EXPECT_EQ(std::string(e.message()), "invalid YAML at line 3, column 3: a tab indents this line");
  EXPECT_EQ(e.hint(), "YAML indents with spaces only.");
  e = CatchError([] { LoadBoundedYaml("blocks:\n\t- a\n", YamlLimits{}, "x"); });
  EXPECT_EQ(std::string(e.message()), "invalid YAML at line 2, column 1: a tab indents this line");
  // Tabs inside a literal block's text are text.
  YAML::Node node = LoadBoundedYaml("sql: |\n  select\n  \t1\n", YamlLimits{}, "x");
  EXPECT_EQ(node["sql"].Scalar(), "select\n\t1\n");
}

TEST(YamlBounds, TheFileSizeIsCapped) {
  YamlLimits limits;
  limits.max_bytes = 100;
  std::string yaml = "name: p\ndescription: \"" + std::string(100, 'x') + "\"\n" + kOneBlock;
  Error e = CatchError([&] { ParsePipelineYaml(yaml, limits); });
  EXPECT_EQ(e.sqlstate(), "54000");
  EXPECT_EQ(std::string(e.message()), "the pipeline file is " + std::to_string(yaml.size()) +
                                          " bytes, more than the limit of 100 bytes");
  limits.max_bytes = yaml.size();
  EXPECT_NO_THROW(ParsePipelineYaml(yaml, limits));
}

TEST(YamlBounds, TheBlockCountIsCapped) {
  YamlLimits limits;
  limits.max_blocks = 3;
  std::string yaml = "name: p\nblocks:\n";
  for (int i = 0; i < 4; ++i)
    yaml += "  - {name: b" + std::to_string(i) + ", type: data_loader, sql: select 1}\n";
  Error e = CatchError([&] { ParsePipelineYaml(yaml, limits); });
  EXPECT_EQ(e.sqlstate(), "54000");
  EXPECT_EQ(std::string(e.message()), "the pipeline has 4 blocks, more than the limit of 3 at line 6, column 5");
}

// --- interrupts -----------------------------------------------------------------------------

int hook_calls = 0;
int throw_at = 0;

// Cancels on call number throw_at, like src/pg's hook after a cancel request.
void CancelOnCall() {
  if (++hook_calls == throw_at) throw Error(sqlstate::kQueryCanceled, "canceling statement due to user request");
}

// A pipeline big enough for many interrupt checks in every phase.
std::string BigPipeline() {
  std::string yaml = "name: big\nvariables:\n  base: &base {year: 2021, list: [1, 2, 3]}\n";
  for (int i = 0; i < 500; ++i) yaml += "  v" + std::to_string(i) + ": *base\n";
  yaml += "blocks:\n";
  for (int i = 0; i < 3000; ++i) {
    yaml += "  - {name: b" + std::to_string(i) + ", type: transformer, sql: \"select * from {{ b" +
            std::to_string(i + 1) + " }}\", upstream: [b" + std::to_string(i + 1) + "]}\n";
  }
  return yaml + "  - {name: b3000, type: data_loader, sql: select 1}\n";
}

TEST(Interrupts, ACancelAtAnyCheckOfParsingAndValidatingReachesTheCaller) {
  std::string yaml = BigPipeline();
  InterruptCheck before = SetInterruptCheck(&CancelOnCall);
  hook_calls = 0;
  throw_at = -1;
  ParsePipelineYaml(yaml);
  int total = hook_calls;
  EXPECT_GE(total, 10);
  for (throw_at = 1; throw_at <= total; ++throw_at) {
    hook_calls = 0;
    Error e = CatchError([&] { ParsePipelineYaml(yaml); });
    EXPECT_EQ(e.sqlstate(), "57014") << "check " << throw_at;
  }
  SetInterruptCheck(before);
}

}  // namespace
}  // namespace pgpipe::core
