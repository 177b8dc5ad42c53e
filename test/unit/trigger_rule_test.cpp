// Trigger rules over every mix of upstream ends that tells them apart.
#include <gtest/gtest.h>

#include "core/trigger_rule.hpp"

using namespace pgpipe::core;

namespace {

constexpr UpstreamEnd S = UpstreamEnd::kSucceeded;
constexpr UpstreamEnd F = UpstreamEnd::kFailed;
constexpr UpstreamEnd K = UpstreamEnd::kSkipped;
constexpr TriggerVerdict Go = TriggerVerdict::kRun;
constexpr TriggerVerdict Skip = TriggerVerdict::kSkip;
constexpr TriggerVerdict Blocked = TriggerVerdict::kUpstreamFailed;

struct Case {
  std::vector<UpstreamEnd> ends;
  TriggerVerdict all_success, all_done, one_success, none_failed, all_failed;
};

}  // namespace

TEST(TriggerRule, EachRuleOverEachMixOfUpstreamEnds) {
  const std::vector<Case> cases = {
      // ends          all_success all_done one_success none_failed all_failed
      {{S, S}, Go, Go, Go, Go, Skip},
      {{S, F}, Blocked, Go, Go, Blocked, Skip},
      {{S, K}, Skip, Go, Go, Go, Skip},
      {{F, F}, Blocked, Go, Blocked, Blocked, Go},
      {{F, K}, Blocked, Go, Blocked, Blocked, Skip},
      {{K, K}, Skip, Go, Skip, Go, Skip},
      {{F}, Blocked, Go, Blocked, Blocked, Go},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    EXPECT_EQ(DecideTrigger("all_success", c.ends), c.all_success) << "case " << i;
    EXPECT_EQ(DecideTrigger("all_done", c.ends), c.all_done) << "case " << i;
    EXPECT_EQ(DecideTrigger("one_success", c.ends), c.one_success) << "case " << i;
    EXPECT_EQ(DecideTrigger("none_failed", c.ends), c.none_failed) << "case " << i;
    EXPECT_EQ(DecideTrigger("all_failed", c.ends), c.all_failed) << "case " << i;
  }
}

TEST(TriggerRule, NamesAreAirflowsInDocumentationOrder) {
  EXPECT_EQ(TriggerRuleNames(),
            (std::vector<std::string>{"all_success", "all_done", "one_success", "none_failed", "all_failed"}));
}
