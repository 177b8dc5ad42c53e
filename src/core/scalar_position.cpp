// Scalar positions: see scalar_position.hpp.
#include "core/scalar_position.hpp"

#include <yaml-cpp/yaml.h>

#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

// True for the bytes YAML may drop or replace between a scalar's text and its value.
bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// A read position in the file that knows its line and column.
struct Cursor {
  const std::string& file;
  size_t pos;
  int line;
  int column;

  bool AtEnd() const { return pos >= file.size(); }
  char Peek() const { return file[pos]; }
  // Moves one byte on, across line breaks.
  void Step() {
    if (file[pos] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    ++pos;
  }
};

// Moves past the node's properties (&anchor, !tag), which the parser's mark includes.
void SkipProperties(Cursor& c) {
  while (!c.AtEnd() && (c.Peek() == '&' || c.Peek() == '!')) {
    while (!c.AtEnd() && !IsBlank(c.Peek())) c.Step();
    while (!c.AtEnd() && IsBlank(c.Peek())) c.Step();
  }
}

}  // namespace

// Finds where the text starts for the scalar's style, then aligns text and file byte by byte.
TextPosition LocateScalar(const std::string& file, const YAML::Node& node) {
  TextPosition out;
  if (!node.IsDefined() || !node.IsScalar()) return out;
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return out;
  out.start = {mark.line + 1, mark.column + 1, {}};
  // yaml-cpp counts positions after a byte order mark.
  size_t bom = file.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  Cursor c{file, static_cast<size_t>(mark.pos) + bom, mark.line + 1, mark.column + 1};
  if (c.AtEnd()) return out;
  SkipProperties(c);
  if (c.AtEnd()) return out;
  char style = c.Peek();
  if (style == '|' || style == '>') {
    // The text starts on the line after the block header (| or >, indicators, a comment).
    while (!c.AtEnd() && c.Peek() != '\n') c.Step();
  } else if (style == '"' || style == '\'') {
    c.Step();
  }
  const std::string& text = node.Scalar();
  for (size_t offset = 0; offset < text.size(); ++offset) {
    char want = text[offset];
    // Blanks the text has and the file has not (folding made them) are skipped in the text;
    // blanks the file has and the text has not (indentation) are skipped in the file.
    while (!c.AtEnd() && c.Peek() != want && IsBlank(c.Peek())) c.Step();
    if (IsBlank(want) && (c.AtEnd() || c.Peek() != want)) continue;
    if (c.AtEnd() || c.Peek() != want) {
      out.exact_until = offset;
      break;
    }
    bool continues = !out.runs.empty() && out.runs.back().at.line == c.line &&
                     out.runs.back().at.column + static_cast<int>(offset - out.runs.back().offset) ==
                         c.column;
    if (!continues) out.runs.push_back({offset, {c.line, c.column, {}}});
    c.Step();
    // A single-quoted scalar writes ' as '': the second quote has no byte of its own.
    if (style == '\'' && want == '\'' && !c.AtEnd() && c.Peek() == '\'') c.Step();
  }
  return out;
}

}  // namespace pgpipe::core
