// A block's tests: see tests.hpp. An assert that is not folded is judged by what it returns,
// without fetching its rows: one boolean column is judged by its values (every row true
// passes; no rows pass), anything else is dbt's style, where every row returned is an
// offending row, counted by the server.
extern "C" {
#include "postgres.h"
}

#include "pg/run/tests.hpp"

#include "core/test_plan.hpp"
#include "pg/spi.hpp"
#include "pg/sql_shape.hpp"

namespace pgpipe::pg {

using core::Error;

namespace {

int64_t ToInt(const SqlValue& v) { return v ? std::stoll(*v) : 0; }

// The verdict of an assert that was not folded, counted by the server (see the file comment).
void JudgeOwnQuery(const std::string& sql, int64_t* offending, std::optional<bool>* boolean) {
  std::vector<SpiColumn> columns = SpiColumns("SELECT * FROM (" + sql + ") AS pipeline_assert LIMIT 0");
  if (columns.size() == 1 && columns[0].type == "boolean") {
    auto row = SpiQuery("SELECT count(*) FILTER (WHERE v IS NOT TRUE), count(*) FROM (" + sql +
                        ") AS pipeline_assert (v)").at(0);
    *offending = ToInt(row[0]);
    if (ToInt(row[1]) == 1) *boolean = *offending == 0;  // "SELECT bool_and(...)": one answer
    return;
  }
  *offending = ToInt(SpiScalar("SELECT count(*) FROM (" + sql + ") AS pipeline_assert"));
}

}  // namespace

std::unique_ptr<PlannedTests> PlanBlockTests(Run& run, const core::BlockSpec& block_in, const std::string& self,
                                            bool count_rows) {
  // Variables and block outputs in test SQL are rendered first; {{ self }} stays, so the plan
  // can still fold "SELECT count(*) = 0 FROM {{ self }} WHERE ..." into its scan.
  auto planned = std::make_unique<PlannedTests>();
  core::BlockSpec& block = planned->block;
  block = block_in;
  for (size_t i = 0; i < block.tests.size(); ++i) {
    const std::string what = "test " + Num(static_cast<int64_t>(i + 1)) + " of block \"" + block.name + "\"";
    if (!block.tests[i].sql.empty()) block.tests[i].sql = Render(run, block_in, block.tests[i].sql, what, "{{ self }}");
    if (block.tests[i].message.find("{{") != std::string::npos)
      block.tests[i].message = Render(run, block_in, block.tests[i].message, "message of " + what);
  }
  core::CountZeroFold fold = [](const std::string& sql) -> std::optional<std::string> {
    auto placeholder = WithPlaceholder(sql, "self");
    return placeholder ? CountZeroCondition(*placeholder) : std::nullopt;
  };
  planned->plan = core::PlanTests(block, self, count_rows, fold);
  return planned;
}

void JudgeTests(Run& run, const PlannedTests& planned_tests, const std::string& self,
                const std::vector<int64_t>& counts, AttemptResult& result) {
  const core::BlockSpec& block = planned_tests.block;
  if (!counts.empty()) result.rows_out = counts.at(0);
  int index = 0;
  for (const auto& planned : planned_tests.plan.tests) {
    ++index;
    int64_t offending = 0;
    std::optional<bool> boolean;
    if (planned.row_count) {
      offending = counts.at(0);
    } else if (planned.count_column >= 0) {
      offending = counts.at(planned.count_column);
    } else if (planned.test->kind == "unique") {
      offending = ToInt(SpiScalar(planned.own_sql));
    } else {
      std::string sql = Render(run, block, planned.own_sql,
                               "test " + Num(index) + " of block \"" + block.name + "\"", self);
      JudgeOwnQuery(sql, &offending, &boolean);
    }
    if (auto failure = core::JudgeTest(planned, offending, boolean)) {
      if (planned.test->severity != "warn")
        throw Error(kTestFailed, "block \"" + block.name + "\" test failed: " + *failure);
      result.log.push_back({"warning", "test failed (severity warn, the run goes on): " + *failure});
      ++result.warnings;
      continue;
    }
    result.log.push_back({"info", "test passed: " + core::TestLabel(*planned.test)});
  }
}

void RunTests(Run& run, const core::BlockSpec& block, const std::string& self, bool count_rows,
              AttemptResult& result) {
  std::unique_ptr<PlannedTests> planned = PlanBlockTests(run, block, self, count_rows);
  std::vector<int64_t> counts;
  if (!planned->plan.count_sql.empty()) {
    auto rows = SpiQuery(planned->plan.count_sql);
    for (const auto& v : rows.at(0)) counts.push_back(ToInt(v));
  }
  JudgeTests(run, *planned, self, counts, result);
}

}  // namespace pgpipe::pg
