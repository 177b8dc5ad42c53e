// Compiled Mage blocks: see compiled.hpp.
extern "C" {
#include "postgres.h"
}

#include "pg/run/compiled.hpp"

#include <set>

#include "core/error.hpp"
#include "core/sql_text.hpp"
#include "core/template.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;

std::vector<std::pair<std::string, std::string>> RenamedColumns(const core::BlockSpec& b,
                                                                 const std::vector<std::string>& columns) {
  std::vector<std::pair<std::string, std::string>> renamed;
  if (b.rename_columns_json.empty()) return renamed;
  // Each step, in SQL: a map looks the name up ($2 -> name, else the name), an expression is
  // evaluated with the name in scope; the steps compose in order.
  std::vector<std::string> names = columns;
  for (const auto& step : SpiQuery("SELECT s -> 'map', s ->> 'expression' FROM jsonb_array_elements($1::jsonb) AS s",
                                   {b.rename_columns_json})) {
    for (auto& name : names) {
      if (step[0])
        name = SpiScalar("SELECT coalesce($2::jsonb ->> $1, $1)", {name, *step[0]}).value_or(name);
      else
        name = SpiScalar("SELECT (" + step[1].value_or("name") + ")::text FROM (SELECT $1::text AS name) AS c", {name})
                   .value_or(name);
    }
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!seen.insert(names[i]).second)
      throw Error("42701", "renaming the columns of block \"" + b.name + "\" gives two columns the name \"" +
                               names[i] + "\"", "", "Keep the names apart in its rename_columns.");
    renamed.emplace_back(columns[i], names[i]);
  }
  return renamed;
}

std::string WithRenamedColumns(const core::BlockSpec& b, const std::string& sql) {
  if (b.rename_columns_json.empty()) return sql;
  auto renamed = RenamedColumns(b, SpiColumnNames("SELECT * FROM (" + sql + ") AS pipeline_output LIMIT 0"));
  std::string list;
  for (const auto& [from, to] : renamed)
    list += (list.empty() ? "" : ", ") + core::QuoteIdent(from) + " AS " + core::QuoteIdent(to);
  return "SELECT " + list + " FROM (" + sql + ") AS pipeline_output";
}

void RenameColumnsOf(const core::BlockSpec& b, const std::string& relation) {
  if (b.rename_columns_json.empty()) return;
  auto renamed = RenamedColumns(b, SpiColumnNames("SELECT * FROM " + relation + " LIMIT 0"));
  // In two passes, through names nobody uses, so that a swap (a -> b, b -> a) works.
  for (size_t i = 0; i < renamed.size(); ++i) {
    if (renamed[i].first == renamed[i].second) continue;
    std::string tmp = "pgp_rename_" + std::to_string(i);
    SpiExec("ALTER TABLE " + relation + " RENAME COLUMN " + core::QuoteIdent(renamed[i].first) + " TO " +
            core::QuoteIdent(tmp));
  }
  for (size_t i = 0; i < renamed.size(); ++i) {
    if (renamed[i].first == renamed[i].second) continue;
    SpiExec("ALTER TABLE " + relation + " RENAME COLUMN " + core::QuoteIdent("pgp_rename_" + std::to_string(i)) +
            " TO " + core::QuoteIdent(renamed[i].second));
  }
}

std::vector<LogLine> PrintedLines(Run& run, const core::BlockSpec& b, int* skipped) {
  std::vector<LogLine> lines;
  for (size_t i = 0; i < b.log_queries.size(); ++i) {
    const std::string what = "print " + std::to_string(i + 1) + " of block \"" + b.name + "\"";
    bool missing = false;
    for (const auto& piece : core::ScanTemplate(b.log_queries[i], what))
      if (piece.is_expression && run.blocks.count(piece.text) && run.blocks.at(piece.text).relation.empty())
        missing = true;
    if (missing) {
      ++*skipped;
      continue;
    }
    std::string sql = Render(run, b, b.log_queries[i], what);
    lines.push_back({"info", SpiScalar(sql).value_or("")});
  }
  return lines;
}

std::optional<LogLine> CompiledLine(const core::BlockSpec& b) {
  if (b.compiled_from.empty()) return std::nullopt;
  return LogLine{"info", "native, compiled from " + b.compiled_from + " (its Python is kept in the block, not run)"};
}

}  // namespace pgpipe::pg
