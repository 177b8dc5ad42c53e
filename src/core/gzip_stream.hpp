// Streaming gzip inflation for the loader: bytes arrive in chunks of any size (one byte at a
// time is fine) and come out in chunks, so memory stays constant whatever the file size.
// Handles multi-member files (concatenated gzip, as `cat a.gz b.gz` or pigz make) and tells a
// truncated stream from a corrupt one. The deflate data is inflated by ISA-L (igzip), the gzip
// wrapper read here (see gzip_stream.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace pgpipe::core {

// True when the first bytes are the gzip magic number (1f 8b); needs n >= 2.
bool LooksGzip(const unsigned char* p, size_t n);

// Inflates a gzip stream fed in arbitrary chunks. Not thread-safe; one stream per object.
class GzipInflater {
 public:
  // Receives each piece of inflated output; it may throw, which aborts Feed.
  using Sink = std::function<void(const char* data, size_t n)>;

  // out_chunk_bytes bounds the size of each piece handed to the sink.
  explicit GzipInflater(size_t out_chunk_bytes = 64 * 1024);
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  // Inflates n more compressed bytes, handing all output they complete to sink; throws
  // Error 22P04 "invalid gzip data at compressed byte N: <what, in zlib's words>" on corrupt
  // input (a wrapper's error names the byte zlib would), and
  // "trailing data after the end of the gzip stream at offset N" when the bytes after a member
  // do not start another member.
  void Feed(const char* data, size_t n, const Sink& sink);

  // Declares the end of input; throws Error 22P04 "gzip stream is truncated: the data ended
  // after N compressed bytes" unless the input ended exactly at the end of a gzip member.
  void Finish();

  // Compressed bytes read so far (those ISA-L holds in its bit buffer, read ahead of the data
  // it inflated, not counted: the count zlib gives).
  int64_t CompressedBytes() const;
  // Inflated bytes handed to the sink so far.
  int64_t DecompressedBytes() const { return decompressed_bytes_; }
  // Complete gzip members seen so far.
  int Members() const { return members_; }

 private:
  // Reads the member (header, deflate data, trailer) until the input is used or the member
  // ends; returns the bytes consumed.
  size_t Inflate(const char* data, size_t n, const Sink& sink);
  // Reads one byte of the trailer (CRC-32, length); true when it ends the member.
  bool ReadTrailerByte(char c);

 public:
  struct ZState;  // (public for the helpers of gzip_stream.cpp)

 private:
  // Marks the stream failed and returns the error for data after the end.
  Error TrailingData();

  std::unique_ptr<ZState> z_;
  std::vector<char> out_;
  int64_t compressed_bytes_ = 0;
  int64_t decompressed_bytes_ = 0;
  int members_ = 0;
  bool member_done_ = false;  // the last byte fed ended a member exactly
  std::string next_magic_;    // bytes after a finished member, until two tell another member
  bool failed_ = false;
};

}  // namespace pgpipe::core
