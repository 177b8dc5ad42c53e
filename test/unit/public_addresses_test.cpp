// public_addresses_only (audit L3, SSRF): HttpSource and the webhook refuse to connect to a
// non-public address, whatever the URL calls it, on every hop and on a reused connection, and
// without a proxy; every refusal is checked to have opened no connection, and every spelling is
// shown to reach the loopback server when the option is off, so each refusal is the check's.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>

#include "catch_error.hpp"
#include "core/address_class.hpp"
#include "core/error.hpp"
#include "core/http_source.hpp"
#include "core/retry_class.hpp"
#include "core/webhook.hpp"
#include "loopback_http_server.hpp"

namespace pgpipe::core {
namespace {

using test::Connection;
using test::LoopbackHttpServer;

const std::string kBody = "id,name\n1,alpha\n";

// Options for url, with or without the check, and limits that keep the suite fast.
FetchOptions Opts(const std::string& url, bool public_only) {
  FetchOptions opts;
  opts.url = url;
  opts.connect_timeout_ms = 2000;
  opts.low_speed_time_s = 5;
  opts.timeout_ms = 10000;
  opts.public_addresses_only = public_only;
  return opts;
}

// Reads the source to its end, waiting on ReadyFd with a deadline.
std::string Fetch(FetchOptions opts) {
  HttpSource source(std::move(opts));
  source.Start();
  std::string out;
  char buf[4096];
  while (true) {
    int n = source.Read(buf, sizeof buf);
    if (n == 0) return out;
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    pollfd pfd{source.ReadyFd(), POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) {
      ADD_FAILURE() << "ReadyFd never became readable";
      return out;
    }
  }
}

// The Error a fetch ends with, checked to match what the source remembers as its failure.
Error FetchError(FetchOptions opts) {
  std::optional<Error> failure;
  Error e = CatchError([&] {
    HttpSource source(std::move(opts));
    try {
      source.Start();
      char buf[4096];
      while (true) {
        int n = source.Read(buf, sizeof buf);
        if (n == 0) return;
        if (n > 0) continue;
        pollfd pfd{source.ReadyFd(), POLLIN, 0};
        if (poll(&pfd, 1, 10000) != 1) return;
      }
    } catch (const Error&) {
      failure = source.Failure();
      throw;
    }
  });
  EXPECT_TRUE(failure.has_value());
  if (failure) {
    EXPECT_EQ(std::string(failure->message()), std::string(e.message()));
  }
  return e;
}

// A classifier that takes the loopback server's own address, 127.0.0.1 over IPv4, for a public
// one (the tests have no other server), and classifies everything else for real.
AddressInfo LoopbackStandsInForPublic(const sockaddr* addr, size_t length) {
  AddressInfo info = ClassifySockaddr(addr, length);
  if (addr->sa_family == AF_INET && info.text == "127.0.0.1") info.kind = AddressClass::kPublic;
  return info;
}

// A classifier that takes every IP address for public: the control for the tests above.
AddressInfo EverythingPublic(const sockaddr* addr, size_t length) {
  AddressInfo info = ClassifySockaddr(addr, length);
  if (!info.text.empty()) info.kind = AddressClass::kPublic;
  return info;
}

const char* const kHint =
    "A superuser can allow this URL by listing a prefix of it in pipeline.allowed_url_prefixes.";

TEST(PublicAddressesOnly, RefusesTheLoopbackServerNamingTheAddress) {
  LoopbackHttpServer server;
  server.Route("/data.csv", LoopbackHttpServer::Serve(kBody));
  const std::string url = server.Url("/data.csv?token=s3cret");
  Error e = FetchError(Opts(url, true));
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()),
            "refused to connect to 127.0.0.1 for \"" + server.Url("/data.csv?token=***") +
                "\": a non-public address (loopback)");
  EXPECT_EQ(e.detail(),
            "127.0.0.1 is in 127.0.0.0/8. Only public addresses may be fetched unless "
            "pipeline.allowed_url_prefixes allows the URL.");
  EXPECT_EQ(e.hint(), kHint);
  EXPECT_EQ(e.context(), "");
  EXPECT_EQ(e.retry_class(), RetryClass::kPermanent);
  EXPECT_FALSE(WorthRetrying(ClassifyForRetry(e)));

  // The same URL without the check: fetched, on the first connection the server ever accepted
  // (accepts are in order, so the refused fetch opened none).
  EXPECT_EQ(Fetch(Opts(url, false)), kBody);
  EXPECT_EQ(server.Connections(), 1);
  EXPECT_EQ(server.Requests("/data.csv"), 1);
}

TEST(PublicAddressesOnly, EverySpellingOfLoopbackIsResolvedThenRefused) {
  LoopbackHttpServer server;
  server.Route("/data.csv", LoopbackHttpServer::Serve(kBody));
  const std::string port = std::to_string(server.Port());
  struct Case {
    std::string host;      // as the URL writes it
    std::string url_host;  // as libcurl's normal form (and so the message) writes it
    std::string address;   // the address refused
    const char* kind;
    bool reaches_server;   // the server (127.0.0.1 over IPv4) answers it when unchecked
  };
  const Case cases[] = {
      {"2130706433", "127.0.0.1", "127.0.0.1", "loopback", true},   // decimal
      {"0x7f000001", "127.0.0.1", "127.0.0.1", "loopback", true},   // hexadecimal
      {"0177.0.0.1", "127.0.0.1", "127.0.0.1", "loopback", true},   // octal
      {"0x7f.1", "127.0.0.1", "127.0.0.1", "loopback", true},       // mixed, short
      {"127.1", "127.0.0.1", "127.0.0.1", "loopback", true},
      {"[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "loopback", true},
      {"[::ffff:7f00:1]", "[::ffff:7f00:1]", "::ffff:127.0.0.1", "loopback", true},
      {"0.0.0.0", "0.0.0.0", "0.0.0.0", "unspecified", true},  // Linux: this host
      {"127.0.0.2", "127.0.0.2", "127.0.0.2", "loopback", false},
      {"[::1]", "[::1]", "::1", "loopback", false},
      {"[::]", "[::]", "::", "unspecified", false},
      {"[::127.0.0.1]", "[::127.0.0.1]", "::127.0.0.1", "loopback", false},
      {"[64:ff9b::7f00:1]", "[64:ff9b::7f00:1]", "64:ff9b::7f00:1", "loopback", false},
  };
  for (const Case& c : cases) {
    const std::string url = "http://" + c.host + ":" + port + "/data.csv";
    Error e = FetchError(Opts(url, true));
    EXPECT_EQ(e.sqlstate(), "42501") << url;
    EXPECT_EQ(std::string(e.message()), "refused to connect to " + c.address + " for \"http://" +
                                            c.url_host + ":" + port +
                                            "/data.csv\": a non-public address (" + c.kind + ")")
        << url;
  }
  EXPECT_EQ(server.Requests("/data.csv"), 0);
  // Unchecked, the spellings that name the server reach it: the refusals above were the check,
  // not a failure to connect, and none of them opened a connection (accepts are in order).
  int reached = 0;
  for (const Case& c : cases) {
    if (!c.reaches_server) continue;
    EXPECT_EQ(Fetch(Opts("http://" + c.host + ":" + port + "/data.csv", false)), kBody) << c.host;
    ++reached;
  }
  EXPECT_EQ(server.Connections(), reached);
}

TEST(PublicAddressesOnly, ANameResolvingToLoopbackIsRefused) {
  LoopbackHttpServer server;
  server.Route("/data.csv", LoopbackHttpServer::Serve(kBody));
  const std::string url = "http://localhost:" + std::to_string(server.Port()) + "/data.csv";
  Error e = FetchError(Opts(url, true));
  EXPECT_EQ(e.sqlstate(), "42501");
  // localhost is 127.0.0.1 and ::1: the message names the first address libcurl tried.
  const std::string message = e.message();
  EXPECT_TRUE(message == "refused to connect to 127.0.0.1 for \"" + url +
                             "\": a non-public address (loopback)" ||
              message == "refused to connect to ::1 for \"" + url +
                             "\": a non-public address (loopback)")
      << message;
  EXPECT_EQ(Fetch(Opts(url, false)), kBody);
  EXPECT_EQ(server.Connections(), 1);
}

TEST(PublicAddressesOnly, ARedirectToLoopbackIsRefusedOnItsHop) {
  LoopbackHttpServer server;
  const std::string port = std::to_string(server.Port());
  // The same server under another name, which the stand-in does not take for public.
  const std::string target = "http://[::ffff:127.0.0.1]:" + port + "/data.csv";
  server.Route("/start", LoopbackHttpServer::Redirect(302, target));
  server.Route("/data.csv", LoopbackHttpServer::Serve(kBody));
  FetchOptions opts = Opts(server.Url("/start"), true);
  opts.classify_address = LoopbackStandsInForPublic;
  Error e = FetchError(opts);
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()), "refused to connect to ::ffff:127.0.0.1 for \"" + target +
                                          "\": a non-public address (loopback)");
  EXPECT_EQ(e.detail(),
            "::ffff:127.0.0.1 is the IPv4-mapped form of 127.0.0.1, which is in 127.0.0.0/8. "
            "Only public addresses may be fetched unless pipeline.allowed_url_prefixes allows "
            "the URL.");
  EXPECT_EQ(e.context(), "after 1 redirect from \"" + server.Url("/start") + "\"");
  EXPECT_EQ(e.retry_class(), RetryClass::kPermanent);
  EXPECT_EQ(server.Requests("/start"), 1);
  EXPECT_EQ(server.Requests("/data.csv"), 0);

  // The control: when the target counts as public too, the redirect is followed to the data.
  opts.classify_address = EverythingPublic;
  EXPECT_EQ(Fetch(opts), kBody);
  EXPECT_EQ(server.Requests("/data.csv"), 1);
  EXPECT_EQ(server.Connections(), 3);  // /start twice, /data.csv once: none for the refusal
}

TEST(PublicAddressesOnly, AReusedConnectionIsCheckedBeforeEachRequest) {
  // The server answers /start with a redirect to /data.csv on a connection it keeps open, so
  // the second hop goes out on the same connection (no new socket, nothing for the check at
  // connect time to see). Meanwhile the address stops counting as public (as if the server had
  // moved): the check before each request must refuse the second hop.
  LoopbackHttpServer server;
  std::atomic<bool> moved{false};
  std::atomic<int> second_requests{0};
  auto handler = [&](Connection& c) {
    moved.store(true);
    const std::string redirect =
        "HTTP/1.1 302 Found\r\nLocation: /data.csv\r\nContent-Length: 0\r\n\r\n";
    if (!c.Send(redirect.data(), redirect.size(), false) || !c.NextRequest()) return;
    second_requests.fetch_add(1);
    if (c.SendHead(200, "OK", static_cast<int64_t>(kBody.size()))) c.Send(kBody);
  };
  server.Route("/start", handler);
  FetchOptions opts = Opts(server.Url("/start"), true);
  opts.classify_address = [&](const sockaddr* addr, size_t length) {
    AddressInfo info = LoopbackStandsInForPublic(addr, length);
    if (moved.load()) info = ClassifySockaddr(addr, length);
    return info;
  };
  Error e = FetchError(opts);
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()), "refused to connect to 127.0.0.1 for \"" +
                                          server.Url("/data.csv") +
                                          "\": a non-public address (loopback)");
  EXPECT_EQ(e.context(), "after 1 redirect from \"" + server.Url("/start") + "\"");
  EXPECT_EQ(second_requests.load(), 0);
  EXPECT_EQ(server.Connections(), 1);

  // The control: while the address counts as public, the second hop does reuse the connection.
  moved.store(false);
  opts.classify_address = LoopbackStandsInForPublic;
  EXPECT_EQ(Fetch(opts), kBody);
  EXPECT_EQ(second_requests.load(), 1);
  EXPECT_EQ(server.Connections(), 2);
}

// Sets an environment variable for the life of the object, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(PublicAddressesOnly, ConnectsDirectlyNotThroughAProxy) {
  // Through a proxy, the only address checked would be the proxy's, and the proxy would reach
  // the target unchecked: with the check, the environment's proxy is not used.
  LoopbackHttpServer server;
  server.Route("/data.csv", LoopbackHttpServer::Serve(kBody));
  ScopedEnv proxy("http_proxy", "http://127.0.0.2:9");  // nothing listens there
  ScopedEnv all_proxy("ALL_PROXY", nullptr);
  ScopedEnv no_proxy("no_proxy", nullptr);
  ScopedEnv no_proxy_upper("NO_PROXY", nullptr);
  FetchOptions opts = Opts(server.Url("/data.csv"), true);
  opts.classify_address = LoopbackStandsInForPublic;
  EXPECT_EQ(Fetch(opts), kBody);
  // The control: without the check, libcurl does go through the proxy (and fails there).
  Error e = FetchError(Opts(server.Url("/data.csv"), false));
  EXPECT_EQ(e.sqlstate(), "08006") << e.message();
  EXPECT_EQ(server.Requests("/data.csv"), 1);
}

TEST(PublicAddressesOnly, TheWebhookIsRefusedToo) {
  LoopbackHttpServer server;
  server.Route("/hook", LoopbackHttpServer::Status(200, "OK", "thanks"));
  const std::string url = server.Url("/hook?sig=abc");
  Error e = CatchError([&] { PostJson(url, "{}", 2000, {}, true); });
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()),
            "refused to connect to 127.0.0.1 for webhook \"" + server.Url("/hook?sig=***") +
                "\": a non-public address (loopback)");
  EXPECT_EQ(e.hint(), kHint);
  EXPECT_EQ(e.retry_class(), RetryClass::kPermanent);
  EXPECT_NO_THROW(PostJson(url, "{}", 2000, {}, false));
  EXPECT_NO_THROW(PostJson(url, "{}", 2000));
  EXPECT_EQ(server.Requests("/hook"), 2);
  EXPECT_EQ(server.Connections(), 2);
}

}  // namespace
}  // namespace pgpipe::core
