// Streaming gzip inflation (zlib, gzip wrapper only) across arbitrary chunk boundaries, with
// multi-member support: after a member ends, any further input starts the next member.
#include "core/gzip_stream.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

// The zlib stream, kept out of the header so users of the class need not include zlib.h.
struct GzipInflater::ZState {
  z_stream strm{};
};

// Checks the two-byte gzip magic number.
bool LooksGzip(const unsigned char* p, size_t n) {
  return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

// Sets up a gzip-only inflate stream (16 + MAX_WBITS: gzip header required, no zlib/raw).
GzipInflater::GzipInflater(size_t out_chunk_bytes)
    : z_(std::make_unique<ZState>()), out_(out_chunk_bytes == 0 ? 64 * 1024 : out_chunk_bytes) {
  int rc = inflateInit2(&z_->strm, 16 + MAX_WBITS);
  if (rc != Z_OK) {
    throw Error(sqlstate::kInternalError,
                std::string("could not initialize gzip inflation: ") +
                    (z_->strm.msg ? z_->strm.msg : zError(rc)));
  }
}

// Releases zlib's window and state.
GzipInflater::~GzipInflater() { inflateEnd(&z_->strm); }

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
      inflateReset(&z_->strm);  // the next member starts here
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

// Runs inflate over the input until it is used up or the member ends (then returns early);
// returns the bytes consumed.
size_t GzipInflater::Inflate(const char* data, size_t n, const Sink& sink) {
  z_stream& strm = z_->strm;
  size_t used = 0;
  // zlib counts in uInt: feed huge inputs in slices (never needed with curl, but correct).
  while (used < n) {
    size_t slice = std::min(n - used, size_t{0x40000000u});
    strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data + used));
    strm.avail_in = static_cast<uInt>(slice);
    while (true) {
      strm.next_out = reinterpret_cast<Bytef*>(out_.data());
      strm.avail_out = static_cast<uInt>(out_.size());
      uInt in_before = strm.avail_in;
      int rc = inflate(&strm, Z_NO_FLUSH);
      compressed_bytes_ += in_before - strm.avail_in;
      used += in_before - strm.avail_in;
      size_t produced = out_.size() - strm.avail_out;
      if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
        failed_ = true;
        std::string why = strm.msg ? strm.msg : zError(rc == Z_NEED_DICT ? Z_DATA_ERROR : rc);
        throw Error(sqlstate::kBadCopyFileFormat,
                    "invalid gzip data at compressed byte " + std::to_string(compressed_bytes_) +
                        ": " + why);
      }
      if (produced > 0) {
        decompressed_bytes_ += static_cast<int64_t>(produced);
        sink(out_.data(), produced);
      }
      if (rc == Z_STREAM_END) {
        ++members_;
        member_done_ = true;
        return used;
      }
      // Z_OK or Z_BUF_ERROR: this slice is done when its input is used up and the output was
      // not filled (a full output buffer may mean more output is pending inside zlib).
      if (strm.avail_in == 0 && strm.avail_out != 0) break;
      if (rc == Z_BUF_ERROR && strm.avail_out != 0) return used;  // no progress possible
    }
  }
  return used;
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
