// The loader's streaming source: fetches one http(s) URL on its own thread (libcurl multi
// interface), inflates gzip there too, and hands the bytes to the COPY data callback through a
// bounded queue, so the download and the inflation run on another core while Postgres parses.
//
// Life of a source: construct (validates, no I/O) -> Start() (launches the producer thread) ->
// Read() until it returns 0 or throws -> destroy (aborts and joins). The consumer never blocks
// inside Read: when it returns kWouldBlock, wait for ReadyFd() to become readable (Postgres:
// WaitLatchOrSocket with WL_SOCKET_READABLE, so interrupts are served meanwhile).
//
// Response headers are capped (kMaxHeaderBytes per response, kMaxHeaderLineBytes per line in
// http_source.cpp), so a server cannot make us buffer without end before the body.
//
// Redirects are followed by this class, not by libcurl: every target must be http(s) and match
// allowed_prefixes, and they count against max_redirects. With public_addresses_only, every
// connection of every hop must also reach a public address (address_guard.hpp). The producer
// thread never calls into Postgres and runs with every signal blocked, so Postgres's signal
// handlers stay on the backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/address_class.hpp"
#include "core/error.hpp"

namespace pgpipe::core {

// What to fetch and the limits of the transfer.
struct FetchOptions {
  std::string url;
  std::string compression = "auto";  // auto (gzip magic bytes), gzip, none
  long connect_timeout_ms = 10000;
  long low_speed_limit = 1;   // bytes per second ...
  long low_speed_time_s = 30; // ... for this long = stalled (0 in either: no stall check)
  long timeout_ms = 0;        // whole transfer, redirects included, 0 = none
  long max_redirects = 5;
  int64_t max_bytes = 0;      // cap on downloaded (compressed) bytes, 0 = none
  // Cap on the bytes produced for the consumer (after gzip inflation: a 2.4 MB gzip can inflate
  // to 2 GiB, and an endless gzip stream never ends), 0 = none. Exceeding it fails at once with
  // 54000 naming both sizes. src/pg sets it from its GUC and the source's own key.
  int64_t max_decompressed_bytes = 0;
  std::vector<std::string> allowed_prefixes;  // every URL fetched (redirects too); empty = any
  // Connect to public addresses only (address_class.hpp): every address libcurl is about to
  // connect to, for every hop, after name resolution, is checked, and a loopback, private,
  // link-local, unspecified, multicast or reserved one is refused with 42501 (permanent for
  // retries) naming it; proxies are not used. Against SSRF (audit L3): src/pg sets it for
  // roles other than superusers unless a prefix of pipeline.allowed_url_prefixes allows the URL.
  bool public_addresses_only = false;
  // Replaces the classification public_addresses_only uses (ClassifySockaddr); empty = the real
  // one. For tests only: their servers are all on loopback, so one must stand in for a public
  // address to show what the check does on a later hop or a reused connection.
  std::function<AddressInfo(const sockaddr* addr, size_t length)> classify_address;
  size_t chunk_bytes = 256 * 1024;            // queue chunk size ...
  size_t max_chunks = 16;                     // ... and count: the memory bound
  std::string user_agent = "pg_pipeline/0.1";
};

// A snapshot of a transfer's progress, for progress views.
struct FetchStats {
  int64_t bytes_downloaded = 0;    // body bytes of the final response (compressed)
  int64_t bytes_decompressed = 0;  // bytes produced for the consumer
  long http_status = 0;            // of the latest response, 0 before any
  int64_t content_length = -1;     // of the latest response, -1 unknown
  std::string effective_url;       // the URL being fetched now, redacted
  int redirects = 0;
};

class HttpSource {
 public:
  static constexpr int kWouldBlock = -1;

  // Validates the options (URL syntax, http/https only, allowed prefix, compression); throws
  // Error before any I/O.
  explicit HttpSource(FetchOptions opts);
  // Cancels the transfer and joins the thread; never throws.
  ~HttpSource();
  HttpSource(const HttpSource&) = delete;
  HttpSource& operator=(const HttpSource&) = delete;

  // Launches the producer thread (with every signal blocked); call once.
  void Start();
  // Copies up to max bytes into buf: returns the count (> 0), 0 at the clean end of data, or
  // kWouldBlock when nothing is ready yet; throws Error on any failure of the transfer, and
  // Error 57014 "transfer cancelled fetching ..." after Cancel().
  int Read(char* buf, int max);
  // Readable whenever Read would not return kWouldBlock.
  int ReadyFd() const;
  // Stops the transfer at once (wakes the producer wherever it waits); later Reads throw
  // 57014. Any number of times; from the consumer, or any thread once Start has returned.
  void Cancel();
  // Cancels and waits for the producer thread to end; idempotent. For a process about to exit
  // (a FATAL during a load) while this object's frame will never unwind.
  void Stop();
  // Thread-safe progress snapshot.
  FetchStats Stats() const;
  // The error the transfer ended with (what Read threw or will throw), once there is one, with
  // every field an ereport drops: its retry class (transient for HTTP 408/425/429/5xx and
  // connection failures and timeouts, permanent for other 4xx, refused URLs and limits) and the
  // server's Retry-After in seconds (capped at kMaxRetryAfterS, http_status.hpp). Thread-safe;
  // for src/pg to recover the rich error after it came back through a Postgres ereport.
  std::optional<Error> Failure() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgpipe::core
