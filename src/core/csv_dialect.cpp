// CSV dialect checks shared by the CSV scanners: see csv_dialect.hpp.
#include "core/csv_dialect.hpp"

#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// Whether c cannot be a delimiter, quote or escape of a scanned stream.
bool BadDialectChar(char c) { return c == '\n' || c == '\r' || c == '\0'; }

}  // namespace

void CheckCsvDialectBytes(const CsvDialect& d) {
  if (BadDialectChar(d.delimiter) || BadDialectChar(d.quote) || BadDialectChar(d.escape))
    throw Error(sqlstate::kInvalidParameterValue,
                "CSV delimiter, quote and escape cannot be a line break or a NUL byte");
}

}  // namespace pgpipe::core
