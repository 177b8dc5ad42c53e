// CSV header handling: see csv_header.hpp.
#include "core/csv_header.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

std::string JoinQuoted(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + ("\"" + n + "\"");
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string Lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The target column `name` loads into: the exact name, else the only case-insensitive match.
std::string MatchColumn(const std::string& name, const std::vector<std::string>& target) {
  if (Contains(target, name)) return name;
  std::string found;
  for (const auto& column : target) {
    if (Lower(column) != Lower(name)) continue;
    if (!found.empty()) return "";
    found = column;
  }
  return found;
}

}  // namespace

std::vector<std::string> SplitCsvLine(const std::string& line, char delimiter, char quote) {
  std::vector<std::string> fields;
  std::string field;
  bool in_quotes = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (in_quotes) {
      if (c == quote && i + 1 < line.size() && line[i + 1] == quote) {
        field += quote;
        ++i;
      } else if (c == quote) {
        in_quotes = false;
      } else {
        field += c;
      }
    } else if (c == quote) {
      in_quotes = true;
    } else if (c == delimiter) {
      fields.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(field);
  return fields;
}

std::string HeaderCheck::Detail() const {
  std::string out;
  if (!extra.empty())
    out += "The file has columns the target lacks: " + JoinQuoted(extra) + ".";
  if (!missing.empty())
    out += std::string(out.empty() ? "" : " ") + "The file lacks columns: " + JoinQuoted(missing) + ".";
  return out;
}

HeaderCheck CheckHeader(const std::vector<std::string>& header,
                        const std::vector<std::string>& target,
                        const std::vector<std::string>& declared) {
  HeaderCheck check;
  std::set<std::string> seen;
  for (const auto& name : header) {
    std::string column = MatchColumn(name, target);
    if (column.empty() || !seen.insert(column).second)
      check.extra.push_back(name);
    else
      check.columns.push_back(column);
  }
  for (const auto& name : declared)
    if (!Contains(header, name)) check.missing.push_back(name);
  // Target columns the file lacks are fine on their own (they get their defaults), but beside
  // extra columns they are most likely the other half of a rename: name them too.
  if (!check.extra.empty())
    for (const auto& name : target)
      if (!Contains(check.columns, name) && !Contains(check.missing, name))
        check.missing.push_back(name);
  return check;
}

DeclaredFit FitDeclared(const std::vector<std::string>& header, const std::vector<std::string>& declared,
                         const std::vector<std::string>& optional) {
  DeclaredFit fit;
  for (const auto& name : declared) {
    bool is_optional = !MatchColumn(name, optional).empty();
    if (!is_optional || !MatchColumn(name, header).empty()) fit.required.push_back(name);
  }
  if (!optional.empty())
    for (const auto& name : header)
      if (MatchColumn(name, declared).empty()) fit.undeclared.push_back(name);
  return fit;
}

}  // namespace pgpipe::core
