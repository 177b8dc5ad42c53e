// The NA field rewriter: see csv_na.hpp.
//
// The scan: 64 bytes at a time, a bit mask (SSE2, or a plain loop) marks the bytes that can
// matter (delimiter, quote, escape, '\n', '\r'); the loop visits only those, in order, and keeps
// COPY's quote state:
//   outside quotes: the quote opens a quoted part; the delimiter ends the field; '\n' or '\r'
//     ends the field and the record. Which line ending style COPY takes is its business: every
//     unquoted '\r' or '\n' ends a record or is an error COPY raises, and neither is ever
//     removed. The style matters here twice only, at the rare records that are one NA field:
//     the last one, without a line ending, gets the style's ending, and one between '\r' and
//     '\n' stays, or removing it would join them into "\r\n".
//   inside quotes: the quote closes the part (a doubled quote closes and reopens: a literal quote
//     in the value); a distinct escape makes a following quote or escape literal, skipped.
// At a field's end its value is checked only when it can be NA: by its length and first byte
// against a table, then by comparing bytes; with a quoted part, by unquoting it as
// CopyReadAttributesCSV does. An NA field's bytes are left out of the output; everything else is
// copied in spans as long as the feed, once.
//
// Across feeds the state is a few flags (in quotes, an escape ending the last feed, a quoted
// part seen, the field known not NA, the record's first field, after a '\r', the style) and the
// bytes of a field that began in an earlier feed and can still be NA (at most MaxCarry()).
#include "core/csv_na.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstring>

#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

constexpr size_t kBlock = 64;

// Marks, 64 bytes at a time, the bytes the scan must look at.
class EventMask {
 public:
  EventMask(char delimiter, char quote, char escape)
      : delimiter_(delimiter), quote_(quote), escape_(escape) {
#if defined(__SSE2__)
    delimiter_v_ = _mm_set1_epi8(delimiter);
    quote_v_ = _mm_set1_epi8(quote);
    escape_v_ = _mm_set1_epi8(escape);
    nl_v_ = _mm_set1_epi8('\n');
    cr_v_ = _mm_set1_epi8('\r');
#endif
  }

  // Bit i set when p[i] is the delimiter, the quote, the escape, '\n' or '\r'; p has 64 bytes.
  uint64_t Block(const char* p) const {
#if defined(__SSE2__)
    return Mask16(p) | Mask16(p + 16) << 16 | Mask16(p + 32) << 32 | Mask16(p + 48) << 48;
#else
    uint64_t m = 0;
    for (size_t i = 0; i < kBlock; ++i) m |= static_cast<uint64_t>(Is(p[i])) << i;
    return m;
#endif
  }

  // The same for the n < 64 bytes at p (the rest of the bits clear).
  uint64_t Tail(const char* p, size_t n) const {
    uint64_t m = 0;
    for (size_t i = 0; i < n; ++i) m |= static_cast<uint64_t>(Is(p[i])) << i;
    return m;
  }

 private:
  bool Is(char c) const {
    return c == delimiter_ || c == quote_ || c == escape_ || c == '\n' || c == '\r';
  }

#if defined(__SSE2__)
  uint64_t Mask16(const char* p) const {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, delimiter_v_), _mm_cmpeq_epi8(x, quote_v_)),
        _mm_or_si128(_mm_cmpeq_epi8(x, escape_v_),
                     _mm_or_si128(_mm_cmpeq_epi8(x, nl_v_), _mm_cmpeq_epi8(x, cr_v_))));
    return static_cast<uint32_t>(_mm_movemask_epi8(m));
  }
  __m128i delimiter_v_, quote_v_, escape_v_, nl_v_, cr_v_;
#endif
  char delimiter_, quote_, escape_;
};

// Copies [from, to) to w (they may overlap, w never after from) and returns the new end of w.
inline char* Put(char* w, const char* from, const char* to) {
  size_t n = static_cast<size_t>(to - from);
  if (n != 0 && w != from) std::memmove(w, from, n);
  return w + n;
}

// The error for an NA string the rewriter cannot honour, control bytes shown as C escapes.
Error BadNaValue(const std::string& value, const std::string& detail) {
  std::string shown;
  for (unsigned char c : value) {
    if (c == '\n') {
      shown += "\\n";
    } else if (c == '\r') {
      shown += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      const char* hex = "0123456789abcdef";
      shown += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    } else {
      shown += static_cast<char>(c);
    }
  }
  return Error(sqlstate::kInvalidParameterValue, "invalid NA value \"" + shown + "\"", detail);
}

// The pieces COPY's end-of-copy marker "\." splits into at the delimiter.
std::vector<std::string> MarkerPieces(char delimiter) {
  std::vector<std::string> pieces(1);
  for (char c : std::string("\\.")) {
    if (c == delimiter)
      pieces.emplace_back();
    else
      pieces.back() += c;
  }
  return pieces;
}

}  // namespace

const std::vector<std::string>& PandasNaValues() {
  static const std::vector<std::string> values = {
      "",     "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
      "1.#QNAN", "<NA>", "N/A",   "NA",   "NULL",    "NaN",      "n/a",  "nan",  "null"};
  return values;
}

CsvNaRewriter::CsvNaRewriter(std::vector<std::string> na_values, CsvDialect dialect, bool header)
    : delimiter_(dialect.delimiter),
      quote_(dialect.quote),
      escape_(dialect.escape),
      distinct_escape_(DistinctEscape(dialect)),
      in_header_(header) {
  CheckCsvDialectBytes(dialect);
  if (dialect.delimiter == dialect.quote)
    throw Error(sqlstate::kInvalidParameterValue, "CSV delimiter and quote must be different");
  if (dialect.delimiter == '\\')
    throw Error(sqlstate::kInvalidParameterValue,
                "CSV NA values cannot be rewritten with backslash as the delimiter",
                "Removing an NA first field before \"\\.\" would make COPY's end-of-copy marker.");
  const std::vector<std::string> marker = MarkerPieces(delimiter_);
  for (const std::string& value : na_values) {
    for (char c : value) {
      if (c == delimiter_ || c == quote_ || c == '\n' || c == '\r' || c == '\0')
        throw BadNaValue(value,
                         "An NA value cannot hold the CSV delimiter, the quote, a line break or "
                         "a NUL byte: no single field could have it as its value.");
    }
    if (!value.empty() && std::find(marker.begin(), marker.end(), value) != marker.end())
      throw BadNaValue(value,
                       "It is part of COPY's end-of-copy marker \"\\.\", which a rewrite must "
                       "not erase.");
    if (value.size() > kMaxNaValueBytes)
      throw Error(sqlstate::kInvalidParameterValue,
                  "NA value is longer than " + std::to_string(kMaxNaValueBytes) + " bytes",
                  "It begins \"" + value.substr(0, 32) + "\".",
                  "A longer value would make the rewriter hold back more than a COPY read.");
    if (value.empty()) {
      na_empty_ = true;
      continue;
    }
    size_t len = value.size();
    max_len_ = std::max(max_len_, len);
    if (by_length_.size() <= len) by_length_.resize(len + 1);
    std::vector<std::string>& same = by_length_[len];
    if (std::find(same.begin(), same.end(), value) == same.end()) same.push_back(value);
    first_[static_cast<unsigned char>(value[0])] |= uint64_t{1} << std::min<size_t>(len, 63);
  }
  // Raw bytes per value byte: at most 4 ("\\" in its own quotes), plus 2 for "" alone.
  max_held_ = 4 * max_len_ + 2;
  held_.reserve(max_held_);
  joined_.reserve(max_held_);
  value_.resize(max_len_);
}

size_t CsvNaRewriter::Rewrite(const char* in, size_t n, char* out) {
  if (finished_) throw Error(sqlstate::kInternalError, "CSV NA rewriter fed after Finish");
  if (n == 0) return 0;
  const char* const end = in + n;
  const EventMask events(delimiter_, quote_, distinct_escape_ != '\0' ? distinct_escape_ : quote_);
  const char q_char = quote_;
  const char d_char = delimiter_;
  const char e_char = distinct_escape_;
  // The scan's state in locals, stored back at the end.
  bool in_quote = in_quote_;
  bool had_quote = had_quote_;
  bool in_header = in_header_;
  bool passing = passing_ || in_header;
  bool first_field = first_field_;
  bool after_cr = after_cr_;
  const char* field = in;      // the current field's first byte in this feed (held_ before it)
  const char* copy_from = in;  // the first byte not yet written
  const char* skip = nullptr;  // a byte made literal by the escape before it
  char* w = out;
  if (esc_pending_) {
    esc_pending_ = false;
    if (in[0] == e_char || in[0] == q_char) skip = in;
  }
  if (cr_pending_) {
    cr_pending_ = false;
    eol_ = in[0] == '\n' ? Eol::kCrNl : Eol::kCr;
  }

  bool have_held = !held_.empty();
  // A field ends just before q (at a delimiter or line break outside quotes); keep: it stays
  // even if NA. Inlined, so that the scan's state stays in registers.
  auto end_field = [&](const char* q, bool keep) __attribute__((always_inline)) {
    const size_t len = static_cast<size_t>(q - field);
    if (!(passing | had_quote | have_held)) {
      // The hot path, an unquoted field: the table of first bytes and lengths rules out almost
      // every field without a branch on its length (*field is q's byte when len is 0: bit 0 is
      // never set).
      const uint64_t lengths = first_[static_cast<unsigned char>(*field)];
      if (__builtin_expect((lengths >> std::min<size_t>(len, 63)) & 1, 0) && !keep &&
          IsNaString(field, len)) {
        w = Put(w, copy_from, field);
        copy_from = q;
        ++replaced_;
      }
    } else if (!passing) {
      if (!have_held) {
        if (!keep && IsNaField(field, len, true)) {
          w = Put(w, copy_from, field);
          copy_from = q;
          ++replaced_;
        }
      } else {
        // The field began in an earlier feed: nothing of this feed is written yet.
        bool na = false;
        if (held_.size() + len <= max_held_) {
          joined_.assign(held_);
          joined_.append(field, len);
          na = IsNaField(joined_.data(), joined_.size(), had_quote);
        }
        if (na && !keep) {
          copy_from = q;
          ++replaced_;
        } else {
          w = ReleaseHeld(w);
        }
        held_.clear();
        have_held = false;
      }
    }
    had_quote = false;
    passing = in_header;
    field = q + 1;
  };

  for (const char* block = in; block < end; block += kBlock) {
    size_t avail = static_cast<size_t>(end - block);
    uint64_t m = avail >= kBlock ? events.Block(block) : events.Tail(block, avail);
    while (m != 0) {
      const char* q = block + __builtin_ctzll(m);
      m &= m - 1;
      const char c = *q;
      if (c == d_char && !in_quote) {  // the most common event first
        end_field(q, false);
        first_field = false;
        continue;
      }
      if (q == skip) continue;
      if (in_quote) {
        if (c == e_char) {
          if (q + 1 == end)
            esc_pending_ = true;
          else if (q[1] == e_char || q[1] == q_char)
            skip = q + 1;
        } else if (c == q_char) {
          in_quote = false;
        }
      } else if (c == q_char) {
        in_quote = true;
        had_quote = true;
      } else if (c == '\n' || c == '\r') {
        if (eol_ == Eol::kUnknown) NoteLineEnding(q, end);
        in_header = false;
        // A record of one NA field between '\r' and '\n' stays: without it they would be one
        // "\r\n", a line ending the file does not have there (COPY fails on the original).
        end_field(q, first_field && after_cr && c == '\n');
        first_field = true;
        after_cr = c == '\r';
      }
    }
  }

  // The feed ends inside a field: hold it while it may be NA, else let it through.
  if (passing) {
    w = Put(w, copy_from, end);
  } else {
    size_t len = held_.size() + static_cast<size_t>(end - field);
    if (len > max_held_) {
      w = ReleaseHeld(w);
      held_.clear();
      w = Put(w, copy_from, end);
      passing = true;
    } else {
      w = Put(w, copy_from, field);
      held_.append(field, end);
    }
  }
  in_quote_ = in_quote;
  had_quote_ = had_quote;
  in_header_ = in_header;
  passing_ = passing && !in_header;
  first_field_ = first_field;
  after_cr_ = after_cr;
  return static_cast<size_t>(w - out);
}

// Notes the first record's line ending (COPY's style for the file) from its first byte at q.
void CsvNaRewriter::NoteLineEnding(const char* q, const char* end) {
  if (*q == '\n')
    eol_ = Eol::kNl;
  else if (q + 1 == end)
    cr_pending_ = true;
  else
    eol_ = q[1] == '\n' ? Eol::kCrNl : Eol::kCr;
}

size_t CsvNaRewriter::Finish(char* out) {
  if (finished_) return 0;
  finished_ = true;
  if (held_.empty()) return 0;
  std::string field;
  field.swap(held_);
  // An unterminated quoted field is COPY's error to report: it passes.
  if (!in_quote_ && IsNaField(field.data(), field.size(), had_quote_)) {
    ++replaced_;
    if (!first_field_) return 0;
    // The last record is this field alone, with no line ending: without its bytes it would be
    // no record at all, so it ends with the file's line ending instead (an empty line: NULL).
    if (cr_pending_) eol_ = Eol::kCr;
    const char* ending = eol_ == Eol::kCr ? "\r" : eol_ == Eol::kCrNl ? "\r\n" : "\n";
    std::memcpy(out, ending, std::strlen(ending));
    return std::strlen(ending);
  }
  std::memcpy(out, field.data(), field.size());
  return field.size();
}

void CsvNaRewriter::Feed(const char* in, size_t n, std::string* out) {
  size_t old = out->size();
  out->resize(old + n + max_held_);
  size_t wrote = Rewrite(in, n, out->data() + old);
  out->resize(old + wrote);
}

void CsvNaRewriter::Finish(std::string* out) {
  size_t old = out->size();
  out->resize(old + max_held_);
  size_t wrote = Finish(out->data() + old);
  out->resize(old + wrote);
}

// Whether a whole field, its len raw bytes at raw, has an NA value as COPY reads it.
bool CsvNaRewriter::IsNaField(const char* raw, size_t len, bool had_quote) {
  if (len > max_held_) return false;
  if (!had_quote) return IsNaString(raw, len);
  if (len < 2) return false;  // (cannot be: a field ends outside quotes)
  // A quoted part has at least its two quotes, so the value is at most len - 2 bytes; when its
  // first byte is plain data, the table rules most fields out ("2021-01-01 00:00:00", "N").
  const char* first = raw[0] == quote_ ? raw + 1 : raw;
  if (*first != quote_ && *first != escape_) {
    const uint64_t shorter = len - 2 >= 63 ? ~uint64_t{0} : (uint64_t{2} << (len - 2)) - 1;
    if ((first_[static_cast<unsigned char>(*first)] & shorter) == 0) return false;
  }
  size_t value_len = 0;
  if (!Unquote(raw, len, &value_len)) return false;
  return value_len == 0 ? na_empty_ : IsNaString(value_.data(), value_len);
}

// Whether the len bytes at s are a non-empty NA string.
bool CsvNaRewriter::IsNaString(const char* s, size_t len) const {
  if (len == 0 || len > max_len_) return false;
  for (const std::string& value : by_length_[len])
    if (std::memcmp(value.data(), s, len) == 0) return true;
  return false;
}

// The value CopyReadAttributesCSV reads from a field with a quoted part, into value_; false
// when it cannot be NA (a literal quote, longer than every NA string, or an open quote).
bool CsvNaRewriter::Unquote(const char* raw, size_t len, size_t* value_len) {
  char* value = value_.data();
  size_t n = 0;
  bool quoted = false;
  for (size_t i = 0; i < len;) {
    char c = raw[i++];
    if (!quoted) {
      if (c == quote_) {
        quoted = true;
        continue;
      }
    } else if (c == escape_ && i < len && (raw[i] == escape_ || raw[i] == quote_)) {
      c = raw[i++];
      if (c == quote_) return false;
    } else if (c == quote_) {
      quoted = false;
      continue;
    }
    if (n == max_len_) return false;
    value[n++] = c;
  }
  if (quoted) return false;
  *value_len = n;
  return true;
}

// Writes the held bytes of the current field at w; returns the new end of w.
char* CsvNaRewriter::ReleaseHeld(char* w) {
  if (held_.empty()) return w;
  std::memcpy(w, held_.data(), held_.size());
  return w + held_.size();
}

}  // namespace pgpipe::core
