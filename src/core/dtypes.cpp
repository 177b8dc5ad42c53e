// pandas dtype names to Postgres types: see dtypes.hpp.
#include "core/dtypes.hpp"

#include <cctype>
#include <map>
#include <string>

#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

const std::map<std::string, std::string>& PandasTable() {
  static const std::map<std::string, std::string> table = {
      {"Int8", "smallint"},      {"Int16", "smallint"},     {"Int32", "integer"},
      {"Int64", "bigint"},       {"int8", "smallint"},      {"int16", "smallint"},
      {"int32", "integer"},      {"int64", "bigint"},       {"UInt8", "smallint"},
      {"UInt16", "integer"},     {"UInt32", "bigint"},      {"UInt64", "numeric(20,0)"},
      {"uint8", "smallint"},     {"uint16", "integer"},     {"uint32", "bigint"},
      {"uint64", "numeric(20,0)"}, {"float16", "real"},     {"float32", "real"},
      {"float64", "double precision"}, {"Float32", "real"}, {"Float64", "double precision"},
      {"float", "double precision"}, {"str", "text"},       {"string", "text"},
      {"object", "text"},        {"category", "text"},      {"bool", "boolean"},
      {"boolean", "boolean"},    {"datetime64", "timestamp"}, {"datetime64[ns]", "timestamp"},
      {"datetime64[us]", "timestamp"}, {"datetime64[ms]", "timestamp"},
      {"datetime64[s]", "timestamp"}, {"datetime64[ns, UTC]", "timestamptz"},
      {"datetime", "timestamp"}, {"timedelta64[ns]", "interval"},
  };
  return table;
}

}  // namespace

std::string PandasToPostgres(const std::string& written) {
  auto it = PandasTable().find(written);
  return it == PandasTable().end() ? "" : it->second;
}

namespace {

// (U?Int|u?int|Float|float)[0-9]+ or (datetime|timedelta)64.*, written by hand (std::regex
// overflows the stack on a long type name).
bool LooksLikePandasType(const std::string& written) {
  for (const char* head : {"UInt", "Int", "uint", "int", "Float", "float"}) {
    size_t n = std::char_traits<char>::length(head);
    if (written.size() > n && written.compare(0, n, head) == 0 &&
        written.find_first_not_of("0123456789", n) == std::string::npos)
      return true;
  }
  return written.rfind("datetime64", 0) == 0 || written.rfind("timedelta64", 0) == 0;
}

}  // namespace

// A pandas dtype's Postgres type, or the written type itself when it reads like a SQL type.
std::string MapColumnType(const std::string& written) {
  std::string mapped = PandasToPostgres(written);
  if (!mapped.empty()) return mapped;
  // Shaped like a pandas dtype but not one: a typo such as Int65 or float46.
  if (LooksLikePandasType(written)) return "";
  if (written.empty() || !std::isalpha(static_cast<unsigned char>(written[0]))) return "";
  for (unsigned char c : written) {
    if (!(std::isalnum(c) || c == '_' || c == ' ' || c == '(' || c == ')' || c == ',' ||
          c == '[' || c == ']' || c == '.' || c == '"'))
      return "";
  }
  return written;
}

const std::vector<std::string>& KnownTypeNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : PandasTable()) out.push_back(entry.first);
    for (const char* pg : {"bigint", "integer", "smallint", "numeric", "real", "double precision",
                           "text", "varchar", "boolean", "timestamp", "timestamptz", "date",
                           "time", "interval", "jsonb", "json", "uuid", "bytea"})
      out.push_back(pg);
    return out;
  }();
  return names;
}

}  // namespace pgpipe::core
