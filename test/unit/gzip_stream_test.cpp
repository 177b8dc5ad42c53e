// Unit tests of GzipInflater: byte-exact output across any chunking, multi-member streams,
// and the exact messages for truncated and corrupt input.
#include "core/gzip_stream.hpp"

#include <gtest/gtest.h>

#include "catch_error.hpp"

#include <zlib.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "loopback_http_server.hpp"

namespace pgpipe::core {
namespace {

using test::GenerateCsv;
using test::Gzip;
using test::GzipMembers;

// Inflates gz fed in pieces cycling through sizes; Finish included.
std::string InflateInPieces(const std::string& gz, const std::vector<size_t>& sizes,
                            GzipInflater* inflater_out = nullptr) {
  GzipInflater local;
  GzipInflater& inflater = inflater_out ? *inflater_out : local;
  std::string out;
  auto sink = [&out](const char* p, size_t n) { out.append(p, n); };
  size_t i = 0;
  for (size_t off = 0; off < gz.size(); ++i) {
    size_t n = std::min(sizes[i % sizes.size()], gz.size() - off);
    inflater.Feed(gz.data() + off, n, sink);
    off += n;
  }
  inflater.Finish();
  return out;
}


TEST(LooksGzip, ChecksTheMagicBytes) {
  const unsigned char gz[] = {0x1f, 0x8b, 0x08};
  const unsigned char csv[] = {'i', 'd'};
  EXPECT_TRUE(LooksGzip(gz, 3));
  EXPECT_TRUE(LooksGzip(gz, 2));
  EXPECT_FALSE(LooksGzip(gz, 1));
  EXPECT_FALSE(LooksGzip(csv, 2));
  EXPECT_FALSE(LooksGzip(gz, 0));
}

TEST(GzipInflater, InflatesFiveMegabytesInOddChunksByteExact) {
  std::string csv = GenerateCsv(5 * 1024 * 1024, 7);
  std::string gz = Gzip(csv);
  for (std::vector<size_t> sizes :
       {std::vector<size_t>{7}, {4099}, {65537}, {(1u << 20) + 3}, {gz.size()},
        {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597}}) {
    GzipInflater inflater(1000);  // small output pieces: many sink calls
    std::string out = InflateInPieces(gz, sizes, &inflater);
    ASSERT_EQ(out.size(), csv.size()) << "first piece size " << sizes[0];
    EXPECT_TRUE(out == csv) << "first piece size " << sizes[0];
    EXPECT_EQ(inflater.CompressedBytes(), static_cast<int64_t>(gz.size()));
    EXPECT_EQ(inflater.DecompressedBytes(), static_cast<int64_t>(csv.size()));
    EXPECT_EQ(inflater.Members(), 1);
  }
}

TEST(GzipInflater, InflatesOneByteAtATime) {
  std::string csv = GenerateCsv(300 * 1024, 3);
  EXPECT_TRUE(InflateInPieces(Gzip(csv), {1}) == csv);
}

TEST(GzipInflater, InflatesMultiMemberStreamsOneByteAtATime) {
  std::vector<std::string> parts = {GenerateCsv(20000, 1), "", "second,part\n",
                                    GenerateCsv(30000, 2)};
  std::string gz = GzipMembers(parts);
  std::string expected = parts[0] + parts[1] + parts[2] + parts[3];
  GzipInflater inflater;
  EXPECT_TRUE(InflateInPieces(gz, {1}, &inflater) == expected);
  EXPECT_EQ(inflater.Members(), 4);
}

TEST(GzipInflater, InflatesMultiMemberStreamsSplitAtAndAroundMemberBoundaries) {
  std::vector<std::string> parts = {GenerateCsv(5000, 1), GenerateCsv(7000, 2), "tail\n"};
  std::vector<std::string> members = {Gzip(parts[0]), Gzip(parts[1]), Gzip(parts[2])};
  std::string gz = members[0] + members[1] + members[2];
  std::string expected = parts[0] + parts[1] + parts[2];
  // Exactly at the boundaries, then one byte into the next header, then one byte short.
  EXPECT_TRUE(InflateInPieces(gz, {members[0].size(), members[1].size(), members[2].size()}) ==
              expected);
  EXPECT_TRUE(InflateInPieces(gz, {members[0].size() + 1, members[1].size() - 1}) == expected);
  EXPECT_TRUE(InflateInPieces(gz, {members[0].size() - 1, 2}) == expected);
  // Two whole members in one piece.
  EXPECT_TRUE(InflateInPieces(gz, {members[0].size() + members[1].size(), 10}) == expected);
}

TEST(GzipInflater, ReportsTruncationWithTheByteCount) {
  std::string gz = Gzip(GenerateCsv(100000, 5));
  std::string cut = gz.substr(0, gz.size() - 1);
  Error e = CatchError([&] { InflateInPieces(cut, {4096}); });
  EXPECT_EQ(e.sqlstate(), "22P04");
  EXPECT_EQ(std::string(e.message()), "gzip stream is truncated: the data ended after " +
                                          std::to_string(cut.size()) + " compressed bytes");
  e = CatchError([&] { InflateInPieces(gz.substr(0, 1000), {1}); });
  EXPECT_EQ(std::string(e.message()),
            "gzip stream is truncated: the data ended after 1000 compressed bytes");
}

TEST(GzipInflater, ReportsTruncationInsideTheNextMembersHeader) {
  std::string first = Gzip("a,b\n");
  std::string gz = first + Gzip("c,d\n").substr(0, 5);
  Error e = CatchError([&] { InflateInPieces(gz, {1}); });
  EXPECT_EQ(std::string(e.message()), "gzip stream is truncated: the data ended after " +
                                          std::to_string(first.size() + 5) + " compressed bytes");
}

TEST(GzipInflater, ReportsEmptyInputAsTruncated) {
  GzipInflater inflater;
  Error e = CatchError([&] { inflater.Finish(); });
  EXPECT_EQ(e.sqlstate(), "22P04");
  EXPECT_EQ(std::string(e.message()),
            "gzip stream is truncated: the data ended after 0 compressed bytes");
}

TEST(GzipInflater, ReportsNonGzipInput) {
  Error e = CatchError([&] { InflateInPieces("id,name\n1,a\n", {100}); });
  EXPECT_EQ(e.sqlstate(), "22P04");
  EXPECT_EQ(std::string(e.message()), "invalid gzip data at compressed byte 2: incorrect header check");
}

TEST(GzipInflater, ReportsAnUnknownCompressionMethod) {
  std::string gz = Gzip("x\n");
  gz[2] = 7;
  Error e = CatchError([&] { InflateInPieces(gz, {1}); });
  EXPECT_EQ(std::string(e.message()),
            "invalid gzip data at compressed byte 4: unknown compression method");
}

TEST(GzipInflater, ReportsCorruptDeflateData) {
  std::string gz = Gzip(GenerateCsv(200000, 9));
  for (size_t i = 100; i < 140; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  Error e = CatchError([&] { InflateInPieces(gz, {333}); });
  EXPECT_EQ(e.sqlstate(), "22P04");
  EXPECT_EQ(std::string(e.message()).rfind("invalid gzip data at compressed byte ", 0), 0u)
      << e.message();
}

TEST(GzipInflater, ReportsABadChecksumAtTheTrailer) {
  std::string gz = Gzip(GenerateCsv(50000, 4));
  gz[gz.size() - 6] = static_cast<char>(gz[gz.size() - 6] ^ 1);  // a CRC-32 byte
  Error e = CatchError([&] { InflateInPieces(gz, {1000}); });
  EXPECT_EQ(std::string(e.message()), "invalid gzip data at compressed byte " +
                                          std::to_string(gz.size() - 4) + ": incorrect data check");
}

TEST(GzipInflater, NamesTrailingDataAfterTheLastMemberWithItsOffset) {
  std::string gz = Gzip("a,b\n");
  const std::string at = "trailing data after the end of the gzip stream at offset " +
                         std::to_string(gz.size());
  for (std::vector<size_t> sizes : {std::vector<size_t>{1}, {gz.size()}, {gz.size() + 4}, {3}}) {
    Error e = CatchError([&] { InflateInPieces(gz + "junk", sizes); });
    EXPECT_EQ(e.sqlstate(), "22P04");
    EXPECT_EQ(std::string(e.message()), at) << "piece " << sizes[0];
    EXPECT_EQ(e.detail(), "The gzip stream ends properly there, but what follows begins with "
                          "6a 75, not with the 1f 8b of another gzip member.");
  }
  // Zero padding is trailing data too; one stray byte is found at the end.
  EXPECT_EQ(std::string(CatchError([&] { InflateInPieces(gz + std::string(512, '\0'), {4096}); })
                            .message()),
            at);
  Error one = CatchError([&] { InflateInPieces(gz + "x", {1}); });
  EXPECT_EQ(std::string(one.message()), at);
  EXPECT_EQ(one.detail(), "The gzip stream ends properly there, but what follows begins with 78, "
                          "not with the 1f 8b of another gzip member.");
  // A lone 1f may be the start of a member that was cut off.
  EXPECT_EQ(std::string(CatchError([&] { InflateInPieces(gz + "\x1f", {1}); }).message()),
            "gzip stream is truncated: the data ended after " + std::to_string(gz.size() + 1) +
                " compressed bytes");
  // A real second member right after still works, split anywhere.
  std::string two = gz + Gzip("c,d\n");
  for (size_t piece : {size_t{1}, gz.size() + 1, gz.size() - 1, two.size()})
    EXPECT_EQ(InflateInPieces(two, {piece}), "a,b\nc,d\n") << piece;
}

// A gzip member with every optional header field (extra, name, comment, header CRC), made by
// zlib, at compression `level` (0: stored blocks only).
std::string GzipWithHeaderFields(const std::string& data, int level) {
  z_stream strm{};
  if (deflateInit2(&strm, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("init");
  gz_header header{};
  std::string extra("AB\x04\x00" "data", 8), name = "yellow_tripdata.csv", comment = "the month";
  header.extra = reinterpret_cast<Bytef*>(extra.data());
  header.extra_len = static_cast<uInt>(extra.size());
  header.name = reinterpret_cast<Bytef*>(name.data());
  header.comment = reinterpret_cast<Bytef*>(comment.data());
  header.hcrc = 1;
  deflateSetHeader(&strm, &header);
  std::string out(deflateBound(&strm, data.size()) + 64, '\0');
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  strm.avail_in = static_cast<uInt>(data.size());
  strm.next_out = reinterpret_cast<Bytef*>(out.data());
  strm.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&strm, Z_FINISH);
  deflateEnd(&strm);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(strm.total_out);
  return out;
}

TEST(GzipInflater, ReadsEveryOptionalHeaderFieldAndStoredBlocks) {
  const std::string csv = GenerateCsv(30000, 3);
  for (int level : {0, 1, 9}) {
    std::string gz = GzipWithHeaderFields(csv, level) + GzipWithHeaderFields("x,y\n", level);
    for (size_t piece : {size_t{1}, size_t{3}, size_t{17}, size_t{4096}, gz.size()})
      EXPECT_TRUE(InflateInPieces(gz, {piece}) == csv + "x,y\n") << "level " << level << " piece " << piece;
  }
  // The header's CRC-16 is checked, at the byte zlib checks it.
  std::string gz = GzipWithHeaderFields("a\n", 6);
  const size_t hcrc = 10 + 2 + 8 + 20 + 10;  // fixed part, extra length and field, name, comment
  gz[hcrc] = static_cast<char>(gz[hcrc] ^ 1);
  EXPECT_EQ(std::string(CatchError([&] { InflateInPieces(gz, {5}); }).message()),
            "invalid gzip data at compressed byte " + std::to_string(hcrc + 2) + ": header crc mismatch");
}

TEST(GzipInflater, ChecksTheLengthInTheTrailer) {
  std::string gz = Gzip(GenerateCsv(20000, 2));
  gz[gz.size() - 2] = static_cast<char>(gz[gz.size() - 2] ^ 1);  // a byte of ISIZE
  EXPECT_EQ(std::string(CatchError([&] { InflateInPieces(gz, {7}); }).message()),
            "invalid gzip data at compressed byte " + std::to_string(gz.size()) + ": incorrect length check");
}

TEST(GzipInflater, EqualsZlibOnManyMembersSplitEverywhere) {
  // Members of every size around the inflater's read-ahead (its 8-byte bit buffer), empty ones
  // too, fed in pieces of every small size: the trailer bytes it read ahead are read again.
  std::vector<std::string> parts = {"", "a", "ab,c\n", GenerateCsv(50, 1), "", GenerateCsv(3000, 7), "z"};
  std::string want;
  for (const auto& p : parts) want += p;
  std::string gz = GzipMembers(parts);
  for (size_t piece = 1; piece <= 40; ++piece) EXPECT_TRUE(InflateInPieces(gz, {piece}) == want) << piece;
  EXPECT_TRUE(InflateInPieces(gz, {5, 1, 13, 2, 8, 9}) == want);
  GzipInflater inflater;
  InflateInPieces(gz, {64}, &inflater);
  EXPECT_EQ(inflater.Members(), static_cast<int>(parts.size()));
  EXPECT_EQ(inflater.CompressedBytes(), static_cast<int64_t>(gz.size()));
}

TEST(GzipInflater, PropagatesSinkExceptions) {
  std::string gz = Gzip(GenerateCsv(100000, 1));
  GzipInflater inflater;
  EXPECT_THROW(inflater.Feed(gz.data(), gz.size(),
                             [](const char*, size_t) { throw std::runtime_error("full"); }),
               std::runtime_error);
}

}  // namespace
}  // namespace pgpipe::core
