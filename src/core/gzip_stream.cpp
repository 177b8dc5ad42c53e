// Streaming gzip inflation across arbitrary chunk boundaries, with multi-member support: after a
// member ends, any further input starts the next member.
//
// The deflate data is inflated by ISA-L's igzip (isal_inflate, raw deflate), about five times
// faster than zlib's inflate on the taxi file: inflation runs on the loader's producer thread,
// beside COPY's parsing, and with the load split across workers it competes with them for the
// cores. The gzip wrapper is read here, byte by byte as zlib reads it, so its errors name the
// byte zlib would: the header (magic, method, flags, extra field, name, comment, header CRC)
// before the deflate data, the trailer (CRC-32 and length of the member's output) after it.
// isal_inflate reads ahead of the end of the deflate data into its bit buffer; the whole bytes
// it holds there at the end are given back (they begin the trailer).
#include "core/gzip_stream.hpp"

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

constexpr unsigned char kFlagHeaderCrc = 0x02, kFlagExtra = 0x04, kFlagName = 0x08, kFlagComment = 0x10;

// What an ISA-L inflate error means, in zlib's words where zlib has them.
const char* InflateErrorText(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK:
      return "invalid block type";
    case ISAL_INVALID_SYMBOL:
      return "invalid code";
    case ISAL_INVALID_LOOKBACK:
      return "invalid distance too far back";
    case ISAL_NEED_DICT:
      return "need dictionary";
    default:
      return "invalid deflate data";
  }
}

// The error for bad data at compressed byte `at`.
Error BadData(int64_t at, const std::string& why) {
  return Error(sqlstate::kBadCopyFileFormat, "invalid gzip data at compressed byte " + std::to_string(at) + ": " + why);
}

}  // namespace

// The inflate state and where the member is (kept out of the header so its users need not
// include ISA-L's).
struct GzipInflater::ZState {
  enum class Part { kHeader, kBody, kTrailer };
  inflate_state strm{};
  Part part = Part::kHeader;
  // Header: the bytes of its current field, the flags, what of the extra field is left.
  std::string field;
  unsigned char flags = 0;
  uint32_t header_crc = 0;  // CRC-32 of the header so far (for FHCRC)
  size_t extra_left = 0;
  int step = 0;  // 0 fixed part, 1 extra length, 2 extra, 3 name, 4 comment, 5 header CRC
  // Body: the output's CRC-32 and length (mod 2^32), as the trailer gives them.
  uint32_t crc = 0;
  uint32_t length = 0;
  // Trailer bytes read so far.
  std::string trailer;
};

namespace {

// Whether the header has field `step` (1 extra length, 2 extra, 3 name, 4 comment, 5 CRC-16).
bool HeaderFieldPresent(const GzipInflater::ZState& z, int step) {
  switch (step) {
    case 1:
      return (z.flags & kFlagExtra) != 0;
    case 2:
      return z.extra_left > 0;
    case 3:
      return (z.flags & kFlagName) != 0;
    case 4:
      return (z.flags & kFlagComment) != 0;
    default:
      return (z.flags & kFlagHeaderCrc) != 0;
  }
}

}  // namespace

// Checks the two-byte gzip magic number.
bool LooksGzip(const unsigned char* p, size_t n) {
  return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

GzipInflater::GzipInflater(size_t out_chunk_bytes)
    : z_(std::make_unique<ZState>()), out_(out_chunk_bytes == 0 ? 64 * 1024 : out_chunk_bytes) {
  isal_inflate_init(&z_->strm);
  z_->strm.crc_flag = ISAL_DEFLATE;
}

GzipInflater::~GzipInflater() = default;

int64_t GzipInflater::CompressedBytes() const {
  if (z_->part != ZState::Part::kBody) return compressed_bytes_;
  return compressed_bytes_ - z_->strm.read_in_length / 8;
}

// Alternates between inflating a member and checking that what follows a finished member starts
// another one (its two magic bytes may arrive in different calls).
void GzipInflater::Feed(const char* data, size_t n, const Sink& sink) {
  if (failed_) {
    throw Error(sqlstate::kInternalError, "gzip stream fed after an error");
  }
  while (n > 0) {
    if (member_done_) {
      size_t take = std::min(n, size_t{2} - next_magic_.size());
      next_magic_.append(data, take);
      data += take;
      n -= take;
      if (next_magic_.size() < 2) return;
      if (!LooksGzip(reinterpret_cast<const unsigned char*>(next_magic_.data()), 2))
        throw TrailingData();
      // The next member starts here.
      *z_ = ZState{};
      isal_inflate_init(&z_->strm);
      z_->strm.crc_flag = ISAL_DEFLATE;
      member_done_ = false;
      std::string magic;
      magic.swap(next_magic_);
      Inflate(magic.data(), magic.size(), sink);
      continue;
    }
    size_t used = Inflate(data, n, sink);
    data += used;
    n -= used;
  }
}

// Reads the member from where it is: header, deflate data, trailer; returns the bytes consumed
// (all of them, or fewer when the member ended).
size_t GzipInflater::Inflate(const char* data, size_t n, const Sink& sink) {
  ZState& z = *z_;
  size_t used = 0;
  // The header, one byte at a time (it is a few bytes; its errors name their byte).
  while (z.part == ZState::Part::kHeader && used < n) {
    const unsigned char c = static_cast<unsigned char>(data[used++]);
    ++compressed_bytes_;
    z.header_crc = crc32_gzip_refl(z.header_crc, &c, 1);
    z.field.push_back(static_cast<char>(c));
    bool field_done = false;
    switch (z.step) {
      case 0:  // magic (2), method, flags, mtime (4), extra flags, OS: 10 bytes
        if (z.field.size() == 2 && !LooksGzip(reinterpret_cast<const unsigned char*>(z.field.data()), 2)) {
          failed_ = true;
          throw BadData(compressed_bytes_, "incorrect header check");
        }
        if (z.field.size() == 4) {
          if (static_cast<unsigned char>(z.field[2]) != 8) {
            failed_ = true;
            throw BadData(compressed_bytes_, "unknown compression method");
          }
          z.flags = static_cast<unsigned char>(z.field[3]);
          if (z.flags & 0xe0) {
            failed_ = true;
            throw BadData(compressed_bytes_, "unknown header flags set");
          }
        }
        field_done = z.field.size() == 10;
        break;
      case 1:  // the extra field's length
        if (z.field.size() == 2) {
          z.extra_left = static_cast<unsigned char>(z.field[0]) | static_cast<size_t>(static_cast<unsigned char>(z.field[1])) << 8;
          field_done = true;
        }
        break;
      case 2:  // the extra field
        field_done = --z.extra_left == 0;
        z.field.clear();
        break;
      case 3:  // the file name, to its NUL
      case 4:  // the comment, to its NUL
        field_done = c == 0;
        z.field.clear();
        break;
      case 5:  // the header's CRC-16: the low 16 bits of the CRC-32 of the bytes before it
        if (z.field.size() == 2) {
          if ((static_cast<unsigned char>(z.field[0]) | static_cast<unsigned>(static_cast<unsigned char>(z.field[1])) << 8) !=
              (z.crc & 0xffff)) {
            failed_ = true;
            throw BadData(compressed_bytes_, "header crc mismatch");
          }
          field_done = true;
        }
        break;
    }
    if (!field_done) continue;
    z.field.clear();
    // The next field the flags ask for; the CRC-16 covers every header byte before it.
    int next = z.step + 1;
    while (next <= 5 && !HeaderFieldPresent(z, next)) ++next;
    if (next > 5) {
      z.part = ZState::Part::kBody;
      z.crc = 0;
    } else {
      z.step = next;
      z.crc = z.header_crc;
    }
  }
  // The deflate data.
  if (z.part == ZState::Part::kBody && used < n) {
    inflate_state& s = z.strm;
    s.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(data + used));
    const size_t offered = std::min(n - used, size_t{0x40000000u});  // (ISA-L counts in uint32)
    s.avail_in = static_cast<uint32_t>(offered);
    for (;;) {
      s.next_out = reinterpret_cast<uint8_t*>(out_.data());
      s.avail_out = static_cast<uint32_t>(out_.size());
      const uint32_t in_before = s.avail_in;
      const int rc = isal_inflate(&s);
      compressed_bytes_ += in_before - s.avail_in;
      used += in_before - s.avail_in;
      const size_t produced = out_.size() - s.avail_out;
      if (rc != ISAL_DECOMP_OK) {
        failed_ = true;
        throw BadData(CompressedBytes(), InflateErrorText(rc));
      }
      if (produced > 0) {
        z.crc = crc32_gzip_refl(z.crc, reinterpret_cast<const unsigned char*>(out_.data()), produced);
        z.length += static_cast<uint32_t>(produced);
        decompressed_bytes_ += static_cast<int64_t>(produced);
        sink(out_.data(), produced);
      }
      if (s.block_state == ISAL_BLOCK_FINISH) break;
      if (s.avail_in == 0 && s.avail_out != 0) return used;  // wants more input
    }
    // The deflate data ended. The whole bytes isal_inflate read past its end, at most 8 (its bit
    // buffer is 64 bits), are the first of the 8 trailer bytes: read them as such.
    if (s.tmp_in_size != 0) {
      failed_ = true;
      throw Error(sqlstate::kInternalError, "gzip inflation ended with input it had not read");
    }
    z.part = ZState::Part::kTrailer;
    const int ahead = s.read_in_length / 8;
    compressed_bytes_ -= ahead;
    for (int k = 0; k < ahead; ++k)
      if (ReadTrailerByte(static_cast<char>((s.read_in >> (s.read_in_length % 8 + 8 * k)) & 0xff))) return used;
  }
  // The trailer: CRC-32 and length.
  while (z.part == ZState::Part::kTrailer && used < n) {
    ++used;
    if (ReadTrailerByte(data[used - 1])) return used;
  }
  return used;
}

// Reads one trailer byte (counted as consumed); true when it ends the member.
bool GzipInflater::ReadTrailerByte(char c) {
  ZState& z = *z_;
  ++compressed_bytes_;
  z.trailer.push_back(c);
  auto word = [&z](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(z.trailer[at + i])) << (8 * i);
    return v;
  };
  if (z.trailer.size() == 4 && word(0) != z.crc) {
    failed_ = true;
    throw BadData(compressed_bytes_, "incorrect data check");
  }
  if (z.trailer.size() < 8) return false;
  if (word(4) != z.length) {
    failed_ = true;
    throw BadData(compressed_bytes_, "incorrect length check");
  }
  ++members_;
  member_done_ = true;
  return true;
}

// The error for bytes after a finished member that do not start another one.
Error GzipInflater::TrailingData() {
  failed_ = true;
  std::string hex;
  for (unsigned char c : next_magic_) {
    char byte[4];
    std::snprintf(byte, sizeof byte, "%02x", c);
    hex += (hex.empty() ? "" : " ") + std::string(byte);
  }
  return Error(sqlstate::kBadCopyFileFormat,
               "trailing data after the end of the gzip stream at offset " +
                   std::to_string(compressed_bytes_),
               "The gzip stream ends properly there, but what follows begins with " + hex +
                   ", not with the 1f 8b of another gzip member.");
}

// A stream is complete only if its last byte ended a member (one byte after it is the start of
// a cut header when it is 1f, trailing data otherwise).
void GzipInflater::Finish() {
  if (failed_) return;
  if (member_done_ && !next_magic_.empty() && static_cast<unsigned char>(next_magic_[0]) != 0x1f)
    throw TrailingData();
  if (!member_done_ || !next_magic_.empty()) {
    failed_ = true;
    throw Error(sqlstate::kBadCopyFileFormat,
                "gzip stream is truncated: the data ended after " +
                    std::to_string(compressed_bytes_ + static_cast<int64_t>(next_magic_.size())) +
                    " compressed bytes");
  }
}

}  // namespace pgpipe::core
