// Template scanning: see template.hpp.
#include "core/template.hpp"

#include <cctype>

#include "core/error.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

// Counts lines and columns up to the offset.
std::string OffsetToLineColumn(const std::string& text, size_t offset) {
  int line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

namespace {

// Where an error at `offset` of the template is: in the file when known, else in the text.
std::string Place(const std::string& text, size_t offset, const TextPosition* where) {
  if (where != nullptr && where->start.line > 0) return " at " + where->At(offset).ToString();
  return " (" + OffsetToLineColumn(text, offset) + " of its text)";
}

}  // namespace

// Finds each "{{" and its "}}", left to right.
std::vector<TemplatePiece> ScanTemplate(const std::string& text, const std::string& what,
                                        const TextPosition* where) {
  std::vector<TemplatePiece> pieces;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      pieces.push_back({false, text.substr(pos), pos});
      break;
    }
    if (open > pos) pieces.push_back({false, text.substr(pos, open - pos), pos});
    size_t close = text.find("}}", open + 2);
    if (close == std::string::npos)
      throw Error(sqlstate::kSyntaxError,
                  "unterminated \"{{\" in " + what + Place(text, open, where), "",
                  "Close the placeholder with \"}}\".");
    std::string inner = text.substr(open + 2, close - open - 2);
    size_t first = inner.find_first_not_of(" \t\r\n");
    size_t last = inner.find_last_not_of(" \t\r\n");
    if (first == std::string::npos)
      throw Error(sqlstate::kSyntaxError, "empty \"{{ }}\" in " + what + Place(text, open, where));
    pieces.push_back({true, inner.substr(first, last - first + 1), open});
    pos = close + 2;
  }
  return pieces;
}

// Letters, digits and underscores, not starting with a digit.
bool IsBareName(const std::string& expression) {
  if (expression.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(expression[0])) || expression[0] == '_'))
    return false;
  for (unsigned char c : expression)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

}  // namespace pgpipe::core
