// The executor's layer 2: a block's tests. Those that count offending rows are folded into one
// scan of the output; the others run on their own. A failure throws 23514 naming the block and
// the test, with the count of offending rows; a failure of a test with severity warn is a
// warning line of the result instead (counted in result.warnings), and the block goes on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/test_plan.hpp"
#include "pg/run/context.hpp"

namespace pgpipe::pg {

// A block's tests planned over its output: the block with its tests' templates rendered, and
// the plan over them (which points into it: not copyable).
struct PlannedTests {
  core::BlockSpec block;
  core::TestPlan plan;
  PlannedTests() = default;
  PlannedTests(const PlannedTests&) = delete;
  PlannedTests& operator=(const PlannedTests&) = delete;
};

// Plans the tests of `block` on `self` (see RunTests).
std::unique_ptr<PlannedTests> PlanBlockTests(Run& run, const core::BlockSpec& block, const std::string& self,
                                            bool count_rows);

// Judges planned tests given what their counting scan would return (`counts`: the output's
// rows, then the offending rows of each of plan.offending; empty when the plan has no scan),
// wherever the counts came from; the tests that do not count run their own queries here.
void JudgeTests(Run& run, const PlannedTests& planned, const std::string& self, const std::vector<int64_t>& counts,
                AttemptResult& result);

// Runs the tests of `block` on `self` (its output relation, quoted); with `count_rows` the scan
// also counts the output (into result.rows_out). Passing tests are logged in `result`.
void RunTests(Run& run, const core::BlockSpec& block, const std::string& self, bool count_rows,
              AttemptResult& result);

}  // namespace pgpipe::pg
