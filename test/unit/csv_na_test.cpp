// The NA field rewriter against two references that read the whole input at once:
//   Expected(): a plain per-byte rewrite (records end at an unquoted '\r' or '\n', fields are
//     read as CopyReadAttributesCSV reads them, an NA field's bytes are dropped);
//   ReadLikeCopy(): a transcription of PostgreSQL 15's COPY reading (CopyReadLineText with its
//     line-ending style and "\." marker, then CopyReadAttributesCSV with NULL ''), so that COPY of
//     the rewritten bytes must give COPY of the original with exactly the NA fields made NULL,
//     and the same error at the same record when the original has one.
// The rewriter must give Expected() byte for byte however its input is cut: all at once, one
// byte at a time, at every split point, in random pieces, and writing in place.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "catch_error.hpp"
#include "core/csv_na.hpp"

using namespace pgpipe::core;

namespace {

const std::vector<std::string>& Pandas() { return PandasNaValues(); }

CsvDialect Dialect(char delimiter, char quote, char escape) {
  CsvDialect d;
  d.delimiter = delimiter;
  d.quote = quote;
  d.escape = escape;
  return d;
}

CsvDialect Backslash() { return Dialect(',', '"', '\\'); }

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch == '\n') out += "\\n";
    else if (ch == '\r') out += "\\r";
    else if (ch == '\t') out += "\\t";
    else if (ch < 32 || ch > 126) out += "\\x" + std::string(1, "0123456789abcdef"[ch >> 4]) +
                                         std::string(1, "0123456789abcdef"[ch & 15]);
    else out += static_cast<char>(ch);
  }
  return out;
}

bool IsNa(const std::vector<std::string>& na, const std::string& value, bool saw_quote) {
  if (value.empty()) return saw_quote && std::find(na.begin(), na.end(), "") != na.end();
  return std::find(na.begin(), na.end(), value) != na.end();
}

size_t MaxCarryFor(const std::vector<std::string>& na) {
  size_t longest = 0;
  for (const auto& v : na) longest = std::max(longest, v.size());
  return 4 * longest + 2;
}

// ---------------------------------------------------------------------------------------------
// Reference 1: the expected output, per byte over the whole input.

std::string Expected(const std::string& in, const CsvDialect& d, const std::vector<std::string>& na,
                     bool header) {
  const size_t n = in.size();
  const size_t max_carry = MaxCarryFor(na);
  std::string out;
  std::string eol;  // the first record's line ending
  size_t i = 0;
  bool in_header = header;
  bool first_field = true;
  bool after_cr = false;
  while (i < n) {
    // One field, read as CopyReadAttributesCSV reads it; stops before its delimiter or line end.
    size_t start = i;
    std::string value;
    bool saw_quote = false;
    bool open = false;
    for (;;) {
      while (i < n && in[i] != d.delimiter && in[i] != '\n' && in[i] != '\r' && in[i] != d.quote)
        value += in[i++];
      if (i >= n || in[i] != d.quote) break;
      ++i;  // opening quote
      saw_quote = true;
      open = true;
      while (i < n) {
        char c = in[i++];
        if (c == d.escape && i < n && (in[i] == d.escape || in[i] == d.quote)) {
          value += in[i++];
          continue;
        }
        if (c == d.quote) {
          open = false;
          break;
        }
        value += c;
      }
      if (open) break;
    }
    size_t len = i - start;
    bool na_field = !in_header && !open && len <= max_carry && IsNa(na, value, saw_quote);
    if (na_field && first_field && after_cr && i < n && in[i] == '\n') na_field = false;
    if (!na_field) out.append(in, start, len);
    if (i < n) {
      after_cr = in[i] == '\r';
      first_field = in[i] == '\n' || in[i] == '\r';
      if (first_field) {
        in_header = false;
        if (eol.empty())
          eol = in[i] == '\r' && i + 1 < n && in[i + 1] == '\n' ? "\r\n" : std::string(1, in[i]);
      }
      out += in[i++];
    } else if (na_field && first_field) {
      out += eol.empty() ? "\n" : eol;  // the last record, one NA field: still a row
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reference 2: what COPY (format csv, NULL '') reads, PostgreSQL 15's two steps transcribed.

struct CopyField {
  bool null = false;
  std::string value;
};

struct CopyRead {
  std::vector<std::vector<CopyField>> rows;
  std::vector<std::vector<bool>> na;  // per field: the value is NA (for the original)
  bool marker = false;                // stopped at "\."
  std::string error;                  // COPY's errmsg, "" when none
};

CopyRead ReadLikeCopy(const std::string& in, const CsvDialect& d,
                      const std::vector<std::string>& na = {}) {
  CopyRead r;
  enum { kUnknown, kNl, kCr, kCrNl } eol = kUnknown;
  const size_t n = in.size();
  const char quotec = d.quote;
  const char escapec = d.quote == d.escape ? '\0' : d.escape;
  const size_t max_carry = MaxCarryFor(na);
  size_t i = 0;
  while (i < n) {
    // CopyReadLineText: one line, its line ending left out.
    std::string line;
    bool in_quote = false, last_was_esc = false, first = true, ended = false;
    while (i < n) {
      char c = in[i++];
      if (in_quote && c == escapec) last_was_esc = !last_was_esc;
      if (c == quotec && !last_was_esc) in_quote = !in_quote;
      if (c != escapec) last_was_esc = false;
      if (c == '\r' && !in_quote) {
        if (eol == kUnknown || eol == kCrNl) {
          if (i < n && in[i] == '\n') {
            ++i;
            eol = kCrNl;
          } else {
            if (eol == kCrNl) return r.error = "unquoted carriage return found in data", r;
            eol = kCr;
          }
        } else if (eol == kNl) {
          return r.error = "unquoted carriage return found in data", r;
        }
        ended = true;
        break;
      }
      if (c == '\n' && !in_quote) {
        if (eol == kCr || eol == kCrNl) return r.error = "unquoted newline found in data", r;
        eol = kNl;
        ended = true;
        break;
      }
      if (c == '\\' && first && i < n && in[i] == '.') {
        size_t j = i + 1;
        bool data = false;
        if (eol == kCrNl) {
          if (j >= n || in[j] != '\r') data = true;
          ++j;
        }
        if (!data) {
          char c2 = j < n ? in[j] : '\0';
          if (c2 != '\r' && c2 != '\n') {
            data = true;
          } else if ((eol == kNl && c2 != '\n') || (eol == kCrNl && c2 != '\n') ||
                     (eol == kCr && c2 != '\r')) {
            return r.error = "end-of-copy marker does not match previous newline style", r;
          } else {
            r.marker = true;
            return r;
          }
        }
      }
      first = false;
      line += c;
    }
    (void)ended;
    // CopyReadAttributesCSV over the line.
    std::vector<CopyField> row;
    std::vector<bool> row_na;
    size_t p = 0;
    const size_t end = line.size();
    for (;;) {
      bool found_delim = false, saw_quote = false;
      size_t start = p;
      CopyField f;
      for (;;) {
        bool to_quote = false;
        while (p < end) {
          char c = line[p++];
          if (c == d.delimiter) {
            found_delim = true;
            break;
          }
          if (c == quotec) {
            saw_quote = true;
            to_quote = true;
            break;
          }
          f.value += c;
        }
        if (!to_quote) break;
        for (;;) {
          if (p >= end) return r.error = "unterminated CSV quoted field", r;
          char c = line[p++];
          if (c == d.escape && p < end && (line[p] == d.escape || line[p] == quotec)) {
            f.value += line[p++];
            continue;
          }
          if (c == quotec) break;
          f.value += c;
        }
      }
      size_t raw_len = p - start - (found_delim ? 1 : 0);
      f.null = !saw_quote && raw_len == 0;
      row_na.push_back(!f.null && raw_len <= max_carry && IsNa(na, f.value, saw_quote));
      row.push_back(f);
      if (!found_delim) break;
    }
    r.rows.push_back(row);
    r.na.push_back(row_na);
  }
  return r;
}

// COPY of `out` must read COPY of `in` with the NA fields (none in the header) made NULL, and
// fail where it fails: after the same rows (the message may differ, as when a removed field
// between two '\r's puts the second one where "\." in a "\r\n" file expects its '\n').
void ExpectCopyReadsNaAsNull(const std::string& in, const std::string& out, const CsvDialect& d,
                             const std::vector<std::string>& na, bool header) {
  SCOPED_TRACE("in \"" + Printable(in) + "\" out \"" + Printable(out) + "\"");
  CopyRead before = ReadLikeCopy(in, d, na);
  CopyRead after = ReadLikeCopy(out, d);
  EXPECT_EQ(after.error.empty(), before.error.empty()) << after.error << " / " << before.error;
  EXPECT_EQ(after.marker, before.marker);
  ASSERT_EQ(after.rows.size(), before.rows.size());
  for (size_t r = 0; r < before.rows.size(); ++r) {
    ASSERT_EQ(after.rows[r].size(), before.rows[r].size()) << "row " << r;
    for (size_t f = 0; f < before.rows[r].size(); ++f) {
      bool made_null = before.na[r][f] && !(header && r == 0);
      const CopyField& a = after.rows[r][f];
      const CopyField& b = before.rows[r][f];
      EXPECT_EQ(a.null, made_null || b.null) << "row " << r << " field " << f;
      if (!made_null) {
        EXPECT_EQ(a.value, b.value) << "row " << r << " field " << f;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running the rewriter.

// Feeds `in` cut at `cuts` (increasing offsets), then finishes.
std::string RewriteCut(const std::string& in, const CsvDialect& d,
                       const std::vector<std::string>& na, bool header,
                       const std::vector<size_t>& cuts) {
  CsvNaRewriter rw(na, d, header);
  std::string out;
  size_t from = 0;
  for (size_t cut : cuts) {
    rw.Feed(in.data() + from, cut - from, &out);
    from = cut;
  }
  rw.Feed(in.data() + from, in.size() - from, &out);
  rw.Finish(&out);
  return out;
}

std::string RewriteAll(const std::string& in, const CsvDialect& d = CsvDialect{},
                       const std::vector<std::string>& na = Pandas(), bool header = false) {
  return RewriteCut(in, d, na, header, {});
}

// The caller-buffer API the COPY callback uses: each piece is read into buf + MaxCarry() and
// rewritten into buf itself.
std::string RewriteInPlace(const std::string& in, const CsvDialect& d,
                           const std::vector<std::string>& na, bool header, size_t piece) {
  CsvNaRewriter rw(na, d, header);
  const size_t carry = rw.MaxCarry();
  std::vector<char> buf(carry + piece);
  std::string out;
  for (size_t i = 0; i < in.size(); i += piece) {
    size_t n = std::min(piece, in.size() - i);
    std::copy(in.begin() + i, in.begin() + i + n, buf.begin() + carry);
    size_t wrote = rw.Rewrite(buf.data() + carry, n, buf.data());
    EXPECT_LE(wrote, n + carry);
    out.append(buf.data(), wrote);
  }
  size_t wrote = rw.Finish(buf.data());
  EXPECT_LE(wrote, carry);
  out.append(buf.data(), wrote);
  return out;
}

// Checks one input through every way of feeding it; returns false after the first mismatch.
bool CheckAllFeeds(const std::string& in, const CsvDialect& d, const std::vector<std::string>& na,
                   bool header, std::mt19937* rng = nullptr) {
  const std::string want = Expected(in, d, na, header);
  SCOPED_TRACE("input \"" + Printable(in) + "\" header=" + std::to_string(header) +
               " delimiter=" + Printable(std::string(1, d.delimiter)) + " quote=" +
               std::string(1, d.quote) + " escape=" + std::string(1, d.escape));
  auto same = [&](const std::string& got, const std::string& how) {
    if (got == want) return true;
    ADD_FAILURE() << how << ": got \"" << Printable(got) << "\" want \"" << Printable(want) << "\"";
    return false;
  };
  if (!same(RewriteAll(in, d, na, header), "all at once")) return false;
  std::vector<size_t> bytes;
  for (size_t i = 1; i < in.size(); ++i) bytes.push_back(i);
  if (!same(RewriteCut(in, d, na, header, bytes), "one byte at a time")) return false;
  for (size_t cut = 0; cut <= in.size(); ++cut)
    if (!same(RewriteCut(in, d, na, header, {cut}), "split at " + std::to_string(cut)))
      return false;
  for (size_t piece : {1, 2, 3, 7, 64})
    if (!same(RewriteInPlace(in, d, na, header, piece),
              "in place, pieces of " + std::to_string(piece)))
      return false;
  if (rng != nullptr) {
    for (int k = 0; k < 4; ++k) {
      std::vector<size_t> cuts;
      for (size_t at = (*rng)() % 5; at < in.size(); at += 1 + (*rng)() % 9) cuts.push_back(at);
      if (!same(RewriteCut(in, d, na, header, cuts), "random pieces")) return false;
    }
  }
  return true;
}

// Both references agree on what COPY reads, and the rewriter agrees with them however fed.
void Check(const std::string& in, const CsvDialect& d = CsvDialect{},
           const std::vector<std::string>& na = Pandas(), bool header = false) {
  if (!CheckAllFeeds(in, d, na, header)) return;
  ExpectCopyReadsNaAsNull(in, Expected(in, d, na, header), d, na, header);
}

// ---------------------------------------------------------------------------------------------
// The references themselves.

TEST(CsvNaReference, ReadsAsCopyDoes) {
  CsvDialect csv;
  CopyRead r = ReadLikeCopy("a,\"b,c\",,\"\"\nx\"y\"z,\"q\"\"\"\n", csv);
  ASSERT_EQ(r.rows.size(), 2u);
  ASSERT_EQ(r.rows[0].size(), 4u);
  EXPECT_EQ(r.rows[0][1].value, "b,c");
  EXPECT_TRUE(r.rows[0][2].null);
  EXPECT_FALSE(r.rows[0][3].null);  // "" is an empty string, not NULL
  EXPECT_EQ(r.rows[1][0].value, "xyz");
  EXPECT_EQ(r.rows[1][1].value, "q\"");
  EXPECT_EQ(ReadLikeCopy("1,x\r\n2,y\n", csv).error, "unquoted newline found in data");
  EXPECT_EQ(ReadLikeCopy("1,\"x\n", csv).error, "unterminated CSV quoted field");
  EXPECT_TRUE(ReadLikeCopy("1\n\\.\n2\n", csv).marker);
  EXPECT_EQ(ReadLikeCopy("\"a\\\"b\"\n", Backslash()).rows[0][0].value, "a\"b");
  EXPECT_EQ(Expected("NA,\"NA\",NAN,\"N\"\"A\"\n", csv, Pandas(), false), ",,NAN,\"N\"\"A\"\n");
}

// ---------------------------------------------------------------------------------------------
// Named cases.

TEST(CsvNa, EveryPandasDefaultUnquotedAndQuotedIsNull) {
  for (const std::string& v : Pandas()) {
    SCOPED_TRACE(v);
    if (v.empty()) continue;
    EXPECT_EQ(RewriteAll("1," + v + ",2\n"), "1,,2\n");
    EXPECT_EQ(RewriteAll("1,\"" + v + "\",2\n"), "1,,2\n");
    EXPECT_EQ(RewriteAll(v + "\n" + v), "\n\n");
    Check("x," + v + ",\"" + v + "\"\n" + v + "\r\n");
  }
}

TEST(CsvNa, NearMissesPassByteForByte) {
  // pandas compares exactly: case, spaces and prefixes count.
  for (const char* v : {"NAN", "Nan", "nAn", "NA ", " NA", "na", "Null", "NULLL", "N", "nul",
                        "#N/A N", "#N/A  N/A", "1.#QNAN0", "-1.#in", "<na>", "None", "n/A", "\"NA\"x",
                        "\"N\"\"A\"", "NA\\"}) {
    std::string in = std::string("a,") + v + ",b\n";
    EXPECT_EQ(RewriteAll(in), in) << v;
    Check(in);
  }
}

TEST(CsvNa, AValueIsWhatCopyReadsNotWhereTheQuotesAre) {
  // COPY reads a quoted part anywhere in a field, so these are all the value NA.
  EXPECT_EQ(RewriteAll("N\"A\",\"N\"A,\"\"NA,NA\"\",\"N\"\"\"A\n"), ",,,,\"N\"\"\"A\n");
  Check("N\"A\",\"N\"A,\"\"NA,NA\"\",\"N\"\"\"A\n");
  // A literal quote is never NA.
  EXPECT_EQ(RewriteAll("\"N\"\"A\"\n"), "\"N\"\"A\"\n");
}

TEST(CsvNa, QuotedDelimitersAndLineBreaksAreData) {
  std::string in = "\"x,NA\",NA\n\"NA\nNA\",\"a\r\nb\",NA\r\n\"NA\rNA\",NA";
  EXPECT_EQ(RewriteAll(in), "\"x,NA\",\n\"NA\nNA\",\"a\r\nb\",\r\n\"NA\rNA\",");
  Check(in);
}

TEST(CsvNa, EmptyLinesAndTheLastRecordWithoutALineEnding) {
  EXPECT_EQ(RewriteAll("\n\nNA\n\n"), "\n\n\n\n");
  EXPECT_EQ(RewriteAll("a,NA"), "a,");
  EXPECT_EQ(RewriteAll("a,\"NA\""), "a,");
  EXPECT_EQ(RewriteAll(""), "");
  // A last record that is one NA field with no line ending stays a record: an empty line, in
  // the first record's style.
  EXPECT_EQ(RewriteAll("NA"), "\n");
  EXPECT_EQ(RewriteAll("a\nNA"), "a\n\n");
  EXPECT_EQ(RewriteAll("a\r\nNA"), "a\r\n\r\n");
  EXPECT_EQ(RewriteAll("a\rNA"), "a\r\r");
  EXPECT_EQ(RewriteAll("a\r\"NA\""), "a\r\r");
  EXPECT_EQ(RewriteCut("a\r\nNA", CsvDialect{}, Pandas(), false, {2}), "a\r\n\r\n");
  EXPECT_EQ(RewriteAll("a,b\r\nNA", CsvDialect{}, Pandas(), true), "a,b\r\n\r\n");
  // An unterminated quoted field is COPY's error: it passes.
  EXPECT_EQ(RewriteAll("a,\"NA"), "a,\"NA");
  for (const char* in : {"\n\nNA\n\n", "a,NA", "a,\"NA\"", "NA", "a,\"NA", "NA,\"NA\nx", "a\nNA",
                         "a\r\nNA", "a\rNA", "NA\r", "a\r"})
    Check(in);
}

TEST(CsvNa, HeaderPassesUntouched) {
  EXPECT_EQ(RewriteAll("NA,b\nNA,1\n", CsvDialect{}, Pandas(), true), "NA,b\n,1\n");
  EXPECT_EQ(RewriteAll("NA,b\nNA,1\n", CsvDialect{}, Pandas(), false), ",b\n,1\n");
  // The header is the first record, quoted line breaks and all.
  EXPECT_EQ(RewriteAll("\"N\nA\",NA\nNA,x\n", CsvDialect{}, Pandas(), true), "\"N\nA\",NA\n,x\n");
  EXPECT_EQ(RewriteAll("NA,NA\r\nNA,NA\r\n", CsvDialect{}, Pandas(), true), "NA,NA\r\n,\r\n");
  EXPECT_EQ(RewriteAll("NA", CsvDialect{}, Pandas(), true), "NA");
  for (bool header : {false, true}) {
    Check("NA,b\nNA,1\n", CsvDialect{}, Pandas(), header);
    Check("\"N\nA\",NA\nNA,x\n", CsvDialect{}, Pandas(), header);
    Check("NA,NA\r\nNA,NA\r\n", CsvDialect{}, Pandas(), header);
    Check("NA,NA\rNA,NA\r", CsvDialect{}, Pandas(), header);
  }
}

TEST(CsvNa, LineEndingsLfCrLfAndLoneCr) {
  EXPECT_EQ(RewriteAll("NA\r\nx,NA\r\nNA"), "\r\nx,\r\n\r\n");
  EXPECT_EQ(RewriteAll("NA\rx,NA\rNA"), "\rx,\r\r");
  // Mixed endings are COPY's error; the rewrite keeps every line break, so COPY still fails.
  // A lone NA between '\r' and '\n' stays, or the two would become one "\r\n".
  EXPECT_EQ(RewriteAll("a\rNA\nNA\r"), "a\rNA\n\r");
  EXPECT_EQ(RewriteAll("NA\rNA\n"), "\rNA\n");
  EXPECT_EQ(RewriteAll("a\rNA,NA\n"), "a\r,\n");
  Check("a\rNA\nNA\r");
  Check("NA\rNA\n");
  Check("a\r\nNA\nNA\r\n");
  Check("a\nNA\rNA\n");
  Check("a\rNA\r\nNA\r");
}

TEST(CsvNa, OtherDelimitersAndQuotes) {
  CsvDialect semicolon = Dialect(';', '"', '"');
  EXPECT_EQ(RewriteAll("a;NA;\"nan\";x,NA\n", semicolon), "a;;;x,NA\n");
  CsvDialect tab = Dialect('\t', '"', '"');
  EXPECT_EQ(RewriteAll("NA\tN/A\t\"#N/A N/A\"\tNA,\n", tab), "\t\t\tNA,\n");
  CsvDialect single = Dialect(',', '\'', '\'');
  EXPECT_EQ(RewriteAll("'NA',\"NA\",'N''A','#N/A N/A'\n", single), ",\"NA\",'N''A',\n");
  CsvDialect pipe = Dialect('|', '\'', '\\');
  EXPECT_EQ(RewriteAll("'NA'|'N\\'A'|NA\n", pipe), "|'N\\'A'|\n");
  for (const CsvDialect& d : {semicolon, tab, single, pipe}) {
    Check("a;NA;\"nan\";x,NA\n", d);
    Check("NA\tN/A\t\"#N/A N/A\"\tNA,\n", d);
    Check("'NA',\"NA\",'N''A','#N/A N/A'\n", d);
    Check("'NA'|'N\\'A'|NA\n", d);
  }
}

TEST(CsvNa, EscapeDistinctFromTheQuote) {
  CsvDialect d = Backslash();
  // \" is a literal quote (never NA); \\ a literal backslash; "" opens and closes (nothing).
  EXPECT_EQ(RewriteAll("\"N\\\"A\",\"NA\",\"N\"\"A\",\"N\\A\"\n", d), "\"N\\\"A\",,,\"N\\A\"\n");
  std::vector<std::string> na = {"N\\A", "NA"};
  EXPECT_EQ(RewriteAll("\"N\\\\A\",\"N\\A\",N\\A,N\\\\A\n", d, na), ",,,N\\\\A\n");
  // With the default escape a backslash is data.
  EXPECT_EQ(RewriteAll("\"N\\\\A\",\"N\\A\",N\\A\n", CsvDialect{}, na), "\"N\\\\A\",,\n");
  for (const char* in : {"\"N\\\"A\",\"NA\",\"N\"\"A\",\"N\\A\"\n", "\"N\\\\A\",\"N\\A\",N\\A,N\\\\A\n",
                         "\"\\\\\",\"\\\"\\\\\",NA\\\n", "\"a\\\nNA\",NA\n"}) {
    Check(in, d, na);
    Check(in, d);
  }
}

TEST(CsvNa, EmptyValueIsNullOnlyWhenQuotedAndAnNaValue) {
  // Unquoted empty is NULL for COPY already; "" is an empty string unless "" is an NA value.
  EXPECT_EQ(RewriteAll(",\"\",\"\"\"\",x\n"), ",,\"\"\"\",x\n");
  EXPECT_EQ(RewriteAll(",\"\",x\n", CsvDialect{}, {"NA"}), ",\"\",x\n");
  EXPECT_EQ(RewriteAll("\"\"", CsvDialect{}, {""}), "\n");
  // Under a distinct escape "" "" is two empty quoted parts: still empty.
  EXPECT_EQ(RewriteAll("\"\"\"\",x\n", Backslash(), {"", "NA"}), ",x\n");
  Check(",\"\",\"\"\"\",x\n");
  Check(",\"\",x\n", CsvDialect{}, {"NA"});
  Check("\"\"\"\",x\n", Backslash(), {"", "NA"});
}

TEST(CsvNa, EndOfCopyMarkerIsNeverTouched) {
  Check("a\n\\.\nNA\n");
  Check("a\r\n\\.\r\nNA\r\n");
  EXPECT_EQ(RewriteAll("\\.,NA\n\\.\n"), "\\.,\n\\.\n");
}

TEST(CsvNa, NaValuesThatCannotBeAFieldAreRefused) {
  auto refused = [](std::vector<std::string> na, CsvDialect d, const std::string& shown) {
    Error e = CatchError([&] { CsvNaRewriter rw(na, d, false); });
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_EQ(std::string(e.message()), "invalid NA value \"" + shown + "\"");
    EXPECT_FALSE(e.detail().empty());
  };
  refused({"NA", "a,b"}, CsvDialect{}, "a,b");
  refused({"\"NA\""}, CsvDialect{}, "\"NA\"");
  refused({"N\nA"}, CsvDialect{}, "N\\nA");
  refused({"N\rA"}, CsvDialect{}, "N\\rA");
  refused({std::string("N\0A", 3)}, CsvDialect{}, "N\\x00A");
  refused({"x;y"}, Dialect(';', '"', '"'), "x;y");
  refused({"it's"}, Dialect(',', '\'', '\''), "it's");
  refused({"\\."}, CsvDialect{}, "\\.");
  refused({"\\"}, Dialect('.', '"', '"'), "\\");
  EXPECT_EQ(CatchError([] { CsvNaRewriter rw({"NA"}, Dialect('\\', '"', '"'), false); }).sqlstate(),
            "22023");
  Error too_long =
      CatchError([] { CsvNaRewriter rw({std::string(1025, 'x')}, CsvDialect{}, false); });
  EXPECT_EQ(too_long.sqlstate(), "22023");
  EXPECT_EQ(std::string(too_long.message()), "NA value is longer than 1024 bytes");
  EXPECT_EQ(CsvNaRewriter({std::string(1024, 'x')}, CsvDialect{}, false).MaxCarry(), 4098u);
  // Anywhere else these are fine.
  CsvNaRewriter ok({"\\", ".", "a;b", "\\.x"}, CsvDialect{}, false);
  EXPECT_EQ(CatchError([] { CsvNaRewriter rw({"NA"}, Dialect(',', ',', ','), false); }).sqlstate(),
            "22023");
  EXPECT_EQ(CatchError([] { CsvNaRewriter rw({"NA"}, Dialect('\n', '"', '"'), false); }).sqlstate(),
            "22023");
}

TEST(CsvNa, LongFieldsPassAtOnceWithBoundedMemory) {
  CsvNaRewriter rw(Pandas(), CsvDialect{}, false);
  const size_t carry = rw.MaxCarry();
  EXPECT_EQ(carry, 4u * 8 + 2);  // "#N/A N/A"
  // A 64 MiB field fed in 64 KiB pieces: every piece is out by the next one, never held.
  std::string piece(64 << 10, 'N');
  std::vector<char> out(piece.size() + carry);
  size_t total = 0;
  for (int i = 0; i < 1024; ++i) {
    size_t wrote = rw.Rewrite(piece.data(), piece.size(), out.data());
    if (i == 0) {
      EXPECT_EQ(wrote, piece.size());
    }
    total += wrote;
  }
  size_t wrote = rw.Rewrite("A,NA\n", 5, out.data());
  EXPECT_EQ(std::string(out.data(), wrote), "A,\n");
  EXPECT_EQ(total, 1024 * piece.size());
  EXPECT_EQ(rw.Finish(out.data()), 0u);
  EXPECT_EQ(rw.Replaced(), 1);
  // A field held to the limit and then one byte more goes out whole.
  std::string near = "\"NA" + std::string(carry, ' ');
  EXPECT_EQ(RewriteCut(near + "\",NA\n", CsvDialect{}, Pandas(), false,
                       {carry - 1, carry, carry + 1}),
            near + "\",\n");
}

TEST(CsvNa, AFieldLongerThanMaxCarryIsNeverNa) {
  // Only empty quote pairs under a distinct escape can make an NA field that long: documented.
  CsvDialect d = Backslash();
  std::string pairs;
  for (int i = 0; i < 20; ++i) pairs += "\"\"";
  EXPECT_EQ(RewriteAll("\"\"NA,x\n", d, {"NA"}), ",x\n");
  EXPECT_EQ(RewriteAll(pairs + "NA,x\n", d, {"NA"}), pairs + "NA,x\n");
  Check(pairs + "NA,x\n", d, {"NA"});
}

TEST(CsvNa, CountsAndFinish) {
  CsvNaRewriter rw(Pandas(), CsvDialect{}, true);
  std::string out;
  rw.Feed("NA,b\nNA,\"nan\",x\nN", 17, &out);
  rw.Feed("A", 1, &out);
  rw.Finish(&out);
  EXPECT_EQ(out, "NA,b\n,,x\n\n");
  EXPECT_EQ(rw.Replaced(), 3);
  rw.Finish(&out);  // a second Finish writes nothing
  EXPECT_EQ(out, "NA,b\n,,x\n\n");
  EXPECT_EQ(CatchError([&] { rw.Feed("x", 1, &out); }).sqlstate(), "XX000");
}

// ---------------------------------------------------------------------------------------------
// Generated inputs: every split point, one byte at a time, random pieces, in place.

class Gen {
 public:
  Gen(uint32_t seed, CsvDialect d, std::vector<std::string> na)
      : rng_(seed), d_(d), na_(std::move(na)) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(1, 100) <= percent; }

  // A field from the pieces that matter: NA values, near misses, quotes, escapes, breaks.
  std::string Field() {
    const std::string q(1, d_.quote), e(1, d_.escape);
    std::string s;
    int parts = Int(0, 3);
    for (int k = 0; k < parts; ++k) {
      switch (Int(0, 9)) {
        case 0: case 1: s += na_[Int(0, static_cast<int>(na_.size()) - 1)]; break;
        case 2: s += q + na_[Int(0, static_cast<int>(na_.size()) - 1)] + q; break;
        case 3:
          s += std::vector<std::string>{"NAN", "N", "x", "nu", "1.5", "\\."}[Int(0, 5)];
          break;
        case 4: s += q + q; break;
        case 5: s += q + "a" + std::string(1, d_.delimiter) + "\n" + q; break;
        case 6: s += q + e + q + q; break;
        case 7: s += q + e + e + q; break;
        case 8: s += q + "\r\n" + e + q; break;
        case 9: s += std::string(Int(1, 50), 'N'); break;
      }
    }
    return s;
  }

  std::string Csv() {
    std::string s;
    int records = Int(0, 4);
    for (int r = 0; r < records; ++r) {
      int fields = Int(1, 4);
      for (int f = 0; f < fields; ++f) s += (f ? std::string(1, d_.delimiter) : "") + Field();
      s += std::vector<std::string>{"\n", "\n", "\r\n", "\r", ""}[Int(0, 4)];
    }
    if (Chance(10)) s += d_.quote + std::string("NA");  // unterminated
    return s;
  }

  // Random bytes from the ones that matter.
  std::string Soup(int n) {
    const char bytes[] = {'N',       'A',  'n',  'a',  d_.delimiter, d_.quote,
                          d_.escape, '\n', '\r', '\\', '.',          'x'};
    std::string s;
    for (int i = 0; i < n; ++i) s += bytes[Int(0, sizeof bytes - 1)];
    return s;
  }

  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
  CsvDialect d_;
  std::vector<std::string> na_;
};

TEST(CsvNa, GeneratedFilesEverySplitEveryDialect) {
  const std::vector<std::pair<CsvDialect, std::vector<std::string>>> cases = {
      {CsvDialect{}, Pandas()},
      {Backslash(), Pandas()},
      {Dialect(';', '\'', '\''), {"NA", "", "x"}},
      {Dialect('\t', '"', '\\'), {"NA", "N\\A", ""}},
      {Dialect(',', '"', '"'), {"NA"}},
  };
  uint32_t seed = 1;
  for (const auto& [d, na] : cases) {
    for (int i = 0; i < 300; ++i) {
      Gen g(seed++, d, na);
      std::string in = g.Csv();
      bool header = g.Chance(30);
      if (!CheckAllFeeds(in, d, na, header, &g.rng())) return;
      ExpectCopyReadsNaAsNull(in, Expected(in, d, na, header), d, na, header);
      if (HasFailure()) return;
    }
  }
}

TEST(CsvNa, FuzzAgainstBothReferences) {
  const std::vector<CsvDialect> dialects = {CsvDialect{}, Backslash(), Dialect(';', '\'', '\\')};
  const std::vector<std::string> na = {"NA", "A", "", "N\\A", "nan", "\\", "."};
  // PGPIPE_FUZZ_SEEDS=200000 for a longer run by hand.
  const char* seeds_env = std::getenv("PGPIPE_FUZZ_SEEDS");
  const uint32_t seeds = seeds_env != nullptr ? static_cast<uint32_t>(std::atol(seeds_env)) : 3000;
  for (uint32_t seed = 1; seed <= seeds; ++seed) {
    const CsvDialect& d = dialects[seed % dialects.size()];
    Gen g(seed, d, na);
    std::string in = g.Soup(g.Int(0, 24));
    bool header = g.Chance(20);
    if (!CheckAllFeeds(in, d, na, header, &g.rng())) return;
    ExpectCopyReadsNaAsNull(in, Expected(in, d, na, header), d, na, header);
    if (HasFailure()) return;
  }
}

}  // namespace
