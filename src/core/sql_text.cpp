// SQL quoting: see sql_text.hpp.
#include "core/sql_text.hpp"

#include "core/pg_free.hpp"

namespace pgpipe::core {

std::string QuoteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QualifiedName(const std::string& schema, const std::string& table) {
  return QuoteIdent(schema) + "." + QuoteIdent(table);
}

std::string QuoteLiteral(const std::string& text) {
  bool backslash = text.find('\\') != std::string::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string IdentList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + QuoteIdent(n);
  return out;
}

}  // namespace pgpipe::core
