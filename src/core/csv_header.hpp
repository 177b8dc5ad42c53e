// The header line of a CSV stream: split into names, and compared with the columns a load
// expects, so a mismatch is reported by name before COPY starts.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

// Splits one CSV line (no line terminator) into fields, honouring quotes and doubled quotes.
std::vector<std::string> SplitCsvLine(const std::string& line, char delimiter, char quote);

// The header's problems against the load's columns, as errdetail sentences, or "" when it
// fits: `extra` header names the target lacks, `missing` declared columns the header lacks.
struct HeaderCheck {
  std::vector<std::string> columns;  // the target column each header field loads into
  std::vector<std::string> extra;
  std::vector<std::string> missing;
  bool ok() const { return extra.empty() && missing.empty(); }
  std::string Detail() const;
};

// Compares `header` with the target's columns (`target`) and the columns the load declares
// (`declared`, which may be empty). A header name matches a target column exactly, or else
// case-insensitively when that is unambiguous (the file's "VendorID" loads into a column created
// unquoted as vendorid). Duplicates count as extra. Missing are the declared columns the header
// lacks and, when there are extra columns, the target's too.
HeaderCheck CheckHeader(const std::vector<std::string>& header,
                        const std::vector<std::string>& target,
                        const std::vector<std::string>& declared);

// read_csv's optional columns (a compiled Mage loader's optional_columns) against a header:
// `required` are the declared columns the file must have, an optional one the header lacks left
// out (as read_csv ignores the dtype of a column it does not find); with optional columns,
// `undeclared` are the header's names no declared column matches (read_csv would infer their
// type, COPY would make them text). Names match as CheckHeader matches them.
struct DeclaredFit {
  std::vector<std::string> required;
  std::vector<std::string> undeclared;
};
DeclaredFit FitDeclared(const std::vector<std::string>& header, const std::vector<std::string>& declared,
                        const std::vector<std::string>& optional);

}  // namespace pgpipe::core
