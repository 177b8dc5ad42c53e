// Reading the shape of a query from Postgres's own parse tree (raw_parser), never from its text
// by pattern: fusion runs a transformer as a COPY ... WHERE only when its SQL is exactly
// "SELECT * FROM <upstream> WHERE <condition>", and a test folds into the one counting scan
// only when it is exactly "SELECT count(*) = 0 FROM {{ self }} WHERE <condition>". Anything
// else (LIMIT, OFFSET, FETCH, GROUP BY, HAVING, DISTINCT, ORDER BY, windows, set operations,
// CTEs, locking clauses, an alias, a subquery in the condition, more than one statement, a
// syntax error) is not that shape.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/load/projection.hpp"

namespace pgpipe::pg {

// The relation name that stands for {{ upstream }} / {{ self }} while a shape is checked.
inline constexpr const char* kShapePlaceholder = "pg_pipeline_shape_placeholder";

// The condition text of `sql` when it is "SELECT * FROM kShapePlaceholder WHERE <condition>".
// Needs a transaction (the parse runs in a subtransaction, so a syntax error is rolled back).
std::optional<std::string> FilterCondition(const std::string& sql);

// The condition text of `sql` when it is "SELECT count(*) = 0 FROM kShapePlaceholder WHERE
// <condition>".
std::optional<std::string> CountZeroCondition(const std::string& sql);

// A transformer a load can produce itself (projection fusion): its output columns and its
// filter ("" none), deparsed by Postgres over the placeholder's columns.
struct ProjectionShape {
  Projection projection;
  std::string condition;
};

// The projection of `sql` when it is "SELECT <items> FROM kShapePlaceholder [WHERE <condition>]"
// whose items are columns of the placeholder (renamed or not, "*" too) and immutable
// expressions over them (of their type's own collation, no whole-row or system column), and
// nothing else: no aggregate, window, set-returning function, subquery, DISTINCT, GROUP BY,
// HAVING, ORDER BY, LIMIT, OFFSET, locking clause, CTE, set operation or alias, and no two
// output columns of one name. Needs a transaction and the placeholder relation, with the
// loader's declared columns, for Postgres's parse analysis (run in a subtransaction).
std::optional<ProjectionShape> ProjectionOf(const std::string& sql);

// `condition` as a COPY FROM's WHERE evaluates it on each row read into the placeholder, when
// it evaluates it exactly as a scan of the loaded rows would: a condition over the placeholder's
// ordinary columns, with no subquery, aggregate, window, set-returning or volatile function.
// Returned deparsed by Postgres (columns unqualified), with the columns it names; nullopt
// otherwise, or when it does not parse. Needs a transaction and the placeholder relation, as ProjectionOf does.
struct RowConditionText {
  std::string text;                  // deparsed
  std::vector<std::string> columns;  // the placeholder's columns it names
};
std::optional<RowConditionText> RowCondition(const std::string& condition);

// `text` (a template) with {{ name }} replaced by kShapePlaceholder, or nullopt when it holds any
// other {{ }} placeholder (the shape of the rendered text is then not known yet).
std::optional<std::string> WithPlaceholder(const std::string& text, const std::string& name);

}  // namespace pgpipe::pg
