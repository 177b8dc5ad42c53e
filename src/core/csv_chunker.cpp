// The CSV record chunker: see csv_chunker.hpp.
//
// The scan is PostgreSQL 15's CopyReadLineText (src/backend/commands/copyfromparse.c) for CSV,
// kept resumable across feeds of any size and made fast by jumping with SIMD (or a plain loop)
// to the next byte that can matter:
//   outside quotes: the quote, '\n' and '\r'. The quote opens a quoted field. A line break ends
//     the record when it is the first record's style (the first record fixes the style: '\n',
//     "\r\n" or a lone '\r'); any other line break is the error COPY raises for it.
//   inside quotes: the quote closes the field (a doubled quote is a close and a reopen); an
//     escape distinct from the quote makes a following quote or escape literal; '\n' and '\r'
//     are data, but COPY's line counter adds one per quoted '\n' in a '\n' file and one per
//     quoted '\r' otherwise (and while the style is still unknown, in the first record).
//   at a record start: "\." followed by the style's line ending is COPY's end-of-copy marker:
//     COPY stops there, so the chunker ends the data (later input is ignored).
// What needs bytes a feed has not brought yet is kept as a flag (a '\r' that may start "\r\n",
// an escape at the end of a feed) or, for a record that starts with '\\', as up to four held
// bytes until the marker question is settled.
//
// Line numbers: a chunk's COPY sees its first record before any line ending, so it counts that
// record's quoted line breaks as COPY counts a first record's ('\r'); line_offset corrects for
// it, so that every line the chunk's COPY reports maps to the whole file's by one addition.
//
// Bytes are copied once, from the feed into the chunk being built (in spans as large as the
// feed), and chunks are moved out.
#include "core/csv_chunker.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstring>

#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

constexpr const char* kUnquotedCr = "unquoted carriage return found in data";
constexpr const char* kUnquotedCrHint = "Use quoted CSV field to represent carriage return.";
constexpr const char* kUnquotedNl = "unquoted newline found in data";
constexpr const char* kUnquotedNlHint = "Use quoted CSV field to represent newline.";
constexpr const char* kMarkerMismatch =
    "end-of-copy marker does not match previous newline style";

// Finds the first of four bytes (repeats allowed) in a range, 32 or 16 bytes a step with SSE2.
class Finder {
 public:
  Finder(char a, char b, char c, char d) : a_(a), b_(b), c_(c), d_(d) {
#if defined(__SSE2__)
    va_ = _mm_set1_epi8(a);
    vb_ = _mm_set1_epi8(b);
    vc_ = _mm_set1_epi8(c);
    vd_ = _mm_set1_epi8(d);
#endif
  }

  // The first position in [p, end) holding one of the bytes, or end.
  const char* Find(const char* p, const char* end) const {
#if defined(__SSE2__)
    while (end - p >= 32) {
      unsigned lo = Mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      unsigned hi = Mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
      unsigned m = lo | (hi << 16);
      if (m != 0) return p + __builtin_ctz(m);
      p += 32;
    }
    if (end - p >= 16) {
      unsigned m = Mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      if (m != 0) return p + __builtin_ctz(m);
      p += 16;
    }
#endif
    for (; p < end; ++p) {
      char x = *p;
      if (x == a_ || x == b_ || x == c_ || x == d_) return p;
    }
    return end;
  }

 private:
#if defined(__SSE2__)
  // One bit per byte of x that is one of the four.
  unsigned Mask(__m128i x) const {
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va_), _mm_cmpeq_epi8(x, vb_)),
                             _mm_or_si128(_mm_cmpeq_epi8(x, vc_), _mm_cmpeq_epi8(x, vd_)));
    return static_cast<unsigned>(_mm_movemask_epi8(m));
  }
  __m128i va_, vb_, vc_, vd_;
#endif
  char a_, b_, c_, d_;
};

}  // namespace

CsvChunker::CsvChunker(CsvDialect dialect, size_t target_bytes, bool header,
                       size_t max_record_bytes)
    : quote_(dialect.quote),
      escape_(DistinctEscape(dialect)),
      target_(std::max<size_t>(target_bytes, 1)),
      max_record_(max_record_bytes),
      in_header_(header) {
  CheckCsvDialectBytes(dialect);
  if (dialect.quote == '\\')
    throw Error(sqlstate::kInvalidParameterValue,
                "a chunked CSV load cannot use backslash as the quote character",
                "A chunk's COPY could read a record that starts with \"\\.\" differently from a "
                "COPY of the whole file.",
                "Load the file with a single COPY.");
}

void CsvChunker::Feed(const char* data, size_t n, std::vector<CsvChunk>* out) {
  if (error_) throw *error_;
  if (finished_) throw Error(sqlstate::kInternalError, "CSV chunker fed after Finish");
  if (ended_ || n == 0) return;
  if (!held_.empty()) {
    size_t used = 0;
    while (used < n && CheckMarker(held_.data(), held_.size(), false) == Marker::kNeedMore)
      held_.push_back(data[used++]);
    data += used;
    n -= used;
    ResolveHeldMarker(false, out);
    if (ended_ || !held_.empty()) return;
  }
  Consume(data, n, out);
}

void CsvChunker::Finish(std::vector<CsvChunk>* out) {
  if (error_) throw *error_;
  if (finished_) return;
  if (!ended_ && !held_.empty()) ResolveHeldMarker(true, out);
  if (!ended_) {
    if (cr_pending_) {
      // COPY peeks past the '\r' and finds nothing: a lone '\r', fine only if it is the style.
      cr_pending_ = false;
      if (eol_ == Eol::kCrNl) Fail(kUnquotedCr, kUnquotedCrHint, CurrentLine());
      eol_ = Eol::kCr;
      EndRecord(nullptr);
    } else if (!at_record_start_) {
      EndRecord(nullptr);  // the last record has no line ending, or its quote never closed
    }
    if (!in_header_ && chunk_records_ > 0) Emit(true, out);
  }
  ended_ = finished_ = true;
}

// The scan proper: the loop of CopyReadLineText over n fed bytes, resumable at any byte.
void CsvChunker::Consume(const char* p, size_t n, std::vector<CsvChunk>* out) {
  const char* s = p;
  const char* const end = p + n;
  span_ = p;
  const Finder outside(quote_, '\n', '\r', quote_);
  const Finder inside(quote_, escape_ != '\0' ? escape_ : quote_, '\n', '\r');
  while (s < end) {
    if (cr_pending_) {
      cr_pending_ = false;
      if (*s == '\n') {
        eol_ = Eol::kCrNl;
        EndRecord(++s);
        continue;
      }
      if (eol_ == Eol::kCrNl) Fail(kUnquotedCr, kUnquotedCrHint, CurrentLine());
      eol_ = Eol::kCr;
      EndRecord(s);
      continue;
    }
    if (at_record_start_) {
      if (*s == '\\' && !marker_checked_) {
        Marker m = CheckMarker(s, static_cast<size_t>(end - s), false);
        if (m == Marker::kNeedMore) {
          Flush(s);
          held_.assign(s, end);
          span_ = nullptr;
          return;
        }
        if (m == Marker::kEnd) return EndOfCopy(s, out);
        if (m == Marker::kMismatch) Fail(kMarkerMismatch, nullptr, line_ + 1);
      }
      StartRecord(s, out);
    }
    if (esc_pending_) {
      esc_pending_ = false;
      if (*s == escape_ || *s == quote_) ++s;
      continue;
    }
    if (!in_quote_) {
      const char* q = outside.Find(s, end);
      if (q == end) break;
      s = q + 1;
      if (*q == quote_) {
        in_quote_ = true;
      } else if (*q == '\n') {
        if (eol_ == Eol::kCr || eol_ == Eol::kCrNl)
          Fail(kUnquotedNl, kUnquotedNlHint, CurrentLine());
        eol_ = Eol::kNl;
        EndRecord(s);
      } else if (eol_ == Eol::kNl) {  // '\r' from here on
        Fail(kUnquotedCr, kUnquotedCrHint, CurrentLine());
      } else if (eol_ == Eol::kCr) {
        EndRecord(s);
      } else if (s == end) {
        cr_pending_ = true;
      } else if (*s == '\n') {
        eol_ = Eol::kCrNl;
        EndRecord(++s);
      } else if (eol_ == Eol::kCrNl) {
        Fail(kUnquotedCr, kUnquotedCrHint, CurrentLine());
      } else {
        eol_ = Eol::kCr;
        EndRecord(s);
      }
      continue;
    }
    const char* q = inside.Find(s, end);
    if (q == end) break;
    s = q + 1;
    if (*q == '\n') {
      ++q_nl_;
    } else if (*q == '\r') {
      ++q_cr_;
    } else if (*q == quote_) {
      in_quote_ = false;
    } else if (s == end) {  // the escape, at the end of the feed
      esc_pending_ = true;
    } else if (*s == escape_ || *s == quote_) {
      ++s;  // an escaped quote or escape is data
    }
  }
  Flush(end);
  span_ = nullptr;
  if (!at_record_start_) CheckRecordSize(0);
}

// Settles a held record start once it has enough bytes (or the data has ended).
void CsvChunker::ResolveHeldMarker(bool at_eof, std::vector<CsvChunk>* out) {
  Marker m = CheckMarker(held_.data(), held_.size(), at_eof);
  if (m == Marker::kNeedMore) return;
  if (m == Marker::kEnd) return EndOfCopy(nullptr, out);
  if (m == Marker::kMismatch) Fail(kMarkerMismatch, nullptr, line_ + 1);
  std::string held = std::move(held_);
  held_.clear();
  marker_checked_ = true;
  Consume(held.data(), held.size(), out);
}

// Whether a record starting with the n bytes at b (b[0] == '\\') is COPY's end-of-copy marker,
// exactly as CopyReadLineText decides it (a missing byte at the end of data reads as '\0').
CsvChunker::Marker CsvChunker::CheckMarker(const char* b, size_t n, bool at_eof) const {
  if (n < 2) return at_eof ? Marker::kData : Marker::kNeedMore;
  if (b[1] != '.') return Marker::kData;
  size_t i = 2;
  if (eol_ == Eol::kCrNl) {
    if (n < 3) return at_eof ? Marker::kData : Marker::kNeedMore;
    if (b[2] != '\r') return Marker::kData;
    i = 3;
  }
  if (n <= i) return at_eof ? Marker::kData : Marker::kNeedMore;
  char c = b[i];
  if (c != '\r' && c != '\n') return Marker::kData;
  if ((eol_ == Eol::kNl && c != '\n') || (eol_ == Eol::kCrNl && c != '\n') ||
      (eol_ == Eol::kCr && c != '\r'))
    return Marker::kMismatch;
  return Marker::kEnd;
}

// A record begins at `at`: hands out the full chunk before it, if any, and notes where it starts.
void CsvChunker::StartRecord(const char* at, std::vector<CsvChunk>* out) {
  if (full_) {
    Flush(at);
    Emit(false, out);
  }
  at_record_start_ = false;
  marker_checked_ = false;
  rec_first_line_ = line_ + 1;
  q_nl_ = q_cr_ = 0;
  count_nl_ = eol_ == Eol::kNl;
  rec_off_ = chunk_.size() + static_cast<size_t>(at - span_);
  if (in_header_ || chunk_records_ != 0) return;
  chunk_first_record_ = records_ + 1;
  chunk_first_line_ = rec_first_line_;
  // Room for the chunk and the record that crosses the target, so appends never reallocate.
  size_t room = std::min<size_t>(target_, size_t{64} << 20) + std::min<size_t>(target_, 64 << 10);
  if (chunk_.capacity() < room) chunk_.reserve(room);
}

// The current record ends just before `at` (nullptr: at the end of the appended data).
void CsvChunker::EndRecord(const char* at) {
  CheckRecordSize(static_cast<size_t>(at - span_));
  int64_t counted = count_nl_ ? q_nl_ : q_cr_;
  line_ = rec_first_line_ + counted;
  ++records_;
  at_record_start_ = true;
  if (in_header_) {
    Flush(at);
    header_ = chunk_;
    chunk_.clear();
    in_header_ = false;
    have_header_ = true;
    return;
  }
  // The chunk's own COPY counts its first record's quoted '\r's, the whole file's `counted`.
  if (chunk_records_++ == 0) chunk_line_offset_ = chunk_first_line_ - 1 + counted - q_cr_;
  if (chunk_.size() + static_cast<size_t>(at - span_) >= target_) full_ = true;
}

// COPY's end-of-copy marker begins at `at`: the records before it are the last chunk.
void CsvChunker::EndOfCopy(const char* at, std::vector<CsvChunk>* out) {
  Flush(at);
  span_ = nullptr;
  held_.clear();
  ended_ = true;
  if (!in_header_ && chunk_records_ > 0) Emit(true, out);
  chunk_ = std::string();
}

// Moves the chunk built so far (complete records only) to *out and starts an empty one.
void CsvChunker::Emit(bool last, std::vector<CsvChunk>* out) {
  CsvChunk chunk;
  chunk.bytes = std::move(chunk_);
  chunk.first_line = chunk_first_line_;
  chunk.records = chunk_records_;
  chunk.last = last;
  chunk.first_record = chunk_first_record_;
  chunk.line_offset = chunk_line_offset_;
  out->push_back(std::move(chunk));
  chunk_ = std::string();
  chunk_records_ = 0;
  full_ = false;
}

// Appends the fed bytes before `at` to the chunk being built.
void CsvChunker::Flush(const char* at) {
  if (at != span_) chunk_.append(span_, static_cast<size_t>(at - span_));
  span_ = at;
}

// Throws 54000 when the current record, with `pending` bytes not yet appended, is too long.
void CsvChunker::CheckRecordSize(size_t pending) {
  size_t length = chunk_.size() + pending - rec_off_;
  if (length <= max_record_) return;
  error_ = Error(sqlstate::kProgramLimitExceeded,
                 "CSV record is longer than " + std::to_string(max_record_) + " bytes",
                 "The record that starts at line " + std::to_string(rec_first_line_) +
                     " has not ended after " + std::to_string(length) + " bytes.",
                 "A quoted field that is never closed makes the rest of the file one record.",
                 "CSV line " + std::to_string(rec_first_line_));
  throw *error_;
}

// COPY's cur_lineno at this point of the current record.
int64_t CsvChunker::CurrentLine() const {
  return rec_first_line_ + (count_nl_ ? q_nl_ : q_cr_);
}

// Fails the stream as COPY would fail reading the whole file; every later call throws it too.
void CsvChunker::Fail(const char* message, const char* hint, int64_t line) {
  error_ = Error(sqlstate::kBadCopyFileFormat, message, "", hint != nullptr ? hint : "",
                 "CSV line " + std::to_string(line));
  throw *error_;
}

}  // namespace pgpipe::core
