// Turns a block's tests into SQL. Every test that counts offending rows of the block's output
// (not_null, unique, accepted_values, row_count, expression, and asserts of the form
// "SELECT count(*) = 0 FROM {{ self }} WHERE cond") is folded into ONE scan:
//   SELECT count(*), count(*) FILTER (WHERE <offending 1>), ... FROM <output>
// Other asserts run on their own and must return true (one boolean) or no rows (dbt style).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/spec.hpp"

namespace pgpipe::core {

struct PlannedTest {
  const TestSpec* test = nullptr;
  int count_column = -1;   // column of the counting query holding the offending rows, or -1
  bool row_count = false;  // judged on the total (column 0) against min/max
  std::string own_sql;     // a standalone assert (template not yet rendered), when count_column < 0
};

struct TestPlan {
  std::string count_sql;  // the folded scan; "" when no test counts (and no row count is wanted)
  std::vector<PlannedTest> tests;
};

// Plans the tests of `block` over the relation `self_sql` (already quoted). With
// `want_row_count` the folded scan is built even without tests, to count the output.
TestPlan PlanTests(const BlockSpec& block, const std::string& self_sql, bool want_row_count);

// What a failure of the test says: its message, else its label.
std::string DescribeTest(const TestSpec& test);

// What the test checks, for logs: its name, else its kind and columns ("not_null(\"a\")").
std::string TestLabel(const TestSpec& test);

// Why a test failed, or nullopt when it passed. `offending` is the count of offending rows
// (for row_count: the total), `boolean_result` the value of a boolean assert.
std::optional<std::string> JudgeTest(const PlannedTest& planned, int64_t offending,
                                     std::optional<bool> boolean_result);

}  // namespace pgpipe::core
