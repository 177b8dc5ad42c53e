// What a load can produce beyond the file's own columns, for a fused transformer that selects
// columns (renamed or not) and computes new ones: "SELECT <items> FROM {{ loader }} [WHERE ...]".
// The load creates its table in the output's column order, each computed column a stored
// generated column (COPY computes it for every row it inserts: no second write of the table);
// after the load, the computed columns become plain ones (DROP EXPRESSION), the file's columns
// the transformer does not select are dropped, and every column takes its output name. Only
// catalog changes: the table is not rewritten.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::pg {

// One output column, in output order.
struct ProjectedColumn {
  std::string name;        // its name in the output
  std::string column;      // a file column it is, under the file's name ("" for a computed one)
  bool from_star = false;  // one of the columns "*" stood for: "*" stands for every file column
  std::string expression;  // a computed column: its immutable expression over the file's columns
  std::string type;        // a computed column: its type, as format_type spells it
};

struct Projection {
  std::vector<ProjectedColumn> columns;  // empty: no projection (the table is the file's columns)
};

}  // namespace pgpipe::pg
