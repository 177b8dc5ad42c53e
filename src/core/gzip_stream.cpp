// Streaming gzip inflation (zlib, gzip wrapper only) across arbitrary chunk boundaries, with
// multi-member support: after a member ends, any further input starts the next member.
#include "core/gzip_stream.hpp"

#include <zlib.h>

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

// Runs inflate until this input is used up and no output is pending, resetting at member ends.
void GzipInflater::Feed(const char* data, size_t n, const Sink& sink) {
  if (failed_) {
    throw Error(sqlstate::kInternalError, "gzip stream fed after an error");
  }
  if (n == 0) return;
  z_stream& strm = z_->strm;
  if (member_done_) {
    // More input after a complete member: it must be the next member.
    inflateReset(&strm);
    member_done_ = false;
  }
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  strm.avail_in = static_cast<uInt>(n);
  // zlib counts in uInt: feed huge inputs in slices (never needed with curl, but correct).
  size_t rest = 0;
  if (n > 0x40000000u) {
    strm.avail_in = 0x40000000u;
    rest = n - strm.avail_in;
  }
  while (true) {
    strm.next_out = reinterpret_cast<Bytef*>(out_.data());
    strm.avail_out = static_cast<uInt>(out_.size());
    uInt in_before = strm.avail_in;
    int rc = inflate(&strm, Z_NO_FLUSH);
    compressed_bytes_ += in_before - strm.avail_in;
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
      if (strm.avail_in == 0 && rest == 0) return;
      inflateReset(&strm);  // more bytes follow: the next member starts here
      member_done_ = false;
      continue;
    }
    if (strm.avail_in == 0 && rest > 0) {
      size_t slice = rest > 0x40000000u ? 0x40000000u : rest;
      strm.avail_in = static_cast<uInt>(slice);
      rest -= slice;
      continue;
    }
    // Z_OK or Z_BUF_ERROR: done when the input is used up and the output was not filled
    // (a full output buffer may mean more output is pending inside zlib).
    if (strm.avail_in == 0 && strm.avail_out != 0) return;
    if (rc == Z_BUF_ERROR && strm.avail_out != 0) return;  // no progress possible
  }
}

// A stream is complete only if its last byte ended a member.
void GzipInflater::Finish() {
  if (failed_) return;
  if (!member_done_) {
    failed_ = true;
    throw Error(sqlstate::kBadCopyFileFormat,
                "gzip stream is truncated: the data ended after " +
                    std::to_string(compressed_bytes_) + " compressed bytes");
  }
}

}  // namespace pgpipe::core
