// Template rendering: see render.hpp.
#include "core/render.hpp"

#include <yaml-cpp/yaml.h>


#include "core/error.hpp"
#include "core/spec_json.hpp"
#include "core/sql_text.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

// -?[0-9]+ (hand-written: std::regex overflows the stack on long input).
bool IsJsonInteger(const std::string& json) {
  size_t i = !json.empty() && json[0] == '-' ? 1 : 0;
  if (i == json.size()) return false;
  for (; i < json.size(); ++i)
    if (json[i] < '0' || json[i] > '9') return false;
  return true;
}

// Non-empty and made of number characters only ([-0-9.eE+]): what JSON numbers are written with.
bool IsJsonNumberText(const std::string& json) {
  if (json.empty()) return false;
  for (char c : json)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      return false;
  return true;
}

}  // namespace

std::string VariablesSelectSql(const std::string& variables_json) {
  YAML::Node root;
  try {
    root = YAML::Load(variables_json.empty() ? "{}" : variables_json);
  } catch (const YAML::Exception& e) {
    throw Error(sqlstate::kInvalidParameterValue, "variables are not a JSON object", e.what());
  }
  std::string select;
  if (root.IsMap()) {
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string name = it->first.Scalar();
      const YAML::Node v = it->second;
      std::string value;
      if (name == "execution_date" || name == "interval_start" || name == "interval_end") {
        value = v.IsNull() ? "NULL::timestamptz" : QuoteLiteral(v.Scalar()) + "::timestamptz";
      } else if (!v.IsDefined() || v.IsNull()) {
        value = "NULL::text";
      } else if (v.IsScalar()) {
        std::string json = YamlToJson(v);
        if (v.Tag() == "!") {
          value = QuoteLiteral(v.Scalar()) + "::text";
        } else if (json == "true" || json == "false") {
          value = json;
        } else if (IsJsonInteger(json)) {
          value = json + "::bigint";
        } else if (IsJsonNumberText(json)) {
          value = json + "::numeric";
        } else {
          value = QuoteLiteral(v.Scalar()) + "::text";
        }
      } else {
        value = QuoteLiteral(YamlToJson(v)) + "::jsonb";
      }
      select += (select.empty() ? "" : ", ") + value + " AS " + QuoteIdent(name);
    }
  }
  return "SELECT " + (select.empty() ? std::string("NULL AS pipeline_no_variables") : select);
}

RenderPlan PlanRender(const std::string& text, const std::string& what,
                      const std::function<std::optional<std::string>(const std::string&)>& relation_of,
                      const std::string& variables_select) {
  RenderPlan plan;
  plan.what = what;
  plan.pieces = ScanTemplate(text, what);
  std::string exprs;
  for (const auto& piece : plan.pieces) {
    std::string relation;
    if (piece.is_expression && IsBareName(piece.text)) {
      if (auto r = relation_of(piece.text)) relation = *r;
    }
    plan.relations.push_back(relation);
    if (piece.is_expression && relation.empty())
      exprs += (exprs.empty() ? "" : ", ") + ("(" + piece.text + ")::text");
  }
  if (!exprs.empty())
    plan.eval_sql = "SELECT " + exprs + " FROM (" + variables_select + ") AS pipeline_vars";
  return plan;
}

std::string FinishRender(const RenderPlan& plan, const std::vector<std::optional<std::string>>& values) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < plan.pieces.size(); ++i) {
    const auto& piece = plan.pieces[i];
    if (!piece.is_expression) {
      out += piece.text;
    } else if (!plan.relations[i].empty()) {
      out += plan.relations[i];
    } else {
      if (next >= values.size() || !values[next])
        throw Error(sqlstate::kInvalidParameterValue,
                    "{{ " + piece.text + " }} in " + plan.what + " is NULL", "",
                    "Give the variables it uses a value: pipeline.run(name, variables => ...).");
      out += *values[next++];
    }
  }
  return out;
}

// The first `column "<name>" does not exist` in the message (the name has no quote).
std::optional<std::string> MissingVariable(const std::string& message) {
  static const std::string open = "column \"", close = "\" does not exist";
  for (size_t at = message.find(open); at != std::string::npos; at = message.find(open, at + 1)) {
    size_t start = at + open.size();
    size_t end = message.find('"', start);
    if (end == std::string::npos) break;
    if (end > start && message.compare(end, close.size(), close) == 0)
      return message.substr(start, end - start);
  }
  return std::nullopt;
}

}  // namespace pgpipe::core
