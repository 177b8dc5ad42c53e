// Trigger rules: see trigger_rule.hpp.
#include "core/trigger_rule.hpp"

#include <algorithm>

namespace pgpipe::core {

const std::vector<std::string>& TriggerRuleNames() {
  static const std::vector<std::string> names = {"all_success", "all_done", "one_success", "none_failed",
                                                 "all_failed"};
  return names;
}

TriggerVerdict DecideTrigger(const std::string& rule, const std::vector<UpstreamEnd>& upstream) {
  auto count = [&](UpstreamEnd end) { return std::count(upstream.begin(), upstream.end(), end); };
  const auto succeeded = count(UpstreamEnd::kSucceeded);
  const auto failed = count(UpstreamEnd::kFailed);
  const auto skipped = count(UpstreamEnd::kSkipped);
  if (rule == "all_done") return TriggerVerdict::kRun;
  if (rule == "one_success")
    return succeeded > 0 ? TriggerVerdict::kRun : failed > 0 ? TriggerVerdict::kUpstreamFailed : TriggerVerdict::kSkip;
  if (rule == "none_failed") return failed > 0 ? TriggerVerdict::kUpstreamFailed : TriggerVerdict::kRun;
  if (rule == "all_failed")
    return failed == static_cast<long>(upstream.size()) && !upstream.empty() ? TriggerVerdict::kRun
                                                                              : TriggerVerdict::kSkip;
  // all_success
  if (failed > 0) return TriggerVerdict::kUpstreamFailed;
  if (skipped > 0) return TriggerVerdict::kSkip;
  return TriggerVerdict::kRun;
}

}  // namespace pgpipe::core
