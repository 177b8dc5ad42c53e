// Test planning: see test_plan.hpp.
#include "core/test_plan.hpp"

#include "core/sql_text.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

std::string Plural(int64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

std::string DescribeTest(const TestSpec& t) {
  if (!t.message.empty()) return t.message;
  return TestLabel(t);
}

std::string TestLabel(const TestSpec& t) {
  if (!t.name.empty()) return t.name;
  if (t.kind == "not_null") return "not_null(" + IdentList(t.columns) + ")";
  if (t.kind == "unique") return "unique(" + IdentList(t.columns) + ")";
  if (t.kind == "accepted_values") return "accepted_values(" + IdentList(t.columns) + ")";
  if (t.kind == "row_count") return "row_count";
  if (t.kind == "expression") return "expression " + t.sql;
  return "assert " + t.sql;
}

TestPlan PlanTests(const BlockSpec& block, const std::string& self_sql, bool want_row_count,
                   const CountZeroFold& fold) {
  TestPlan plan;
  std::vector<std::string> filters;
  bool counting = want_row_count;
  for (const auto& t : block.tests) {
    PlannedTest p;
    p.test = &t;
    std::string offending;
    if (t.kind == "not_null") {
      for (const auto& c : t.columns) offending += (offending.empty() ? "" : " OR ") + QuoteIdent(c) + " IS NULL";
    } else if (t.kind == "accepted_values") {
      std::string list;
      for (const auto& v : t.values) list += (list.empty() ? "" : ", ") + QuoteLiteral(v);
      offending = QuoteIdent(t.columns[0]) + " IS NOT NULL AND " + QuoteIdent(t.columns[0]) +
                  "::text NOT IN (" + list + ")";
    } else if (t.kind == "expression") {
      offending = "(" + t.sql + ") IS NOT TRUE";
    } else if (t.kind == "row_count") {
      p.row_count = true;
      counting = true;
    } else if (t.kind == "assert") {
      std::optional<std::string> cond = fold ? fold(t.sql) : std::nullopt;
      if (cond)
        offending = "(" + *cond + ") IS TRUE";
      else
        p.own_sql = t.sql;
    } else if (t.kind == "unique") {
      // Duplicates need a grouping of their own: a standalone query counting the extra rows.
      std::string cols = IdentList(t.columns);
      p.own_sql = "SELECT coalesce(sum(n - 1), 0)::bigint FROM (SELECT count(*) AS n FROM " +
                  self_sql + " GROUP BY " + cols + " HAVING count(*) > 1) AS duplicates";
    }
    if (!offending.empty()) {
      filters.push_back("count(*) FILTER (WHERE " + offending + ")");
      plan.offending.push_back(offending);
      p.count_column = static_cast<int>(filters.size());
      counting = true;
    }
    plan.tests.push_back(p);
  }
  if (counting) {
    plan.count_sql = "SELECT count(*)";
    for (const auto& f : filters) plan.count_sql += ", " + f;
    plan.count_sql += " FROM " + self_sql;
  }
  return plan;
}

std::optional<std::string> JudgeTest(const PlannedTest& p, int64_t offending,
                                     std::optional<bool> boolean_result) {
  const TestSpec& t = *p.test;
  std::string what = DescribeTest(t);
  if (p.row_count) {
    if (t.min_rows && offending < *t.min_rows)
      return what + " (" + Plural(offending, "row") + ", expected at least " +
             std::to_string(*t.min_rows) + ")";
    if (t.max_rows && offending > *t.max_rows)
      return what + " (" + Plural(offending, "row") + ", expected at most " +
             std::to_string(*t.max_rows) + ")";
    return std::nullopt;
  }
  if (boolean_result.has_value()) {
    if (*boolean_result) return std::nullopt;
    return what;
  }
  if (offending == 0) return std::nullopt;
  return what + " (" + Plural(offending, "row") + ")";
}

}  // namespace pgpipe::core
