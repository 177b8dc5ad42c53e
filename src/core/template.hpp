// Scans `{{ ... }}` placeholders in block SQL and URLs. The text between the braces is a SQL
// expression that Postgres evaluates at run time, or the name of a block's output; this file
// only finds the pieces, it evaluates nothing (no home-made expression language).
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

struct TemplatePiece {
  bool is_expression = false;
  std::string text;    // literal text, or the trimmed expression
  size_t offset = 0;   // byte offset of the piece in the template
};

// Splits `text` into literal and expression pieces; throws on an unterminated or empty `{{`.
// `what` names the template in errors ("sql of block \"x\"").
std::vector<TemplatePiece> ScanTemplate(const std::string& text, const std::string& what);

// True when `expression` is a bare name (letters, digits, underscores): a block or variable.
bool IsBareName(const std::string& expression);

// The 1-based line and column of byte `offset` in `text`, as "line L, column C".
std::string OffsetToLineColumn(const std::string& text, size_t offset);

}  // namespace pgpipe::core
