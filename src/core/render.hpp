// Rendering templates at run time. `{{ block }}` and `{{ self }}` become the quoted name of a
// block's output relation; every other `{{ expr }}` is a SQL expression that Postgres evaluates,
// all of one template in one query, with the run's variables in scope as columns:
//   SELECT (e1)::text, (e2)::text FROM (SELECT 2021::bigint AS "year", ...) AS pipeline_vars
// The values are then pasted into the text (as Jinja would; quote them yourself in SQL).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/template.hpp"

namespace pgpipe::core {

// The SELECT that puts the variables of a JSON object in scope: each key a column, typed from its
// JSON value (integers bigint, other numbers numeric, strings text, booleans boolean, objects and
// arrays jsonb; execution_date, interval_start and interval_end timestamptz).
std::string VariablesSelectSql(const std::string& variables_json);

struct RenderPlan {
  std::vector<TemplatePiece> pieces;
  std::vector<std::string> relations;  // per piece: the relation a block name stands for, or ""
  std::string eval_sql;                // evaluates the expressions, in piece order; "" if none
  std::string what;
};

// Plans the rendering of `text`. `relation_of` maps a bare name to the relation it stands for
// (blocks, self), or nullopt when the name is a variable or other expression.
RenderPlan PlanRender(const std::string& text, const std::string& what,
                      const std::function<std::optional<std::string>(const std::string&)>& relation_of,
                      const std::string& variables_select);

// Pastes the evaluated values (one per expression, in order) into the text; a NULL value is an
// error naming the expression.
std::string FinishRender(const RenderPlan& plan, const std::vector<std::optional<std::string>>& values);

// When evaluating failed because a name is unknown (Postgres: column "x" does not exist), the
// error that says which variable is missing; else nullopt.
std::optional<std::string> MissingVariable(const std::string& postgres_message);

}  // namespace pgpipe::core
