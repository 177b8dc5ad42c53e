// How a CSV file is written, as COPY's CSV options say it: shared by the scanners that must read
// a stream exactly as PostgreSQL 15's COPY does (csv_chunker cuts it into records, csv_na
// rewrites its NA fields).
#pragma once

#include "core/error.hpp"

namespace pgpipe::core {

// The COPY options that decide where CSV records and fields end. escape == quote (COPY's
// default) means doubled quotes.
struct CsvDialect {
  char delimiter = ',';
  char quote = '"';
  char escape = '"';
};

// The escape as COPY's scanners use it: '\0' when it equals the quote, since COPY then ignores
// it (a doubled quote is a quote in both readings).
inline char DistinctEscape(const CsvDialect& d) { return d.escape == d.quote ? '\0' : d.escape; }

// Throws Error 22023 when the delimiter, quote or escape is a line break or a NUL byte: a scanner
// that finds records by those bytes could not tell them apart.
void CheckCsvDialectBytes(const CsvDialect& d);

}  // namespace pgpipe::core
