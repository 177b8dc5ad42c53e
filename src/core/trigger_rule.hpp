// Trigger rules: whether a block runs, given how its upstream blocks ended (Airflow's names).
//
//   all_success  (default) every upstream succeeded; a failed one makes it upstream_failed, a
//                skipped one (or a conditional that said false) skips it
//   all_done     every upstream ended, however
//   one_success  at least one upstream succeeded; else upstream_failed if one failed, skipped
//                if none did
//   none_failed  no upstream failed (skipped ones are fine); else upstream_failed
//   all_failed   every upstream failed; else skipped (a clean-up or alert path)
//
// "Failed" here is failed, upstream_failed or cancelled. The rule decides only whether the block
// runs: a run with a failed block still fails.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

enum class UpstreamEnd { kSucceeded, kFailed, kSkipped };
enum class TriggerVerdict { kRun, kSkip, kUpstreamFailed };

const std::vector<std::string>& TriggerRuleNames();

// The verdict of `rule` (one of TriggerRuleNames) over the ends of all of a block's upstream
// blocks.
TriggerVerdict DecideTrigger(const std::string& rule, const std::vector<UpstreamEnd>& upstream);

}  // namespace pgpipe::core
