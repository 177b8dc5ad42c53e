// Turns a block's tests into SQL. Every test that counts offending rows of the block's output
// (not_null, accepted_values, row_count, expression, and asserts of the form
// "SELECT count(*) = 0 FROM {{ self }} WHERE cond", as Postgres's parser tells: see `fold`) is
// folded into ONE scan:
//   SELECT count(*), count(*) FILTER (WHERE <offending 1>), ... FROM <output>
// Other asserts run on their own and must return true (one boolean) or no rows (dbt style).
#pragma once

#include <cstdint>
#include <functional>
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
  std::vector<std::string> offending;  // column i + 1's condition (an offending row), as SQL
  std::vector<PlannedTest> tests;
};

// The condition of an assert that is exactly "SELECT count(*) = 0 FROM {{ self }} WHERE cond",
// or nullopt: decided by the caller from Postgres's parse tree, never by pattern matching.
using CountZeroFold = std::function<std::optional<std::string>(const std::string& assert_sql)>;

// Plans the tests of `block` over the relation `self_sql` (already quoted). With
// `want_row_count` the folded scan is built even without tests, to count the output. Without
// `fold`, no assert is folded.
TestPlan PlanTests(const BlockSpec& block, const std::string& self_sql, bool want_row_count,
                   const CountZeroFold& fold = {});

// What a failure of the test says: its message, else its label.
std::string DescribeTest(const TestSpec& test);

// What the test checks, for logs: its name, else its kind and columns ("not_null(\"a\")").
std::string TestLabel(const TestSpec& test);

// Why a test failed, or nullopt when it passed. `offending` is the count of offending rows
// (for row_count: the total), `boolean_result` the value of a boolean assert.
std::optional<std::string> JudgeTest(const PlannedTest& planned, int64_t offending,
                                     std::optional<bool> boolean_result);

}  // namespace pgpipe::core
