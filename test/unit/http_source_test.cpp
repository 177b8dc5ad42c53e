// Unit tests of ByteQueue and HttpSource against the in-process loopback server: byte-exact
// content (plain, gzip, multi-member, odd chunking), the exact error of each failure (status,
// stall, reset, lying length, redirects, limits, gzip damage), cancel, readiness, backpressure.
#include "core/http_source.hpp"

#include <gtest/gtest.h>

#include "catch_error.hpp"
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/byte_queue.hpp"
#include "core/error.hpp"
#include "core/gzip_stream.hpp"
#include "core/http_status.hpp"
#include "core/retry_class.hpp"
#include "loopback_http_server.hpp"

namespace pgpipe::core {
namespace {

using test::GenerateCsv;
using test::Gzip;
using test::GzipMembers;
using test::LoopbackHttpServer;
using Clock = std::chrono::steady_clock;

// Milliseconds since t.
long MsSince(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// True when fd becomes readable within timeout_ms.
bool Readable(int fd, int timeout_ms) {
  pollfd pfd{fd, POLLIN, 0};
  return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

// Reads the source to its end the way the COPY callback will: Read, and wait on ReadyFd when
// it would block. Fails the test if nothing happens for 10 s.
std::string ReadAll(HttpSource& source, int max_read = 65536) {
  std::string out;
  std::string buf(static_cast<size_t>(max_read), '\0');
  while (true) {
    int n = source.Read(buf.data(), max_read);
    if (n == 0) return out;
    if (n == HttpSource::kWouldBlock) {
      if (!Readable(source.ReadyFd(), 10000)) {
        ADD_FAILURE() << "ReadyFd never became readable";
        return out;
      }
      continue;
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
}

// Fetches opts to the end and returns the content.
std::string Fetch(FetchOptions opts, FetchStats* stats = nullptr, int max_read = 65536) {
  HttpSource source(std::move(opts));
  source.Start();
  std::string out = ReadAll(source, max_read);
  if (stats) *stats = source.Stats();
  return out;
}


// Fetches opts and returns the Error the fetch must end with.
Error FetchError(FetchOptions opts) {
  return CatchError([&] { Fetch(std::move(opts)); });
}

// Options for url with short limits that keep the suite fast.
FetchOptions Opts(const std::string& url) {
  FetchOptions opts;
  opts.url = url;
  opts.connect_timeout_ms = 2000;
  opts.low_speed_time_s = 5;
  return opts;
}

// --- ByteQueue -------------------------------------------------------------------------------

TEST(ByteQueue, SignalsDataThenEnd) {
  ByteQueue queue(2);
  EXPECT_FALSE(Readable(queue.ReadyFd(), 0));
  char buf[8];
  size_t n = 99;
  EXPECT_EQ(queue.Read(buf, sizeof buf, &n), ByteQueue::ReadStatus::kWouldBlock);
  EXPECT_EQ(n, 0u);
  ASSERT_TRUE(queue.Push("hello"));
  ASSERT_TRUE(queue.Push("world!"));
  EXPECT_TRUE(Readable(queue.ReadyFd(), 0));
  EXPECT_EQ(queue.Read(buf, 3, &n), ByteQueue::ReadStatus::kData);
  EXPECT_EQ(std::string(buf, n), "hel");
  EXPECT_EQ(queue.Read(buf, sizeof buf, &n), ByteQueue::ReadStatus::kData);
  EXPECT_EQ(std::string(buf, n), "loworld!");  // across chunks
  EXPECT_FALSE(Readable(queue.ReadyFd(), 0));
  queue.Close();
  EXPECT_TRUE(Readable(queue.ReadyFd(), 0));
  EXPECT_EQ(queue.Read(buf, sizeof buf, &n), ByteQueue::ReadStatus::kEnd);
}

TEST(ByteQueue, BlocksTheProducerWhenFullUntilRead) {
  ByteQueue queue(2);
  ASSERT_TRUE(queue.Push("a"));
  ASSERT_TRUE(queue.Push("b"));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    queue.Push("c");
    pushed.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pushed.load());
  char buf[1];
  size_t n = 0;
  queue.Read(buf, 1, &n);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(queue.Size(), 2u);
}

TEST(ByteQueue, AbortReleasesABlockedProducer) {
  ByteQueue queue(1);
  ASSERT_TRUE(queue.Push("a"));
  bool result = true;
  std::thread producer([&] { result = queue.Push("b"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  queue.Abort();
  producer.join();
  EXPECT_FALSE(result);
  EXPECT_TRUE(Readable(queue.ReadyFd(), 0));
}

TEST(ByteQueue, RethrowsTheProducersErrorBeforeQueuedData) {
  ByteQueue queue(4);
  queue.Push("data");
  queue.Fail(std::make_exception_ptr(Error("08006", "boom")));
  EXPECT_TRUE(Readable(queue.ReadyFd(), 0));
  char buf[8];
  size_t n = 0;
  Error e = CatchError([&] { queue.Read(buf, sizeof buf, &n); });
  EXPECT_EQ(std::string(e.message()), "boom");
}

// --- HttpSource: validation ------------------------------------------------------------------

TEST(HttpSourceOptions, RefusesOtherSchemesBeforeAnyIo) {
  Error e = CatchError([] { HttpSource s(Opts("file:///etc/passwd")); });
  EXPECT_EQ(e.sqlstate(), "22023");
  EXPECT_EQ(std::string(e.message()), "unsupported URL scheme \"file\" in \"file:///etc/passwd\"");
  EXPECT_EQ(e.hint(), "Only http and https URLs may be fetched.");
  e = CatchError([] { HttpSource s(Opts("ftp://u:pw@example.com/x.csv")); });
  EXPECT_EQ(std::string(e.message()), "unsupported URL scheme \"ftp\" in \"ftp://example.com/x.csv\"");
  e = CatchError([] { HttpSource s(Opts("")); });
  EXPECT_EQ(std::string(e.message()), "URL must not be empty");
}

TEST(HttpSourceOptions, RefusesMalformedUrls) {
  Error e = CatchError([] { HttpSource s(Opts("http://exa mple.com/x?token=abc")); });
  EXPECT_EQ(e.sqlstate(), "22023");
  EXPECT_EQ(std::string(e.message()).rfind("invalid URL \"http://exa mple.com/x?token=***\": ", 0),
            0u)
      << e.message();
}

TEST(HttpSourceOptions, RefusesUrlsOutsideTheAllowedPrefixes) {
  FetchOptions opts = Opts("https://user:pw@evil.example/data.csv");
  opts.allowed_prefixes = {"https://data.example/"};
  Error e = CatchError([&] { HttpSource s(opts); });
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()),
            "URL \"https://evil.example/data.csv\" is not allowed: it matches none of the allowed "
            "URL prefixes");
}

TEST(HttpSourceOptions, DotSegmentsCannotEscapeAnAllowedPrefix) {
  FetchOptions opts = Opts("https://data.example/files/../admin/secret.csv");
  opts.allowed_prefixes = {"https://data.example/files/"};
  Error e = CatchError([&] { HttpSource s(opts); });
  EXPECT_EQ(e.sqlstate(), "42501");
  FetchOptions encoded = Opts("https://data.example/files/%2E%2e/admin/secret.csv");
  encoded.allowed_prefixes = {"https://data.example/files/"};
  Error e2 = CatchError([&] { HttpSource s(encoded); });
  EXPECT_EQ(std::string(e2.message()),
            "URL \"https://data.example/files/%2E%2e/admin/secret.csv\" is not allowed: it has an "
            "encoded dot segment");
  FetchOptions inside = Opts("https://data.example/files/./2021/../taxi.csv");
  inside.allowed_prefixes = {"https://data.example/files/"};
  EXPECT_NO_THROW({ HttpSource s(inside); });
}

TEST(HttpSourceOptions, RefusesUnknownCompression) {
  FetchOptions opts = Opts("http://127.0.0.1/x");
  opts.compression = "zip";
  Error e = CatchError([&] { HttpSource s(opts); });
  EXPECT_EQ(e.sqlstate(), "22023");
  EXPECT_EQ(std::string(e.message()), "unknown compression \"zip\"");
  EXPECT_EQ(e.hint(), "Use auto, gzip or none.");
}

TEST(HttpSourceOptions, ReadBeforeStartIsAnInternalError) {
  HttpSource source(Opts("http://127.0.0.1/x"));
  char buf[4];
  EXPECT_EQ(CatchError([&] { source.Read(buf, 4); }).sqlstate(), "XX000");
}

// --- HttpSource: content ---------------------------------------------------------------------

TEST(HttpSource, StreamsAPlainBodyByteExact) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(1000000, 11);
  server.Route("/plain.csv", LoopbackHttpServer::Serve(csv));
  FetchStats stats;
  std::string got = Fetch(Opts(server.Url("/plain.csv")), &stats);
  EXPECT_TRUE(got == csv);
  EXPECT_EQ(stats.bytes_downloaded, static_cast<int64_t>(csv.size()));
  EXPECT_EQ(stats.bytes_decompressed, static_cast<int64_t>(csv.size()));
  EXPECT_EQ(stats.http_status, 200);
  EXPECT_EQ(stats.content_length, static_cast<int64_t>(csv.size()));
  EXPECT_EQ(stats.redirects, 0);
  EXPECT_EQ(stats.effective_url, server.Url("/plain.csv"));
}

TEST(HttpSource, InflatesAFiveMegabyteGzipSentAndReadInOddChunks) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(5 * 1024 * 1024, 12);
  std::string gz = Gzip(csv);
  server.Route("/taxi.csv.gz", LoopbackHttpServer::Serve(gz, 1237));
  FetchOptions opts = Opts(server.Url("/taxi.csv.gz"));
  opts.chunk_bytes = 4093;
  opts.max_chunks = 3;
  FetchStats stats;
  std::string got = Fetch(opts, &stats, 777);
  ASSERT_EQ(got.size(), csv.size());
  EXPECT_TRUE(got == csv);
  EXPECT_EQ(stats.bytes_downloaded, static_cast<int64_t>(gz.size()));
  EXPECT_EQ(stats.bytes_decompressed, static_cast<int64_t>(csv.size()));
}

TEST(HttpSource, InflatesAMultiMemberGzipTrickledOneByteAtATime) {
  LoopbackHttpServer server;
  std::vector<std::string> parts = {"id,name\n1,a\n", "2,b\n", "", "3,c\n"};
  std::string gz = GzipMembers(parts);
  server.Route("/multi.gz", LoopbackHttpServer::Trickle(gz, 1, 1));
  std::string got = Fetch(Opts(server.Url("/multi.gz")), nullptr, 3);
  EXPECT_EQ(got, "id,name\n1,a\n2,b\n3,c\n");
}

TEST(HttpSource, CompressionNonePassesGzipThrough) {
  LoopbackHttpServer server;
  std::string gz = Gzip("a,b\n");
  server.Route("/raw.gz", LoopbackHttpServer::Serve(gz));
  FetchOptions opts = Opts(server.Url("/raw.gz"));
  opts.compression = "none";
  EXPECT_EQ(Fetch(opts), gz);
}

TEST(HttpSource, ShortAndEmptyBodiesAreNotGzip) {
  LoopbackHttpServer server;
  server.Route("/one", LoopbackHttpServer::Serve("\x1f"));
  server.Route("/empty", LoopbackHttpServer::Serve(""));
  EXPECT_EQ(Fetch(Opts(server.Url("/one"))), "\x1f");
  EXPECT_EQ(Fetch(Opts(server.Url("/empty"))), "");
}

TEST(HttpSource, ReadsABodyWithoutContentLength) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(300000, 4);
  server.Route("/close-delimited", LoopbackHttpServer::Serve(Gzip(csv), 5000, false));
  FetchStats stats;
  EXPECT_TRUE(Fetch(Opts(server.Url("/close-delimited")), &stats) == csv);
  EXPECT_EQ(stats.content_length, -1);
}

TEST(HttpSource, SurvivesATrickleAboveTheSpeedLimit) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(2000, 5);
  server.Route("/slow", LoopbackHttpServer::Trickle(csv, 100, 20));
  FetchOptions opts = Opts(server.Url("/slow"));
  opts.low_speed_time_s = 1;
  EXPECT_EQ(Fetch(opts), csv);
}

// --- HttpSource: errors ----------------------------------------------------------------------

TEST(HttpSource, ReportsHttpErrorsWithTheStartOfTheBody) {
  LoopbackHttpServer server;
  FetchOptions opts = Opts(server.Url("/missing.csv"));
  Error e = FetchError(opts);
  EXPECT_EQ(e.sqlstate(), "08000");
  EXPECT_EQ(std::string(e.message()),
            "HTTP 404 (Not Found) fetching \"" + server.Url("/missing.csv") + "\"");
  EXPECT_EQ(e.detail(), "The response body begins: no such file");

  server.Route("/big-error", LoopbackHttpServer::Status(503, "Busy", std::string(5000, 'x')));
  e = FetchError(Opts(server.Url("/big-error")));
  EXPECT_EQ(std::string(e.message()),
            "HTTP 503 (Service Unavailable) fetching \"" + server.Url("/big-error") + "\"");
  EXPECT_EQ(e.detail(), "The response body begins: " + std::string(200, 'x'));

  server.Route("/odd", LoopbackHttpServer::Status(599, "Whatever", ""));
  e = FetchError(Opts(server.Url("/odd")));
  EXPECT_EQ(std::string(e.message()), "HTTP 599 fetching \"" + server.Url("/odd") + "\"");
  EXPECT_EQ(e.detail(), "");
}

TEST(HttpSource, NeverShowsCredentials) {
  LoopbackHttpServer server;
  std::string url = "http://alice:s3cret@127.0.0.1:" + std::to_string(server.Port()) +
                    "/private.csv?token=abc123&year=2021";
  std::string redacted = server.Url("/private.csv?token=***&year=2021");
  HttpSource source(Opts(url));
  EXPECT_EQ(source.Stats().effective_url, redacted);
  source.Start();
  Error e = CatchError([&] { ReadAll(source); });
  EXPECT_EQ(std::string(e.message()), "HTTP 404 (Not Found) fetching \"" + redacted + "\"");
  EXPECT_EQ(source.Stats().effective_url, redacted);
  for (const std::string& text : {std::string(e.message()), e.detail(), e.context()}) {
    EXPECT_EQ(text.find("s3cret"), std::string::npos);
    EXPECT_EQ(text.find("abc123"), std::string::npos);
  }
}

TEST(HttpSource, ReportsAStall) {
  LoopbackHttpServer server;
  server.Route("/stall", LoopbackHttpServer::StallAfter(GenerateCsv(100000), 1000));
  FetchOptions opts = Opts(server.Url("/stall"));
  opts.low_speed_time_s = 1;
  auto start = Clock::now();
  Error e = FetchError(opts);
  EXPECT_LT(MsSince(start), 4000);
  EXPECT_EQ(e.sqlstate(), "08006");
  EXPECT_EQ(std::string(e.message()),
            "transfer stalled: less than 1 bytes/s for 1 s fetching \"" + server.Url("/stall") +
                "\"");
}

TEST(HttpSource, ReportsTheWholeTransferTimeout) {
  LoopbackHttpServer server;
  server.Route("/stall", LoopbackHttpServer::StallAfter(GenerateCsv(100000), 10));
  FetchOptions opts = Opts(server.Url("/stall"));
  opts.timeout_ms = 300;
  Error e = FetchError(opts);
  EXPECT_EQ(e.sqlstate(), "08006");
  EXPECT_EQ(std::string(e.message()),
            "transfer timed out after 300 ms fetching \"" + server.Url("/stall") + "\"");
}

TEST(HttpSource, ReportsAConnectionResetMidBody) {
  LoopbackHttpServer server;
  server.Route("/reset", LoopbackHttpServer::ResetAfter(GenerateCsv(100000), 1000));
  Error e = FetchError(Opts(server.Url("/reset")));
  EXPECT_EQ(e.sqlstate(), "08006");
  std::string size = std::to_string(GenerateCsv(100000).size());
  EXPECT_EQ(std::string(e.message()), "connection closed after 1000 of " + size +
                                          " bytes fetching \"" + server.Url("/reset") + "\"");
}

TEST(HttpSource, ReportsALyingContentLength) {
  LoopbackHttpServer server;
  server.Route("/short", LoopbackHttpServer::LyingLength(std::string(3000, 'y'), 5000));
  Error e = FetchError(Opts(server.Url("/short")));
  EXPECT_EQ(e.sqlstate(), "08006");
  EXPECT_EQ(std::string(e.message()),
            "connection closed after 3000 of 5000 bytes fetching \"" + server.Url("/short") + "\"");
}

TEST(HttpSource, ReportsARefusedConnection) {
  int port = 0;
  {
    LoopbackHttpServer gone;  // take a free port, then close it
    port = gone.Port();
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/x.csv";
  Error e = FetchError(Opts(url));
  EXPECT_EQ(e.sqlstate(), "08006");
  EXPECT_EQ(std::string(e.message()).rfind("could not fetch \"" + url + "\": ", 0), 0u)
      << e.message();
}

TEST(HttpSource, ReportsAnEmptyReply) {
  LoopbackHttpServer server;
  server.Route("/nothing", LoopbackHttpServer::EmptyReply());
  Error e = FetchError(Opts(server.Url("/nothing")));
  EXPECT_EQ(e.sqlstate(), "08006");
  EXPECT_EQ(std::string(e.message()),
            "could not fetch \"" + server.Url("/nothing") + "\": Empty reply from server");
}

TEST(HttpSource, EnforcesMaxBytes) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(100000);
  server.Route("/known", LoopbackHttpServer::Serve(csv));
  server.Route("/unknown", LoopbackHttpServer::Serve(csv, 0, false));
  for (const char* path : {"/known", "/unknown"}) {
    FetchOptions opts = Opts(server.Url(path));
    opts.max_bytes = 1000;
    Error e = FetchError(opts);
    EXPECT_EQ(e.sqlstate(), "54000");
    EXPECT_EQ(std::string(e.message()),
              "download exceeds max_bytes (1000 bytes) fetching \"" + server.Url(path) + "\"");
  }
  FetchOptions opts = Opts(server.Url("/known"));
  opts.max_bytes = static_cast<int64_t>(csv.size());
  EXPECT_TRUE(Fetch(opts) == csv);
}

TEST(HttpSource, ReportsATruncatedGzipWithTheUrlInContext) {
  LoopbackHttpServer server;
  std::string gz = Gzip(GenerateCsv(200000));
  std::string cut = gz.substr(0, gz.size() - 100);
  server.Route("/cut.csv.gz", LoopbackHttpServer::Serve(cut));
  Error e = FetchError(Opts(server.Url("/cut.csv.gz")));
  EXPECT_EQ(e.sqlstate(), "22P04");
  EXPECT_EQ(std::string(e.message()), "gzip stream is truncated: the data ended after " +
                                          std::to_string(cut.size()) + " compressed bytes");
  EXPECT_EQ(e.context(), "fetching \"" + server.Url("/cut.csv.gz") + "\"");
}

TEST(HttpSource, ReportsACorruptGzipWithTheUrlInContext) {
  LoopbackHttpServer server;
  std::string gz = Gzip("x\n");
  gz[2] = 7;
  server.Route("/bad.csv.gz", LoopbackHttpServer::Serve(gz));
  Error e = FetchError(Opts(server.Url("/bad.csv.gz")));
  EXPECT_EQ(e.sqlstate(), "22P04");
  EXPECT_EQ(std::string(e.message()),
            "invalid gzip data at compressed byte 4: unknown compression method");
  EXPECT_EQ(e.context(), "fetching \"" + server.Url("/bad.csv.gz") + "\"");

  server.Route("/plain.csv", LoopbackHttpServer::Serve("id,name\n"));
  FetchOptions opts = Opts(server.Url("/plain.csv"));
  opts.compression = "gzip";
  e = FetchError(opts);
  EXPECT_EQ(std::string(e.message()), "invalid gzip data at compressed byte 2: incorrect header check");
}

// --- HttpSource: redirects -------------------------------------------------------------------

TEST(HttpSource, FollowsARedirectChain) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(50000, 8);
  server.Route("/r1", LoopbackHttpServer::Redirect(302, "/r2"));           // relative
  server.Route("/r2", LoopbackHttpServer::Redirect(301, server.Url("/r3")));  // absolute
  server.Route("/r3", LoopbackHttpServer::Redirect(307, "data.csv.gz"));   // path-relative
  server.Route("/data.csv.gz", LoopbackHttpServer::Serve(Gzip(csv)));
  FetchStats stats;
  EXPECT_TRUE(Fetch(Opts(server.Url("/r1")), &stats) == csv);
  EXPECT_EQ(stats.redirects, 3);
  EXPECT_EQ(stats.effective_url, server.Url("/data.csv.gz"));
  EXPECT_EQ(stats.http_status, 200);
}

TEST(HttpSource, StopsARedirectLoop) {
  LoopbackHttpServer server;
  server.Route("/loop", LoopbackHttpServer::Redirect(302, "/loop"));
  Error e = FetchError(Opts(server.Url("/loop")));
  EXPECT_EQ(e.sqlstate(), "08000");
  EXPECT_EQ(std::string(e.message()),
            "too many redirects (more than 5) fetching \"" + server.Url("/loop") + "\"");
  EXPECT_EQ(server.Requests("/loop"), 6);

  FetchOptions opts = Opts(server.Url("/loop"));
  opts.max_redirects = 0;
  e = FetchError(opts);
  EXPECT_EQ(std::string(e.message()),
            "too many redirects (more than 0) fetching \"" + server.Url("/loop") + "\"");
}

TEST(HttpSource, RefusesARedirectToFile) {
  LoopbackHttpServer server;
  server.Route("/evil", LoopbackHttpServer::Redirect(302, "file:///etc/passwd"));
  Error e = FetchError(Opts(server.Url("/evil")));
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()),
            "redirect to \"file:///etc/passwd\" refused: only http and https URLs may be fetched");
}

TEST(HttpSource, RefusesARedirectOutsideTheAllowedPrefixes) {
  LoopbackHttpServer server;
  server.Route("/ok/go", LoopbackHttpServer::Redirect(
                             302, "http://bob:pw@127.0.0.1:" + std::to_string(server.Port()) +
                                      "/secret?sig=xyz"));
  server.Route("/secret", LoopbackHttpServer::Serve("secret"));
  FetchOptions opts = Opts(server.Url("/ok/go"));
  opts.allowed_prefixes = {server.Url("/ok/")};
  Error e = FetchError(opts);
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()), "redirect to \"" + server.Url("/secret?sig=***") +
                                          "\" refused: it matches none of the allowed URL prefixes");
  EXPECT_EQ(server.Requests("/secret"), 0);
}

TEST(HttpSource, NamesTheOriginalUrlAfterARedirect) {
  LoopbackHttpServer server;
  server.Route("/old", LoopbackHttpServer::Redirect(301, "/gone"));
  Error e = FetchError(Opts(server.Url("/old")));
  EXPECT_EQ(std::string(e.message()),
            "HTTP 404 (Not Found) fetching \"" + server.Url("/gone") + "\"");
  EXPECT_EQ(e.context(), "after 1 redirect from \"" + server.Url("/old") + "\"");
}

// --- HttpSource: readiness, cancel, backpressure ---------------------------------------------

TEST(HttpSource, ReadyFdTracksData) {
  LoopbackHttpServer server;
  server.Route("/wait", LoopbackHttpServer::StallAfter(GenerateCsv(10000), 0));
  server.Route("/data", LoopbackHttpServer::Serve("a,b\n"));
  {
    HttpSource source(Opts(server.Url("/wait")));
    source.Start();
    EXPECT_FALSE(Readable(source.ReadyFd(), 300));  // headers only: nothing to read
    char buf[16];
    EXPECT_EQ(source.Read(buf, sizeof buf), HttpSource::kWouldBlock);
    source.Cancel();
    EXPECT_TRUE(Readable(source.ReadyFd(), 0));  // the cancel is something to report
  }
  HttpSource source(Opts(server.Url("/data")));
  source.Start();
  EXPECT_TRUE(Readable(source.ReadyFd(), 5000));
  char buf[16];
  EXPECT_EQ(source.Read(buf, sizeof buf), 4);
}

TEST(HttpSource, CancelsAStalledTransferWithinASecond) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(100000);
  server.Route("/stall", LoopbackHttpServer::StallAfter(csv, 100));
  auto source = std::make_unique<HttpSource>(Opts(server.Url("/stall")));
  source->Start();
  std::string got;
  char buf[4096];
  while (got.size() < 100) {
    int n = source->Read(buf, sizeof buf);
    if (n == HttpSource::kWouldBlock) {
      ASSERT_TRUE(Readable(source->ReadyFd(), 5000));
      continue;
    }
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, csv.substr(0, 100));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the producer is in poll
  auto start = Clock::now();
  source->Cancel();
  Error e = CatchError([&] { source->Read(buf, sizeof buf); });
  source.reset();  // joins the producer
  EXPECT_LT(MsSince(start), 1000);
  EXPECT_EQ(e.sqlstate(), "57014");
  EXPECT_EQ(std::string(e.message()), "transfer cancelled fetching \"" + server.Url("/stall") + "\"");
}

TEST(HttpSource, DestroyingMidTransferReturnsPromptly) {
  LoopbackHttpServer server;
  server.Route("/big", LoopbackHttpServer::Serve(GenerateCsv(20 * 1024 * 1024)));
  auto start = Clock::now();
  {
    HttpSource source(Opts(server.Url("/big")));
    source.Start();
    ASSERT_TRUE(Readable(source.ReadyFd(), 5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // producer blocked: queue full
  }
  EXPECT_LT(MsSince(start), 1500);
  {
    HttpSource never_started(Opts(server.Url("/big")));
  }
}

TEST(HttpSource, StopsDownloadingWhenTheConsumerStopsReading) {
  LoopbackHttpServer server;
  std::string csv = GenerateCsv(64 * 1024 * 1024, 21);
  server.Route("/huge.csv", LoopbackHttpServer::Serve(csv));
  FetchOptions opts = Opts(server.Url("/huge.csv"));
  opts.chunk_bytes = 64 * 1024;
  opts.max_chunks = 4;
  HttpSource source(opts);
  source.Start();
  std::string got(1000, '\0');
  int first = HttpSource::kWouldBlock;
  while (first == HttpSource::kWouldBlock) {
    ASSERT_TRUE(Readable(source.ReadyFd(), 5000));
    first = source.Read(got.data(), 1000);
  }
  got.resize(static_cast<size_t>(first));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int64_t downloaded = source.Stats().bytes_downloaded;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(source.Stats().bytes_downloaded, downloaded);  // the producer is parked
  // Queue (4 x 64 KiB) + curl's buffer + socket buffers: far below the 64 MiB body.
  EXPECT_LT(downloaded, 16 * 1024 * 1024);
  EXPECT_LT(server.BodyBytesSent(), static_cast<int64_t>(csv.size()) / 2);
  got += ReadAll(source);
  EXPECT_TRUE(got == csv);
}

// Reads the SigBlk mask of this process's thread named name from /proc; "" if none.
std::string BlockedSignalsOfThread(const std::string& name) {
  std::string task_dir = "/proc/self/task";
  for (const auto& entry : std::filesystem::directory_iterator(task_dir)) {
    std::ifstream comm(entry.path() / "comm");
    std::string comm_name;
    std::getline(comm, comm_name);
    if (comm_name != name) continue;
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigBlk:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 7));
    }
  }
  return "";
}

TEST(HttpSource, TheProducerThreadBlocksEverySignalAndTheCallersMaskIsKept) {
  LoopbackHttpServer server;
  server.Route("/stall", LoopbackHttpServer::StallAfter("a,b\n", 0));
  sigset_t before, after;
  pthread_sigmask(SIG_SETMASK, nullptr, &before);
  HttpSource source(Opts(server.Url("/stall")));
  source.Start();
  pthread_sigmask(SIG_SETMASK, nullptr, &after);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD}) {
    EXPECT_EQ(sigismember(&before, sig), sigismember(&after, sig)) << "signal " << sig;
  }
  std::string mask = BlockedSignalsOfThread("pgpipe fetch");
  ASSERT_FALSE(mask.empty());
  uint64_t bits = std::stoull(mask, nullptr, 16);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD}) {
    EXPECT_TRUE(bits & (uint64_t{1} << (sig - 1))) << "signal " << sig << " mask " << mask;
  }
}

// --- throughput (run by hand: --gtest_also_run_disabled_tests) -----------------------------

TEST(HttpSourceBench, DISABLED_ThroughputOfAHundredMegabyteGzippedCsv) {
  std::string csv = GenerateCsv(100 * 1000 * 1000, 99);
  std::string gz = Gzip(csv);
  {
    // The floor: inflating from memory on one thread, no HTTP, no queue.
    auto start = Clock::now();
    GzipInflater inflater;
    int64_t total = 0;
    inflater.Feed(gz.data(), gz.size(), [&](const char*, size_t n) { total += n; });
    inflater.Finish();
    double seconds = static_cast<double>(MsSince(start)) / 1000.0;
    std::printf("in-memory inflate only: %.2f s = %.0f MB/s decompressed\n", seconds,
                static_cast<double>(total) / 1e6 / seconds);
  }
  LoopbackHttpServer server;
  server.Route("/month.csv.gz", LoopbackHttpServer::Serve(gz));
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    HttpSource source(Opts(server.Url("/month.csv.gz")));
    source.Start();
    std::string buf(65536, '\0');
    int64_t total = 0;
    uint64_t checksum = 0;
    while (true) {
      int n = source.Read(buf.data(), 65536);
      if (n == 0) break;
      if (n == HttpSource::kWouldBlock) {
        Readable(source.ReadyFd(), 1000);
        continue;
      }
      total += n;
      checksum += static_cast<unsigned char>(buf[static_cast<size_t>(n) - 1]);
    }
    double seconds = static_cast<double>(MsSince(start)) / 1000.0;
    ASSERT_EQ(total, static_cast<int64_t>(csv.size()));
    std::printf("round %d: %.1f MB csv (%.1f MB gz) in %.2f s = %.0f MB/s decompressed\n", round,
                static_cast<double>(csv.size()) / 1e6, static_cast<double>(gz.size()) / 1e6,
                seconds, static_cast<double>(csv.size()) / 1e6 / seconds);
  }
}

}  // namespace
}  // namespace pgpipe::core

namespace pgpipe::core {
namespace {

// --- HttpSource: decompressed size, empty answers, header limits -----------------------------

TEST(HttpSourceLimits, StopsAGzipBombAtMaxDecompressedBytesNamingBothSizes) {
  LoopbackHttpServer server;
  std::string gz = Gzip(std::string(50 * 1024 * 1024, 'a'), 9);  // 50 MiB in about 50 KB
  server.Route("/bomb.csv.gz", LoopbackHttpServer::Serve(gz));
  FetchOptions opts = Opts(server.Url("/bomb.csv.gz"));
  opts.max_decompressed_bytes = 1024 * 1024;
  HttpSource source(opts);
  source.Start();
  Error e = CatchError([&] { ReadAll(source); });
  EXPECT_EQ(e.sqlstate(), "54000");
  const std::string message = e.message();
  EXPECT_EQ(message.rfind("download inflates to more than 1048576 bytes (max_decompressed_bytes) "
                          "from ", 0), 0u) << message;
  EXPECT_NE(message.find(" compressed bytes fetching \"" + server.Url("/bomb.csv.gz") + "\""),
            std::string::npos) << message;
  EXPECT_EQ(e.hint(), "Raise max_decompressed_bytes if the file is expected to be this large.");
  EXPECT_EQ(e.context(), "");  // the message names the URL already
  EXPECT_LE(source.Stats().bytes_decompressed, opts.max_decompressed_bytes);
  EXPECT_EQ(ClassifyForRetry(e), RetryClass::kPermanent);
}

TEST(HttpSourceLimits, StopsAnEndlessGzipStream) {
  LoopbackHttpServer server;
  server.Route("/endless.gz", LoopbackHttpServer::EndlessGzip());
  FetchOptions opts = Opts(server.Url("/endless.gz"));
  opts.max_decompressed_bytes = 64 * 1024 * 1024;
  auto start = Clock::now();
  Error e = FetchError(opts);
  EXPECT_LT(MsSince(start), 10000);
  EXPECT_EQ(std::string(e.message()).rfind("download inflates to more than 67108864 bytes", 0), 0u)
      << e.message();
}

TEST(HttpSourceLimits, AppliesMaxDecompressedBytesToPlainBodiesToo) {
  LoopbackHttpServer server;
  server.Route("/plain.csv", LoopbackHttpServer::Serve(GenerateCsv(100000)));
  FetchOptions opts = Opts(server.Url("/plain.csv"));
  opts.max_decompressed_bytes = 1000;
  Error e = FetchError(opts);
  EXPECT_EQ(std::string(e.message()), "download exceeds max_decompressed_bytes (1000 bytes) fetching \"" +
                                          server.Url("/plain.csv") + "\"");
}

TEST(HttpSourceLimits, ATwoHundredWithoutAFileSaysSo) {
  LoopbackHttpServer server;
  server.Route("/204", LoopbackHttpServer::Status(204, "No Content", ""));
  server.Route("/202", LoopbackHttpServer::StatusWithHeaders(202, "Accepted", "", "Retry-After: 30\r\n"));
  server.Route("/empty", LoopbackHttpServer::Serve(""));
  Error e = FetchError(Opts(server.Url("/204")));
  EXPECT_EQ(e.sqlstate(), "08000");
  EXPECT_EQ(std::string(e.message()),
            "\"" + server.Url("/204") + "\" answered HTTP 204 (No Content): there is no file to load");
  EXPECT_EQ(ClassifyForRetry(e), RetryClass::kPermanent);
  e = FetchError(Opts(server.Url("/202")));
  EXPECT_EQ(std::string(e.message()),
            "\"" + server.Url("/202") + "\" answered HTTP 202 (Accepted): there is no file to load");
  EXPECT_EQ(ClassifyForRetry(e), RetryClass::kTransient);
  EXPECT_EQ(e.retry_after_s(), 30);
  EXPECT_EQ(Fetch(Opts(server.Url("/empty"))), "");  // a 200 with no bytes is an empty file
}

TEST(HttpSourceLimits, NamesOversizedResponseHeaders) {
  LoopbackHttpServer server;
  server.Route("/long-line", LoopbackHttpServer::StatusWithHeaders(
                                 200, "OK", "a\n", "X-Big: " + std::string(20000, 'x') + "\r\n"));
  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-Many-" + std::to_string(i) + ": " + std::string(1000, 'y') + "\r\n";
  server.Route("/many", LoopbackHttpServer::StatusWithHeaders(200, "OK", "a\n", many));
  server.Route("/giant", LoopbackHttpServer::StatusWithHeaders(
                             200, "OK", "a\n", "X-Giant: " + std::string(200000, 'z') + "\r\n"));
  Error e = FetchError(Opts(server.Url("/long-line")));
  EXPECT_EQ(e.sqlstate(), "54000");
  EXPECT_EQ(std::string(e.message()), "response headers too large fetching \"" +
                                          server.Url("/long-line") +
                                          "\": a header line of 20009 bytes (the limit is 16384)");
  e = FetchError(Opts(server.Url("/many")));
  EXPECT_EQ(std::string(e.message()), "response headers too large fetching \"" + server.Url("/many") +
                                          "\": more than 65536 bytes of headers");
  e = FetchError(Opts(server.Url("/giant")));
  EXPECT_EQ(std::string(e.message()).rfind("response headers too large fetching \"" +
                                               server.Url("/giant") +
                                               "\": a header line longer than libcurl accepts (", 0),
            0u)
      << e.message();
  EXPECT_EQ(ClassifyForRetry(e), RetryClass::kPermanent);
}

// --- HttpSource: what is worth retrying -------------------------------------------------------

// An HTTP date `seconds` from now, as servers write Retry-After.
std::string HttpDateIn(int seconds) {
  std::time_t when = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

TEST(HttpSourceRetry, ClassifiesStatusesAndHonoursRetryAfter) {
  LoopbackHttpServer server;
  server.Route("/busy", LoopbackHttpServer::StatusWithHeaders(503, "Service Unavailable", "later",
                                                              "Retry-After: 2\r\n"));
  server.Route("/slow-down", LoopbackHttpServer::StatusWithHeaders(
                                 429, "Too Many Requests", "", "Retry-After: " + HttpDateIn(6) + "\r\n"));
  server.Route("/forbidden", LoopbackHttpServer::Status(403, "Forbidden", "no"));
  server.Route("/timeout", LoopbackHttpServer::Status(408, "Request Timeout", ""));
  server.Route("/forever", LoopbackHttpServer::StatusWithHeaders(503, "Busy", "", "Retry-After: 999999\r\n"));

  Error e = FetchError(Opts(server.Url("/missing.csv")));  // 404
  EXPECT_EQ(ClassifyForRetry(e), RetryClass::kPermanent);
  EXPECT_EQ(e.retry_after_s(), 0);
  e = FetchError(Opts(server.Url("/busy")));
  EXPECT_EQ(ClassifyForRetry(e), RetryClass::kTransient);
  EXPECT_EQ(e.retry_after_s(), 2);
  e = FetchError(Opts(server.Url("/slow-down")));
  EXPECT_EQ(ClassifyForRetry(e), RetryClass::kTransient);
  EXPECT_GE(e.retry_after_s(), 4);  // the date has one-second precision
  EXPECT_LE(e.retry_after_s(), 6);
  EXPECT_EQ(ClassifyForRetry(FetchError(Opts(server.Url("/forbidden")))), RetryClass::kPermanent);
  EXPECT_EQ(ClassifyForRetry(FetchError(Opts(server.Url("/timeout")))), RetryClass::kTransient);
  EXPECT_EQ(FetchError(Opts(server.Url("/forever"))).retry_after_s(), kMaxRetryAfterS);
}

TEST(HttpSourceRetry, ConnectionFailuresAreTransientRefusalsAndLimitsPermanent) {
  LoopbackHttpServer server;
  server.Route("/reset", LoopbackHttpServer::ResetAfter(GenerateCsv(100000), 1000));
  server.Route("/stall", LoopbackHttpServer::StallAfter(GenerateCsv(100000), 10));
  server.Route("/evil", LoopbackHttpServer::Redirect(302, "file:///etc/passwd"));
  server.Route("/loop", LoopbackHttpServer::Redirect(302, "/loop"));
  server.Route("/big", LoopbackHttpServer::Serve(GenerateCsv(100000)));
  EXPECT_EQ(ClassifyForRetry(FetchError(Opts(server.Url("/reset")))), RetryClass::kTransient);
  FetchOptions stall = Opts(server.Url("/stall"));
  stall.timeout_ms = 300;
  EXPECT_EQ(ClassifyForRetry(FetchError(stall)), RetryClass::kTransient);
  EXPECT_EQ(ClassifyForRetry(FetchError(Opts(server.Url("/evil")))), RetryClass::kPermanent);
  EXPECT_EQ(ClassifyForRetry(FetchError(Opts(server.Url("/loop")))), RetryClass::kPermanent);
  FetchOptions big = Opts(server.Url("/big"));
  big.max_bytes = 10;
  EXPECT_EQ(ClassifyForRetry(FetchError(big)), RetryClass::kPermanent);
  int port = 0;
  {
    LoopbackHttpServer gone;
    port = gone.Port();
  }
  EXPECT_EQ(ClassifyForRetry(FetchError(Opts("http://127.0.0.1:" + std::to_string(port) + "/x"))),
            RetryClass::kTransient);
}

TEST(HttpSourceRetry, TheSourceRemembersItsFailure) {
  LoopbackHttpServer server;
  server.Route("/busy", LoopbackHttpServer::StatusWithHeaders(503, "Busy", "", "Retry-After: 7\r\n"));
  server.Route("/stall", LoopbackHttpServer::StallAfter(GenerateCsv(1000), 0));
  {
    HttpSource source(Opts(server.Url("/busy")));
    EXPECT_FALSE(source.Failure().has_value());
    source.Start();
    Error thrown = CatchError([&] { ReadAll(source); });
    std::optional<Error> kept = source.Failure();
    ASSERT_TRUE(kept.has_value());
    EXPECT_EQ(std::string(kept->message()), std::string(thrown.message()));
    EXPECT_EQ(kept->sqlstate(), "08000");
    EXPECT_EQ(kept->retry_class(), RetryClass::kTransient);
    EXPECT_EQ(kept->retry_after_s(), 7);
  }
  HttpSource source(Opts(server.Url("/stall")));
  source.Start();
  source.Cancel();
  char buf[8];
  CatchError([&] { source.Read(buf, sizeof buf); });
  ASSERT_TRUE(source.Failure().has_value());
  EXPECT_EQ(source.Failure()->sqlstate(), "57014");
  EXPECT_EQ(source.Failure()->retry_class(), RetryClass::kPermanent);
}

}  // namespace
}  // namespace pgpipe::core
