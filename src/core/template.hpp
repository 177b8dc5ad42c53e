// Scans `{{ ... }}` placeholders in block SQL and URLs. The text between the braces is a SQL
// expression that Postgres evaluates at run time, or the name of a block's output; this file
// only finds the pieces, it evaluates nothing (no home-made expression language).
#pragma once

#include <string>
#include <vector>

#include "core/spec.hpp"

namespace pgpipe::core {

struct TemplatePiece {
  bool is_expression = false;
  std::string text;    // literal text, or the trimmed expression
  size_t offset = 0;   // byte offset of the piece in the template
};

// Splits `text` into literal and expression pieces; throws on an unterminated or empty `{{`.
// `what` names the template in errors ("sql of block \"x\""). With `where` (the text's place in
// the pipeline file) an error ends with the file's line and column of the "{{"; without it (or
// when the place is unknown), with the line and column inside the text.
std::vector<TemplatePiece> ScanTemplate(const std::string& text, const std::string& what,
                                        const TextPosition* where = nullptr);

// True when `expression` is a bare name (letters, digits, underscores): a block or variable.
bool IsBareName(const std::string& expression);

// The 1-based line and column of byte `offset` in `text`, as "line L, column C".
std::string OffsetToLineColumn(const std::string& text, size_t offset);

}  // namespace pgpipe::core
