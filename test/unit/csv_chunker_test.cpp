// The CSV record chunker against a per-byte reference: a plain transcription of PostgreSQL 15's
// CopyReadLineText (CSV) that reads the whole input at once. For every input, every way of
// feeding it and every chunk size, the header and the chunks must give back the input byte for
// byte, cut only where the reference ends a record, with the reference's record numbers and
// COPY line numbers; each chunk, read alone by the reference (as a worker's COPY would read
// it), must split into the same records, and its line_offset must map every line back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "catch_error.hpp"
#include "core/csv_chunker.hpp"

using namespace pgpipe::core;

namespace {

// ---------------------------------------------------------------------------------------------
// The reference: CopyReadLineText, one byte at a time, a missing byte past the end read as '\0'.

struct RefRecord {
  size_t begin = 0;
  size_t end = 0;          // just after the line ending
  int64_t start_line = 0;  // cur_lineno when COPY starts reading the record
  int64_t end_line = 0;    // cur_lineno when it has read it (what an error in it reports)
};

struct RefResult {
  std::vector<RefRecord> records;
  size_t data_end = 0;  // where reading stopped: the input's end or the "\." marker
  bool marker = false;
  std::string error;  // COPY's errmsg, "" when none
  int64_t error_line = 0;
};

enum RefEol { kUnknown, kNl, kCr, kCrNl };

RefResult Reference(const std::string& in, const CsvDialect& d) {
  RefResult r;
  const size_t n = in.size();
  auto at = [&](size_t i) { return i < n ? in[i] : '\0'; };
  const char quotec = d.quote;
  const char escapec = d.escape == d.quote ? '\0' : d.escape;
  RefEol eol = kUnknown;
  int64_t lineno = 0;
  size_t i = 0;
  while (i < n) {
    ++lineno;
    RefRecord rec;
    rec.begin = i;
    rec.start_line = lineno;
    bool in_quote = false, last_was_esc = false, first = true;
    auto fail = [&](const char* msg) {
      r.error = msg;
      r.error_line = lineno;
      r.data_end = rec.begin;
    };
    for (;;) {
      if (i >= n) break;
      char c = in[i++];
      if (in_quote && c == escapec) last_was_esc = !last_was_esc;
      if (c == quotec && !last_was_esc) in_quote = !in_quote;
      if (c != escapec) last_was_esc = false;
      if (in_quote && c == (eol == kNl ? '\n' : '\r')) ++lineno;
      if (c == '\r' && !in_quote) {
        if (eol == kUnknown || eol == kCrNl) {
          if (at(i) == '\n') {
            ++i;
            eol = kCrNl;
          } else {
            if (eol == kCrNl) return fail("unquoted carriage return found in data"), r;
            eol = kCr;
          }
        } else if (eol == kNl) {
          return fail("unquoted carriage return found in data"), r;
        }
        break;
      }
      if (c == '\n' && !in_quote) {
        if (eol == kCr || eol == kCrNl) return fail("unquoted newline found in data"), r;
        eol = kNl;
        break;
      }
      if (c == '\\' && first) {
        if (i >= n) break;
        if (at(i) == '.') {
          size_t j = i + 1;
          bool data = false;
          if (eol == kCrNl) {
            char c2 = at(j++);
            if (c2 == '\n' || c2 != '\r') data = true;
          }
          if (!data) {
            char c2 = at(j++);
            if (c2 != '\r' && c2 != '\n') {
              data = true;
            } else if ((eol == kNl && c2 != '\n') || (eol == kCrNl && c2 != '\n') ||
                       (eol == kCr && c2 != '\r')) {
              return fail("end-of-copy marker does not match previous newline style"), r;
            } else {
              r.marker = true;
              r.data_end = rec.begin;
              return r;
            }
          }
        }
      }
      first = false;
    }
    rec.end = i;
    rec.end_line = lineno;
    r.records.push_back(rec);
  }
  r.data_end = n;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Running the chunker.

struct Outcome {
  std::vector<CsvChunk> chunks;
  bool have_header = false;
  std::string header;
  int64_t records = 0;
  bool ended = false;
  std::optional<Error> error;
};

// Feeds `in` in pieces of `feed` bytes (0: all at once), then finishes.
Outcome Chunk(const std::string& in, const CsvDialect& d, bool header, size_t target, size_t feed) {
  Outcome o;
  CsvChunker c(d, target, header);
  try {
    size_t step = feed == 0 ? std::max<size_t>(in.size(), 1) : feed;
    for (size_t i = 0; i < in.size(); i += step)
      c.Feed(in.data() + i, std::min(step, in.size() - i), &o.chunks);
    c.Finish(&o.chunks);
  } catch (const Error& e) {
    o.error = e;
  }
  o.have_header = c.HaveHeader();
  o.header = c.Header();
  o.records = c.Records();
  o.ended = c.Ended();
  return o;
}

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch == '\n') out += "\\n";
    else if (ch == '\r') out += "\\r";
    else if (ch < 32 || ch > 126) out += "\\x" + std::string(1, "0123456789abcdef"[ch >> 4]) +
                                         std::string(1, "0123456789abcdef"[ch & 15]);
    else out += static_cast<char>(ch);
  }
  return out;
}

// Checks one run of the chunker against the reference; returns false after the first mismatch.
bool Check(const std::string& in, const CsvDialect& d, bool header, size_t target, size_t feed) {
  const RefResult ref = Reference(in, d);
  const Outcome got = Chunk(in, d, header, target, feed);
  const std::string where = "input \"" + Printable(in) + "\" header=" + std::to_string(header) +
                            " target=" + std::to_string(target) + " feed=" + std::to_string(feed) +
                            " quote=" + std::string(1, d.quote) + " escape=" + std::string(1, d.escape);
  SCOPED_TRACE(where);
  bool ok = true;
  auto expect = [&](bool cond, const std::string& what) {
    if (!cond) {
      ADD_FAILURE() << what;
      ok = false;
    }
    return cond;
  };

  // The header is the first record read, whether or not reading failed later.
  size_t k = 0;  // the next reference record
  size_t pos = 0;
  bool header_read = header && !ref.records.empty();
  if (header_read) {
    const RefRecord& h = ref.records[0];
    if (!expect(got.have_header, "header expected")) return false;
    if (!expect(got.header == in.substr(h.begin, h.end - h.begin),
                "header \"" + Printable(got.header) + "\""))
      return false;
    k = 1;
    pos = h.end;
  } else {
    if (!expect(!got.have_header && got.header.empty(), "no header expected")) return false;
  }

  for (size_t ci = 0; ci < got.chunks.size(); ++ci) {
    const CsvChunk& c = got.chunks[ci];
    SCOPED_TRACE("chunk " + std::to_string(ci));
    if (!expect(c.records > 0 && k + static_cast<size_t>(c.records) <= ref.records.size(),
                "chunk records " + std::to_string(c.records)))
      return false;
    const RefRecord& first = ref.records[k];
    const RefRecord& lastr = ref.records[k + static_cast<size_t>(c.records) - 1];
    expect(first.begin == pos, "chunk does not follow the previous one");
    if (!expect(c.bytes == in.substr(first.begin, lastr.end - first.begin),
                "chunk bytes \"" + Printable(c.bytes) + "\""))
      return false;
    expect(c.first_record == static_cast<int64_t>(k) + 1,
           "first_record " + std::to_string(c.first_record) + " want " + std::to_string(k + 1));
    expect(c.first_line == first.start_line,
           "first_line " + std::to_string(c.first_line) + " want " + std::to_string(first.start_line));
    expect(c.last == (ci + 1 == got.chunks.size() && !got.error), "last flag");
    // Cut at the first record end at or after the target.
    size_t before_last = lastr.begin - first.begin;
    expect(before_last < target, "chunk went on past the target");
    if (!c.last) expect(c.bytes.size() >= target, "chunk cut before the target");
    // The chunk read alone, as its worker's COPY reads it.
    RefResult alone = Reference(c.bytes, d);
    expect(alone.error.empty() && !alone.marker, "chunk alone: error or marker " + alone.error);
    if (!expect(alone.records.size() == static_cast<size_t>(c.records),
                "chunk alone: " + std::to_string(alone.records.size()) + " records"))
      return false;
    for (size_t j = 0; j < alone.records.size(); ++j) {
      const RefRecord& a = alone.records[j];
      const RefRecord& w = ref.records[k + j];
      expect(a.end - a.begin == w.end - w.begin, "chunk alone: record " + std::to_string(j) +
                                                      " has other bounds");
      expect(a.end_line + c.line_offset == w.end_line,
             "chunk alone: record " + std::to_string(j) + " line " +
                 std::to_string(a.end_line) + " + " + std::to_string(c.line_offset) + " != " +
                 std::to_string(w.end_line));
      if (j > 0)
        expect(a.start_line + c.line_offset == w.start_line, "chunk alone: start line");
    }
    k += static_cast<size_t>(c.records);
    pos = lastr.end;
  }

  if (!ref.error.empty()) {
    if (!expect(got.error.has_value(), "expected error \"" + ref.error + "\"")) return false;
    expect(got.error->sqlstate() == "22P04", "sqlstate " + got.error->sqlstate());
    expect(got.error->message() == ref.error, std::string("message ") + got.error->message());
    expect(got.error->context() == "CSV line " + std::to_string(ref.error_line),
           "context " + got.error->context());
    expect(pos <= ref.data_end, "chunks went past the failing record");
    return ok;
  }
  if (!expect(!got.error.has_value(),
              "unexpected error " + (got.error ? std::string(got.error->message()) : "")))
    return false;
  expect(k == ref.records.size(), "records missing from the chunks");
  expect(pos == ref.data_end, "bytes missing from the chunks");
  expect(got.records == static_cast<int64_t>(ref.records.size()),
         "Records() " + std::to_string(got.records));
  expect(got.ended, "not Ended() after Finish");
  return ok;
}

const std::vector<size_t> kFeeds = {1, 2, 3, 7, 64 * 1024, 0};
const std::vector<size_t> kTargets = {1, 10, 100, 1 << 20};

// Every feed size and every target of the brief.
void CheckAllSplits(const std::string& in, const CsvDialect& d, bool header) {
  for (size_t target : kTargets)
    for (size_t feed : kFeeds)
      if (!Check(in, d, header, target, feed)) return;
}

CsvDialect Backslash() {
  CsvDialect d;
  d.escape = '\\';
  return d;
}

// ---------------------------------------------------------------------------------------------
// Generated inputs.

// Builds CSV-looking text: fields plain or quoted, with the tricky contents on request.
class Gen {
 public:
  Gen(uint32_t seed, CsvDialect d) : rng_(seed), d_(d) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(0, 99) < percent; }

  // A quoted field's contents: delimiters, line breaks, quotes and escapes, each written the
  // way the dialect makes it data.
  std::string QuotedBody() {
    std::string s;
    int parts = Int(0, 5);
    for (int i = 0; i < parts; ++i) {
      switch (Int(0, 8)) {
        case 0: s += d_.delimiter; break;
        case 1: s += '\n'; break;
        case 2: s += '\r'; break;
        case 3: s += "\r\n"; break;
        case 4:  // a literal quote
          s += d_.escape == d_.quote ? std::string(2, d_.quote) : std::string{d_.escape, d_.quote};
          break;
        case 5:  // a literal escape
          s += d_.escape == d_.quote ? std::string(2, d_.quote) : std::string(2, d_.escape);
          break;
        case 6:  // an escape before an ordinary byte
          if (d_.escape != d_.quote) s += std::string{d_.escape, 'e'};
          break;
        case 7: s += "\\."; break;
        default: s += "word"; break;
      }
    }
    return s;
  }

  std::string Field() {
    switch (Int(0, 5)) {
      case 0: return "";
      case 1: return std::string(1, d_.quote) + QuotedBody() + d_.quote;
      case 2: return std::to_string(Int(0, 100000));
      case 3: return "x\\y";
      default: return "abc";
    }
  }

  // n records with line ending eol; tail: 0 terminated, 1 last unterminated, 2 open quote.
  std::string Csv(int n, const std::string& eol, bool bom, int tail) {
    std::string s = bom ? "\xEF\xBB\xBF" : "";
    for (int r = 0; r < n; ++r) {
      if (Chance(3)) {
        s += "\\." + std::string(Chance(50) ? "x" : "");  // data that looks like the marker
      } else {
        int fields = Int(1, 4);
        for (int f = 0; f < fields; ++f) s += (f ? std::string(1, d_.delimiter) : "") + Field();
      }
      if (r + 1 < n || tail == 0) s += eol;
    }
    if (tail == 2) s += std::string(1, d_.quote) + "open" + QuotedBody();
    return s;
  }

  // Random bytes from the ones that matter.
  std::string Soup(int n) {
    static const char kBytes[] = {'a', ',', ';', '"', '\'', '\\', '.', '\n', '\r', 'x'};
    std::string s;
    for (int i = 0; i < n; ++i) s += kBytes[Int(0, sizeof kBytes - 1)];
    return s;
  }

  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
  CsvDialect d_;
};

// ---------------------------------------------------------------------------------------------
// The reference itself, against what PostgreSQL 15.20 answered for these files (COPY t(a int,
// b text) FROM file (format csv ...)): the line of the failing record, or the error.

int64_t LineOfRecord(const std::string& in, const CsvDialect& d, size_t index) {
  return Reference(in, d).records.at(index).end_line;
}

TEST(CsvChunkerReference, AgreesWithPostgres15) {
  CsvDialect csv;
  // Quoted line breaks count, by the first record's style; before it is known, '\r' counts.
  EXPECT_EQ(LineOfRecord("a,b\n1,\"x\ny\"\nbad,z\n", csv, 2), 4);
  EXPECT_EQ(LineOfRecord("a,\"b\nc\"\n1,x\nbad,z\n", csv, 2), 3);
  EXPECT_EQ(LineOfRecord("a,\"b\rc\"\n1,x\nbad,z\n", csv, 2), 4);
  EXPECT_EQ(LineOfRecord("1,\"x\ry\"\nbad,z\n", csv, 1), 3);
  EXPECT_EQ(LineOfRecord("1,\"x\ny\"\nbad,z\n", csv, 1), 2);
  EXPECT_EQ(LineOfRecord("1,\"x\ny\"\r\n2,\"x\ry\"\r\nbad,z\r\n", csv, 2), 4);
  EXPECT_EQ(LineOfRecord("a,b\r1,x\r2,\"y\r\nz\"\rbad,y\r", csv, 3), 5);
  EXPECT_EQ(LineOfRecord("1,x\n2,\"a\r\nb\nc\"\nbad,y\n", csv, 2), 5);
  EXPECT_EQ(LineOfRecord("1,x\n2,\"y\n3,z\n", csv, 1), 4);  // unterminated CSV quoted field
  EXPECT_EQ(LineOfRecord("a,b\n1,\"x\\\"\n\"\nbad,y\n", Backslash(), 2), 4);
  EXPECT_EQ(LineOfRecord("a,b\n1,\"x\\\\\"\nbad,y\n", Backslash(), 2), 3);
  EXPECT_EQ(LineOfRecord("a,b\n1,\"x\\\\\\\"y\"\n2,x\\\"y\nbad,y\n", Backslash(), 2), 5);
  // Line endings other than the first record's.
  auto error = [&](const std::string& in) {
    RefResult r = Reference(in, csv);
    return r.error + " @" + std::to_string(r.error_line);
  };
  EXPECT_EQ(error("1,x\r\n2,y\rbad,z\r\n"), "unquoted carriage return found in data @2");
  EXPECT_EQ(error("1,x\n2,y\r\n3,z\n"), "unquoted carriage return found in data @2");
  EXPECT_EQ(error("1,x\r\n2,y\r"), "unquoted carriage return found in data @2");
  EXPECT_EQ(error("1,x\r\n\\.\nbad\r\n"), "unquoted newline found in data @2");
  EXPECT_EQ(error("1,x\n\\.\r\n3,z\n"), "end-of-copy marker does not match previous newline style @2");
  EXPECT_EQ(error("1,x\r\n\\.\r\r"), "end-of-copy marker does not match previous newline style @2");
  EXPECT_EQ(error("1,x\r\\.\n"), "end-of-copy marker does not match previous newline style @2");
  // "\." alone on a line ends the data; anywhere else it is data.
  RefResult end = Reference("1,x\n\\.\n3,z\n", csv);
  EXPECT_TRUE(end.marker);
  EXPECT_EQ(end.records.size(), 1u);
  EXPECT_EQ(Reference("1,x\n\\.", csv).records.size(), 2u);
  EXPECT_EQ(Reference("1,x\n\"\\.\"\nbad\n", csv).records.size(), 3u);
  EXPECT_EQ(Reference("1,x\n\\.,y\nbad\n", csv).records.size(), 3u);
  EXPECT_TRUE(Reference("\\.\n3,z\n", csv).marker);  // even as the header
  EXPECT_TRUE(Reference("1,x\r\n\\.\r\nbad\r\n", csv).marker);
}

// ---------------------------------------------------------------------------------------------
// Named cases, each through every feed size and target.

TEST(CsvChunker, EmptyInputGivesNoChunksAndNoHeader) {
  for (bool header : {false, true}) {
    Outcome o = Chunk("", CsvDialect{}, header, 10, 0);
    EXPECT_TRUE(o.chunks.empty());
    EXPECT_FALSE(o.have_header);
    EXPECT_EQ(o.records, 0);
    EXPECT_TRUE(o.ended);
  }
}

TEST(CsvChunker, HeaderOnlyGivesTheHeaderAndNoChunks) {
  for (const char* in : {"a,b\n", "a,b", "a,b\r\n", "a,\"b\nc\"\r"}) {
    Outcome o = Chunk(in, CsvDialect{}, true, 1, 1);
    EXPECT_TRUE(o.chunks.empty());
    EXPECT_TRUE(o.have_header);
    EXPECT_EQ(o.header, in);
    EXPECT_EQ(o.records, 1);
    CheckAllSplits(in, CsvDialect{}, true);
  }
}

TEST(CsvChunker, ByteOrderMarkBelongsToTheHeader) {
  std::string in = "\xEF\xBB\xBFVendorID,fare\n1,2.5\n2,3\n";
  Outcome o = Chunk(in, CsvDialect{}, true, 1 << 20, 0);
  EXPECT_EQ(o.header, "\xEF\xBB\xBFVendorID,fare\n");
  ASSERT_EQ(o.chunks.size(), 1u);
  EXPECT_EQ(o.chunks[0].bytes, "1,2.5\n2,3\n");
  EXPECT_EQ(o.chunks[0].first_line, 2);
  EXPECT_EQ(o.chunks[0].first_record, 2);
  EXPECT_EQ(o.chunks[0].line_offset, 1);
  EXPECT_TRUE(o.chunks[0].last);
  CheckAllSplits(in, CsvDialect{}, true);
  CheckAllSplits(in, CsvDialect{}, false);  // without a header the mark is the first field's
}

TEST(CsvChunker, OneRow) {
  for (const char* in : {"1,x\n", "1,x", "1,x\r\n", "1,x\r"}) {
    Outcome o = Chunk(in, CsvDialect{}, false, 1, 0);
    ASSERT_EQ(o.chunks.size(), 1u);
    EXPECT_EQ(o.chunks[0].bytes, in);
    EXPECT_EQ(o.chunks[0].first_line, 1);
    EXPECT_EQ(o.chunks[0].records, 1);
    EXPECT_TRUE(o.chunks[0].last);
    CheckAllSplits(in, CsvDialect{}, false);
    CheckAllSplits(std::string("h\n") + in, CsvDialect{}, true);
  }
}

TEST(CsvChunker, ChunksEndAfterTheRecordThatReachesTheTarget) {
  std::string in = "h\n1,aa\n2,bb\n3,cc\n4,dd\n5,ee\n";
  Outcome o = Chunk(in, CsvDialect{}, true, 10, 0);
  ASSERT_EQ(o.chunks.size(), 3u);
  EXPECT_EQ(o.chunks[0].bytes, "1,aa\n2,bb\n");
  EXPECT_EQ(o.chunks[1].bytes, "3,cc\n4,dd\n");
  EXPECT_EQ(o.chunks[2].bytes, "5,ee\n");
  EXPECT_EQ(o.chunks[1].first_line, 4);
  EXPECT_EQ(o.chunks[2].first_line, 6);
  EXPECT_EQ(o.chunks[2].records, 1);
  EXPECT_FALSE(o.chunks[1].last);
  EXPECT_TRUE(o.chunks[2].last);
  EXPECT_EQ(o.records, 6);
}

TEST(CsvChunker, LastChunkIsMarkedEvenWhenTheDataEndsAtACut) {
  Outcome o = Chunk("1,aa\n2,bb\n", CsvDialect{}, false, 5, 1);
  ASSERT_EQ(o.chunks.size(), 2u);
  EXPECT_FALSE(o.chunks[0].last);
  EXPECT_TRUE(o.chunks[1].last);
}

TEST(CsvChunker, RecordBiggerThanTheTargetMakesOneBiggerChunk) {
  std::string big = "2,\"" + std::string(5000, 'x') + "\n" + std::string(5000, ',') + "\"\n";
  std::string in = "1,a\n" + big + "3,c\n";
  Outcome o = Chunk(in, CsvDialect{}, false, 1, 7);
  ASSERT_EQ(o.chunks.size(), 3u);
  EXPECT_EQ(o.chunks[1].bytes, big);
  EXPECT_EQ(o.chunks[2].first_line, 4);  // the quoted newline counts
  o = Chunk(in, CsvDialect{}, false, 100, 7);
  ASSERT_EQ(o.chunks.size(), 2u);
  EXPECT_EQ(o.chunks[0].bytes, "1,a\n" + big);
  CheckAllSplits(in, CsvDialect{}, false);
}

TEST(CsvChunker, QuotedLineBreaksAreDataAndCountAsCopyLines) {
  std::string in = "a,b\n1,\"x\ny\"\n2,\"p\r\nq,\"\"r\"\"\"\n3,z\n";
  Outcome o = Chunk(in, CsvDialect{}, true, 1, 0);
  ASSERT_EQ(o.chunks.size(), 3u);
  EXPECT_EQ(o.chunks[0].bytes, "1,\"x\ny\"\n");
  EXPECT_EQ(o.chunks[0].first_line, 2);
  // Alone, a chunk's COPY does not count the '\n' of its first record: an error in it reports
  // line 1, which is the file's line 3.
  EXPECT_EQ(o.chunks[0].line_offset, 2);
  EXPECT_EQ(o.chunks[1].first_line, 4);
  EXPECT_EQ(o.chunks[1].line_offset, 3 + 1 - 1);  // one quoted '\n', one quoted '\r'
  EXPECT_EQ(o.chunks[2].first_line, 6);
  EXPECT_EQ(o.chunks[2].first_record, 4);
  CheckAllSplits(in, CsvDialect{}, true);
  CheckAllSplits(in, CsvDialect{}, false);
}

TEST(CsvChunker, DoubledQuotes) {
  std::string in = "\"a\"\"\n\"\"\",b\n\"\"\"\"\n\"\",\"\"\"\",x\n";
  CheckAllSplits(in, CsvDialect{}, false);
  Outcome o = Chunk(in, CsvDialect{}, false, 1, 0);
  ASSERT_EQ(o.chunks.size(), 3u);
  EXPECT_EQ(o.chunks[0].bytes, "\"a\"\"\n\"\"\",b\n");
}

TEST(CsvChunker, BackslashEscapes) {
  // \" and \\ inside quotes are data; outside quotes a backslash is an ordinary byte.
  std::string in = "a,b\n1,\"x\\\"\n\"\n2,\"x\\\\\"\n3,\"\\\\\\\"y\"\n4,x\\\"y\n5\n";
  Outcome o = Chunk(in, Backslash(), true, 1, 0);
  ASSERT_EQ(o.chunks.size(), 4u);
  EXPECT_EQ(o.chunks[0].bytes, "1,\"x\\\"\n\"\n");
  EXPECT_EQ(o.chunks[1].bytes, "2,\"x\\\\\"\n");
  EXPECT_EQ(o.chunks[2].bytes, "3,\"\\\\\\\"y\"\n");
  EXPECT_EQ(o.chunks[3].bytes, "4,x\\\"y\n5\n");  // the quote opened in 4's field runs on
  CheckAllSplits(in, Backslash(), true);
  CsvDialect single;
  single.quote = '\'';
  single.escape = '\\';
  single.delimiter = ';';
  CheckAllSplits("a;'b\\'\n';c\n'x\\\\';'\\''\n", single, false);
}

TEST(CsvChunker, CrLfAndLoneCrFiles) {
  CheckAllSplits("a,b\r\n1,\"x\ny\"\r\n2,\"x\ry\"\r\n3,z\r\n", CsvDialect{}, true);
  CheckAllSplits("a,b\r\n1,x\r\n2,y", CsvDialect{}, true);
  CheckAllSplits("a,b\r1,x\r2,\"y\r\nz\"\r3,y\r", CsvDialect{}, true);
  Outcome o = Chunk("a,b\r1,x\r2,\"y\r\nz\"\r3,y\r", CsvDialect{}, true, 1, 1);
  ASSERT_EQ(o.chunks.size(), 3u);
  EXPECT_EQ(o.chunks[2].bytes, "3,y\r");
  EXPECT_EQ(o.chunks[2].first_line, 5);
}

TEST(CsvChunker, NoTrailingLineEnding) {
  std::string in = "a,b\n1,x\n2,y";
  Outcome o = Chunk(in, CsvDialect{}, true, 1, 0);
  ASSERT_EQ(o.chunks.size(), 2u);
  EXPECT_EQ(o.chunks[1].bytes, "2,y");
  EXPECT_TRUE(o.chunks[1].last);
  CheckAllSplits(in, CsvDialect{}, true);
}

TEST(CsvChunker, UnterminatedQuoteAtTheEndIsTheLastChunk) {
  std::string in = "1,x\n2,\"y\n3,z\n";
  Outcome o = Chunk(in, CsvDialect{}, false, 1, 0);
  ASSERT_EQ(o.chunks.size(), 2u);
  EXPECT_EQ(o.chunks[1].bytes, "2,\"y\n3,z\n");
  EXPECT_EQ(o.chunks[1].first_line, 2);
  EXPECT_TRUE(o.chunks[1].last);
  // COPY reports the unterminated field at line 4 (2 + two quoted newlines); the chunk's own
  // COPY says line 1 (it counts no '\n' before it knows the line ending).
  EXPECT_EQ(1 + o.chunks[1].line_offset, 4);
  CheckAllSplits(in, CsvDialect{}, false);
  // In the header, an open quote swallows the file, as COPY's header skip does.
  Outcome h = Chunk("a,\"b\n1,x\n2,y\n", CsvDialect{}, true, 1, 1);
  EXPECT_TRUE(h.chunks.empty());
  EXPECT_EQ(h.header, "a,\"b\n1,x\n2,y\n");
}

TEST(CsvChunker, EndOfCopyMarkerEndsTheData) {
  CsvChunker c(CsvDialect{}, 1, true);
  std::vector<CsvChunk> out;
  std::string in = "a\n1\n2\n\\.\n3\n";
  c.Feed(in.data(), in.size(), &out);
  EXPECT_TRUE(c.Ended());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].bytes, "2\n");
  EXPECT_TRUE(out[1].last);
  c.Feed("4\n", 2, &out);  // ignored
  c.Finish(&out);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(c.Records(), 3);
  for (const char* s : {"1,x\n\\.\n3,z\n", "1,x\n\\.", "1,x\n\\.x\n2\n", "1,x\r\n\\.\r\nbad\r\n",
                        "1\r\\.\r2\r", "\\.\n3,z\n", "\\.\r\n", "1\n\\", "1\r\n\\.\r"})
    for (bool header : {false, true}) CheckAllSplits(s, CsvDialect{}, header);
  Outcome first = Chunk("\\.\n3,z\n", CsvDialect{}, true, 1, 0);
  EXPECT_FALSE(first.have_header);
  EXPECT_TRUE(first.chunks.empty());
}

TEST(CsvChunker, LineEndingsOtherThanTheFirstRecordsFailAsCopyDoes) {
  struct Case {
    const char* in;
    const char* message;
    const char* context;
  } cases[] = {
      {"1,x\r\n2,y\rbad,z\r\n", "unquoted carriage return found in data", "CSV line 2"},
      {"1,x\n2,y\r\n3,z\n", "unquoted carriage return found in data", "CSV line 2"},
      {"1,x\r\n2,y\r", "unquoted carriage return found in data", "CSV line 2"},
      {"1,x\r2,y\n", "unquoted newline found in data", "CSV line 2"},
      {"1,x\r\n\\.\nbad\r\n", "unquoted newline found in data", "CSV line 2"},
      {"1,x\n\\.\r\n3,z\n", "end-of-copy marker does not match previous newline style",
       "CSV line 2"},
      {"1,x\r\n\\.\r\r", "end-of-copy marker does not match previous newline style", "CSV line 2"},
      {"1,x\r\\.\n", "end-of-copy marker does not match previous newline style", "CSV line 2"},
      {"1,\"a\nb\"\n2,\"c\nd\"x\ry\n", "unquoted carriage return found in data", "CSV line 3"},
  };
  for (const Case& c : cases) {
    Outcome o = Chunk(c.in, CsvDialect{}, false, 1, 0);
    ASSERT_TRUE(o.error.has_value()) << c.in;
    EXPECT_EQ(o.error->sqlstate(), "22P04");
    EXPECT_STREQ(o.error->message(), c.message);
    EXPECT_EQ(o.error->context(), c.context);
    CheckAllSplits(c.in, CsvDialect{}, false);
  }
  // The error sticks.
  CsvChunker k(CsvDialect{}, 1, false);
  std::vector<CsvChunk> out;
  EXPECT_EQ(CatchError([&] { k.Feed("1\n2\r", 4, &out); }).message(),
            std::string("unquoted carriage return found in data"));
  EXPECT_EQ(CatchError([&] { k.Finish(&out); }).sqlstate(), "22P04");
}

TEST(CsvChunker, DialectsTheChunkerCannotSplitAreRefused) {
  CsvDialect nl;
  nl.quote = '\n';
  EXPECT_EQ(CatchError([&] { CsvChunker c(nl, 1, false); }).sqlstate(), "22023");
  CsvDialect bs;
  bs.quote = '\\';
  bs.escape = '\\';
  EXPECT_EQ(CatchError([&] { CsvChunker c(bs, 1, false); }).sqlstate(), "22023");
}

TEST(CsvChunker, RecordLongerThanTheLimitFails) {
  CsvChunker c(CsvDialect{}, 10, true, 100);
  std::vector<CsvChunk> out;
  std::string ok = "h\n" + std::string(99, 'a') + "\n";
  c.Feed(ok.data(), ok.size(), &out);
  std::string open = "\"" + std::string(60, 'b');
  c.Feed(open.data(), open.size(), &out);
  Error e = CatchError([&] { c.Feed(open.data(), open.size(), &out); });
  EXPECT_EQ(e.sqlstate(), "54000");
  EXPECT_EQ(e.context(), "CSV line 3");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].records, 1);
}

TEST(CsvChunker, FeedAfterFinishIsAnInternalError) {
  CsvChunker c(CsvDialect{}, 10, false);
  std::vector<CsvChunk> out;
  c.Finish(&out);
  EXPECT_EQ(CatchError([&] { c.Feed("x", 1, &out); }).sqlstate(), "XX000");
}

TEST(CsvChunker, GeneratedFilesInEveryStyle) {
  for (const CsvDialect& d : {CsvDialect{}, Backslash()}) {
    uint32_t seed = 1;
    for (const char* eol : {"\n", "\r\n", "\r"})
      for (bool bom : {false, true})
        for (int tail : {0, 1, 2}) {
          Gen g(seed++, d);
          std::string in = g.Csv(40, eol, bom, tail);
          CheckAllSplits(in, d, true);
          CheckAllSplits(in, d, false);
        }
  }
}

// 10,000 seeded random cases: generated files, files with random bytes spliced in, and byte soup;
// a random dialect, header, target and feed pattern each.
TEST(CsvChunker, Fuzz) {
  std::mt19937 pick(20260611);
  auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(pick); };
  int failures = 0;
  for (int i = 0; i < 10000 && failures < 5; ++i) {
    CsvDialect d;
    switch (rnd(0, 3)) {
      case 1: d.escape = '\\'; break;
      case 2: d.quote = '\''; d.escape = '\''; d.delimiter = ';'; break;
      case 3: d.quote = '\''; d.escape = '\\'; break;
      default: break;
    }
    Gen g(static_cast<uint32_t>(i) * 7919u + 1u, d);
    std::string in;
    static const char* kEols[] = {"\n", "\r\n", "\r"};
    int kind = rnd(0, 3);
    if (kind <= 1) {
      in = g.Csv(rnd(0, 12), kEols[rnd(0, 2)], rnd(0, 9) == 0, rnd(0, 2));
    } else if (kind == 2) {
      in = g.Csv(rnd(1, 12), kEols[rnd(0, 2)], false, rnd(0, 2));
      in.insert(static_cast<size_t>(rnd(0, static_cast<int>(in.size()))), g.Soup(rnd(1, 3)));
    } else {
      in = g.Soup(rnd(0, 60));
    }
    bool header = rnd(0, 1) == 1;
    static const size_t kFuzzTargets[] = {1, 2, 3, 5, 10, 30, 1000};
    size_t target = kFuzzTargets[rnd(0, 6)];
    static const size_t kFuzzFeeds[] = {1, 2, 3, 5, 7, 16, 0};
    size_t feed = kFuzzFeeds[rnd(0, 6)];
    if (!Check(in, d, header, target, feed)) ++failures;
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
