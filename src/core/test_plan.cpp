// Test planning: see test_plan.hpp.
#include "core/test_plan.hpp"

#include <cctype>
#include <string>

#include "core/sql_text.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// A left-to-right reader of SQL text for CountZeroCondition.
class SqlCursor {
 public:
  explicit SqlCursor(const std::string& sql) : sql_(sql) {}

  // Skips blanks; true when there was at least one (or `optional`).
  bool Blanks(bool optional) {
    size_t start = pos_;
    while (pos_ < sql_.size() && std::isspace(static_cast<unsigned char>(sql_[pos_]))) ++pos_;
    return optional || pos_ > start;
  }
  // Consumes `text` (ASCII, matched case-insensitively); false when it is not next.
  bool Take(const char* text) {
    size_t n = std::char_traits<char>::length(text);
    if (sql_.size() - pos_ < n) return false;
    for (size_t i = 0; i < n; ++i)
      if (std::tolower(static_cast<unsigned char>(sql_[pos_ + i])) != text[i]) return false;
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& sql_;
  size_t pos_ = 0;
};

// The condition of "SELECT count(*) = 0 FROM {{ self }} WHERE <cond>" (any case and spacing,
// an optional final ";"), or "". Read by hand: std::regex overflows the stack on long SQL.
std::string CountZeroCondition(const std::string& sql) {
  SqlCursor c(sql);
  bool ok = c.Blanks(true) && c.Take("select") && c.Blanks(false) && c.Take("count") &&
            c.Blanks(true) && c.Take("(") && c.Blanks(true) && c.Take("*") && c.Blanks(true) &&
            c.Take(")") && c.Blanks(true) && c.Take("=") && c.Blanks(true) && c.Take("0") &&
            c.Blanks(false) && c.Take("from") && c.Blanks(false) && c.Take("{{") &&
            c.Blanks(true) && c.Take("self") && c.Blanks(true) && c.Take("}}") &&
            c.Blanks(false) && c.Take("where") && c.Blanks(false);
  if (!ok) return "";
  // The shortest condition the rest allows: trailing blanks, one ";", blanks before it.
  size_t end = sql.size();
  auto trim = [&] {
    while (end > c.pos() && std::isspace(static_cast<unsigned char>(sql[end - 1]))) --end;
  };
  trim();
  if (end > c.pos() && sql[end - 1] == ';') {
    --end;
    trim();
  }
  return sql.substr(c.pos(), end - c.pos());
}

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

TestPlan PlanTests(const BlockSpec& block, const std::string& self_sql, bool want_row_count) {
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
      std::string cond = CountZeroCondition(t.sql);
      if (!cond.empty())
        offending = "(" + cond + ") IS TRUE";
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
