// Rewrites a CSV stream on its way into COPY so that the fields pandas' read_csv reads as missing
// load as NULL: a field whose value is one of the NA strings ("NA", "NULL", "nan"..., quoted or
// not) becomes an empty unquoted field, which COPY (format csv, NULL '', CSV's default) reads as
// NULL. Every other byte passes through unchanged, quotes and line breaks included, so COPY's
// records, line numbers and errors stay the file's own.
//
// Fields are found as PostgreSQL 15's COPY finds them (CopyReadLineText, CopyReadAttributesCSV):
// a quote anywhere in a field opens a quoted part, inside which delimiters and line breaks are
// data and the escape makes a following quote or escape literal; a delimiter outside quotes ends
// the field, a '\n' or '\r' outside quotes ends the record. A field's value is what COPY makes of
// it: its bytes when unquoted, the unquoted text otherwise ("NA" and N"A" are NA, "N""A" is not).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/csv_dialect.hpp"

namespace pgpipe::core {

// pandas' default NA strings (read_csv's STR_NA_VALUES in pandas 1.5, Debian 12's), "" included.
// pandas 2.0 added "None".
const std::vector<std::string>& PandasNaValues();

// Rewrites one CSV stream, fed in pieces split at any byte. Not thread-safe; one stream per object.
//
// Rules: with the header on, the first record passes untouched. A field is replaced by nothing
// when its value is a non-empty NA string; an empty value becomes NULL only when "" is among the
// NA strings and the field is quoted ("" or N""-like forms; unquoted empty is NULL for COPY
// already). A field whose raw bytes exceed MaxCarry() is never NA: only runs of empty quote
// pairs under an escape distinct from the quote (""""""NA with ESCAPE '\') can make a field
// that long whose value is still NA, and those pass through. An unterminated quoted field at
// the end passes through (COPY reports it). A last record that is one NA field and no line
// ending becomes a line ending (the first record's style), so COPY still reads a row of NULL;
// a record of one NA field between an unquoted '\r' and '\n' stays (removing it would make them
// "\r\n"; COPY fails on such a file anyway, and must still).
//
// Memory: a field is held back across feeds only while it may still be NA, so at most
// MaxCarry() bytes (4 x the longest NA string + 2) are kept, whatever the field lengths.
class CsvNaRewriter {
 public:
  // The longest NA string accepted: MaxCarry() stays at most 4098 bytes, far below the 64 KiB
  // COPY asks its data callback for.
  static constexpr size_t kMaxNaValueBytes = 1024;

  // Throws Error 22023 for a dialect COPY would refuse or the scan cannot follow (a line break
  // or NUL as delimiter, quote or escape; delimiter equal to quote; a backslash delimiter, with
  // which a removed field could make "\." begin a line), and for an NA string that holds the
  // delimiter, the quote, a line break or a NUL byte (it could never be one field's value), that
  // is part of COPY's end-of-copy marker "\." (erasing it would load rows COPY stops before), or
  // that is longer than kMaxNaValueBytes.
  CsvNaRewriter(std::vector<std::string> na_values, CsvDialect dialect, bool header);

  // The most bytes one call writes beyond the bytes it is given: a field held back from earlier
  // feeds, released once it turns out not to be NA.
  size_t MaxCarry() const { return max_held_; }

  // Rewrites the next n bytes of the stream into out, which must have room for n + MaxCarry()
  // bytes, and returns how many it wrote: possibly 0, when every byte was held back or removed.
  // out may overlap in only as out + MaxCarry() <= in (read the source into buf + MaxCarry(),
  // rewrite into buf): the writes never overtake the reads.
  size_t Rewrite(const char* in, size_t n, char* out);

  // Declares the end of the stream and writes the held field, if any, unless it is NA: at most
  // MaxCarry() bytes. Later calls write nothing; Rewrite after it throws XX000.
  size_t Finish(char* out);

  // The same, appending to *out (tests and callers that want a string).
  void Feed(const char* in, size_t n, std::string* out);
  void Finish(std::string* out);

  // Fields made NULL so far.
  int64_t Replaced() const { return replaced_; }

 private:
  bool IsNaField(const char* raw, size_t len, bool had_quote);
  bool IsNaString(const char* s, size_t len) const;
  bool Unquote(const char* raw, size_t len, size_t* value_len);
  char* ReleaseHeld(char* w);
  void NoteLineEnding(const char* q, const char* end);

  enum class Eol : uint8_t { kUnknown, kNl, kCr, kCrNl };

  // Configuration.
  char delimiter_;
  char quote_;
  char escape_;                 // the escape as COPY's field reader uses it (may equal quote_)
  char distinct_escape_;        // '\0' when the escape is the quote
  bool na_empty_ = false;       // "" is an NA string
  size_t max_len_ = 0;          // the longest non-empty NA string
  size_t max_held_ = 0;         // MaxCarry()
  uint64_t first_[256] = {};    // bit min(len, 63): an NA string that long starts with the byte
  std::vector<std::vector<std::string>> by_length_;  // non-empty NA strings by length

  // Where the scan is, kept across feeds.
  bool in_quote_ = false;
  bool esc_pending_ = false;  // inside quotes, a distinct escape ended the previous feed
  bool had_quote_ = false;    // the current field has a quoted part
  bool in_header_;            // the current record is the header: passes untouched
  bool passing_ = false;      // the current field is known not NA; its bytes are already out
  bool first_field_ = true;   // the current field is its record's first
  bool after_cr_ = false;     // the current record began after an unquoted '\r'
  Eol eol_ = Eol::kUnknown;   // the first record's line ending: COPY's for the whole file
  bool cr_pending_ = false;   // that line ending began with '\r' at the end of the last feed
  bool finished_ = false;
  std::string held_;          // the current field's bytes from earlier feeds, while it may be NA
  std::string joined_;        // a held field joined with its end in the current feed
  std::string value_;         // a quoted field's value (max_len_ bytes)
  int64_t replaced_ = 0;
};

}  // namespace pgpipe::core
