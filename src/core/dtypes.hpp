// Column types as users write them: Postgres type names, or the pandas / Mage dtype names that
// Mage users already have in their loaders (Int64, float64, str, datetime64[ns], ...).
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

// The Postgres type for a pandas dtype name, or "" when `written` is not a pandas dtype.
std::string PandasToPostgres(const std::string& written);

// The Postgres type to use for `written`: the pandas mapping, else `written` itself when it is
// shaped like a Postgres type name (existence is checked by the server), else "".
std::string MapColumnType(const std::string& written);

// Every pandas dtype name we accept plus common Postgres type names, for "did you mean" hints.
const std::vector<std::string>& KnownTypeNames();

}  // namespace pgpipe::core
