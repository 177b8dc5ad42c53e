// Cuts a decompressed CSV stream into chunks of whole records for a load split across several
// COPYs: the producer feeds the bytes as they arrive; each chunk goes to one worker, whose COPY
// (format csv, header false) must then see exactly what a COPY of the whole file would have seen
// at those records, line numbers included. Record boundaries follow PostgreSQL 15's
// CopyReadLineText byte for byte: quotes and escapes, the line-ending style fixed by the first
// record, the "\." end-of-copy marker, and its line counter (cur_lineno), which counts each record
// once plus the line breaks inside its quoted fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/csv_dialect.hpp"
#include "core/error.hpp"

namespace pgpipe::core {

// A run of whole records, each with its line ending (only the last chunk's last record may lack
// one). A worker that runs COPY (header false) on `bytes` alone and gets an error at its line L
// reports the whole file's line L + line_offset.
struct CsvChunk {
  std::string bytes;
  int64_t first_line = 0;    // COPY's line number of the first record in a whole-file load
  int64_t records = 0;       // records in bytes
  bool last = false;         // the final chunk of the stream
  int64_t first_record = 0;  // ordinal of the first record, the header (if any) being 1
  int64_t line_offset = 0;   // chunk-alone COPY line + line_offset = whole-file COPY line
};

// Splits one CSV stream into chunks of about target_bytes. Not thread-safe; one stream per object.
class CsvChunker {
 public:
  // PostgreSQL's ceiling for one line in COPY (MaxAllocSize - 1): a longer record cannot load.
  static constexpr size_t kMaxRecordBytes = 0x3FFFFFFE;

  // Throws Error 22023 for a dialect the chunker cannot split exactly: a delimiter, quote or
  // escape that is a line break or NUL, or a backslash quote (it collides with the "\." marker).
  // The delimiter does not affect record boundaries: it is only validated.
  // header: the first record is the header, kept apart from every chunk. A record longer than
  // max_record_bytes (an unterminated quote, mostly) throws 54000 instead of growing unbounded.
  CsvChunker(CsvDialect dialect, size_t target_bytes, bool header,
             size_t max_record_bytes = kMaxRecordBytes);

  // Scans n more bytes and appends every chunk they complete to *out. A chunk ends at the
  // first record end at or after target_bytes; it is handed out once the next record has begun
  // (so `last` is always right). Throws Error 22P04 with COPY's own message, hint and line
  // ("CSV line N" as context) where a whole-file COPY would fail reading lines but a chunk's
  // COPY might not: a line ending other than the first record's, outside quotes, or a corrupt
  // end-of-copy marker; Error 54000 for a record over max_record_bytes. Chunks already appended
  // stay valid. After "\." alone on a line (COPY stops there) further input is ignored.
  void Feed(const char* data, size_t n, std::vector<CsvChunk>* out);

  // Declares the end of data: appends the rest as the last chunk, even an unterminated last
  // record or quoted field (COPY reports that itself). Throws as Feed does.
  void Finish(std::vector<CsvChunk>* out);

  // Whether a header record was read (header requested, data not empty, not "\." at once).
  bool HaveHeader() const { return have_header_; }
  // The header record's bytes, byte order mark and line ending included; "" without one.
  const std::string& Header() const { return header_; }
  // Complete records seen so far, the header included (after Finish: all of them).
  int64_t Records() const { return records_; }
  // True once no more input is wanted: after Finish, or after the end-of-copy marker.
  bool Ended() const { return ended_; }

 private:
  enum class Eol : uint8_t { kUnknown, kNl, kCr, kCrNl };
  enum class Marker : uint8_t { kNeedMore, kData, kEnd, kMismatch };

  void Consume(const char* p, size_t n, std::vector<CsvChunk>* out);
  void ResolveHeldMarker(bool at_eof, std::vector<CsvChunk>* out);
  Marker CheckMarker(const char* b, size_t n, bool at_eof) const;
  void StartRecord(const char* at, std::vector<CsvChunk>* out);
  void EndRecord(const char* at);
  void EndOfCopy(const char* at, std::vector<CsvChunk>* out);
  void Emit(bool last, std::vector<CsvChunk>* out);
  void Flush(const char* at);
  void CheckRecordSize(size_t pending);
  int64_t CurrentLine() const;
  [[noreturn]] void Fail(const char* message, const char* hint, int64_t line);

  // Configuration.
  char quote_;
  char escape_;  // '\0' when escape == quote (COPY ignores the escape then)
  size_t target_;
  size_t max_record_;

  // Where the scan is inside the current record (CopyReadLineText's locals, kept across feeds).
  Eol eol_ = Eol::kUnknown;
  bool in_quote_ = false;
  bool esc_pending_ = false;     // inside quotes, an escape ended the previous feed
  bool cr_pending_ = false;      // outside quotes, a '\r' whose meaning needs the next byte
  bool at_record_start_ = true;  // the next byte begins a record
  bool marker_checked_ = false;  // the record starting now is known not to be "\."
  std::string held_;             // the first bytes of a record that may be "\.", until known
  int64_t q_nl_ = 0;             // '\n' inside quotes in the current record
  int64_t q_cr_ = 0;             // '\r' inside quotes in the current record
  bool count_nl_ = false;        // COPY counts quoted '\n' (else '\r') in the current record

  // Output being built. span_ is the start of the fed bytes not yet appended to chunk_ (valid
  // inside Consume only); rec_off_ is where the current record starts in chunk_ + span.
  std::string chunk_;
  const char* span_ = nullptr;
  size_t rec_off_ = 0;
  bool in_header_;
  bool full_ = false;  // chunk_ holds a full chunk, waiting for the next record to begin
  int64_t chunk_records_ = 0;
  int64_t chunk_first_record_ = 0;
  int64_t chunk_first_line_ = 0;
  int64_t chunk_line_offset_ = 0;

  // Totals.
  int64_t records_ = 0;
  int64_t line_ = 0;             // COPY's cur_lineno after the last complete record
  int64_t rec_first_line_ = 0;   // cur_lineno at the start of the current record
  bool have_header_ = false;
  std::string header_;
  bool ended_ = false;
  bool finished_ = false;
  std::optional<Error> error_;  // the first failure, rethrown by every later call
};

}  // namespace pgpipe::core
