// What a block compiled from Mage Python (python/pg_pipeline_runtime/compile.py) adds to a
// native block: its output's columns renamed as the Python renamed them (rename_columns: a
// DataFrame's rename(), Mage's lower-casing on export), and the lines its print()s printed (log
// queries).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg/run/context.hpp"

namespace pgpipe::pg {

// The output's columns, old name to new, under block `b`'s rename_columns (each step in order:
// a map of old to new names, or a SQL expression over `name`); empty when it has none. Throws
// 42701 when two columns would end up with one name.
std::vector<std::pair<std::string, std::string>> RenamedColumns(const core::BlockSpec& b,
                                                                 const std::vector<std::string>& columns);

// `sql` (a query) with its columns renamed as block `b` says: a SELECT over it, or `sql` itself
// when nothing is renamed.
std::string WithRenamedColumns(const core::BlockSpec& b, const std::string& sql);

// Renames the columns of relation `relation` (a table or view, quoted) as block `b` says, in
// place (catalog only; no rows are rewritten).
void RenameColumnsOf(const core::BlockSpec& b, const std::string& relation);

// The lines block `b`'s log queries print, rendered with its upstream outputs; none when an
// upstream output a query reads does not exist (a fused chain stages nothing), which `skipped`
// then counts.
std::vector<LogLine> PrintedLines(Run& run, const core::BlockSpec& b, int* skipped);

// The run log's line for a block compiled from Mage Python ("native, compiled from
// transformers/x.py"), written when its first attempt starts; nothing for other blocks.
std::optional<LogLine> CompiledLine(const core::BlockSpec& b);

}  // namespace pgpipe::pg
