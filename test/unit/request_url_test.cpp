// The check every outgoing request passes: libcurl's normal form, then the prefixes; and the
// webhook, which used to post to what libcurl made of a URL checked as a raw string (audit M3).
#include "core/request_url.hpp"

#include <gtest/gtest.h>

#include "catch_error.hpp"
#include "core/webhook.hpp"
#include "loopback_http_server.hpp"

namespace pgpipe::core {
namespace {

using test::LoopbackHttpServer;

TEST(RequestUrl, NormalisesCaseDefaultPortAndDotSegments) {
  EXPECT_EQ(CheckRequestUrl("HTTP://Data.Example.COM:80/a/./b/../c?Q=1", {}).url,
            "http://data.example.com/a/c?Q=1");
  EXPECT_EQ(CheckRequestUrl("https://x.org:443/files/../../etc", {}).url, "https://x.org/etc");
  EXPECT_EQ(CheckRequestUrl("http://x.org:8080/A", {}).url, "http://x.org:8080/A");
  EXPECT_EQ(CheckRequestUrl("http://2130706433/x", {}).url, "http://127.0.0.1/x");
}

TEST(RequestUrl, VerdictsBeforeAndAfterTheNormalForm) {
  const std::vector<std::string> prefixes = {"http://127.0.0.1:8001/allowed/"};
  EXPECT_EQ(CheckRequestUrl("", prefixes).verdict, UrlVerdict::kEmpty);
  EXPECT_EQ(CheckRequestUrl("gopher://127.0.0.1:8001/allowed/", prefixes).verdict,
            UrlVerdict::kUnsupportedScheme);
  EXPECT_EQ(CheckRequestUrl("http://exa mple/allowed/", prefixes).verdict, UrlVerdict::kInvalid);
  EXPECT_EQ(CheckRequestUrl("http://127.0.0.1:8001/allowed/../private/hook", prefixes).verdict,
            UrlVerdict::kNotAllowed);
  EXPECT_EQ(CheckRequestUrl("http://127.0.0.1:8001/allowed/%2e%2e/private/hook3", prefixes).verdict,
            UrlVerdict::kEncodedDot);
  EXPECT_EQ(CheckRequestUrl("HTTP://127.0.0.1:8001/allowed/x/../hook", prefixes).verdict,
            UrlVerdict::kOk);
  // Without prefixes, %2e is only a path.
  EXPECT_EQ(CheckRequestUrl("http://h/%2e%2e/x", {}).verdict, UrlVerdict::kOk);
}

TEST(RequestUrl, PrefixesAreComparedInTheSameFormWithoutWidening) {
  EXPECT_EQ(CheckRequestUrl("https://DATA.example/files/x.csv", {"HTTPS://Data.Example:443/files/"}).verdict,
            UrlVerdict::kOk);
  EXPECT_EQ(CheckRequestUrl("http://h/x", {"http://h:80/"}).verdict, UrlVerdict::kOk);
  // "http://h:80" ends inside the authority: dropping its port would admit any port of h.
  EXPECT_EQ(CheckRequestUrl("http://h:8080/x", {"http://h:80"}).verdict, UrlVerdict::kNotAllowed);
  EXPECT_EQ(CheckRequestUrl("http://h.evil.org/x", {"http://h"}).verdict, UrlVerdict::kNotAllowed);
}

TEST(RequestUrl, CheckedRequestUrlWordsEachRefusal) {
  const std::vector<std::string> prefixes = {"http://127.0.0.1:8001/allowed/"};
  Error e = CatchError([&] { CheckedRequestUrl("http://127.0.0.1:8001/allowed/../private", prefixes, "webhook URL"); });
  EXPECT_EQ(e.sqlstate(), "42501");
  EXPECT_EQ(std::string(e.message()), "webhook URL \"http://127.0.0.1:8001/allowed/../private\" is "
                                      "not allowed: it matches none of the allowed URL prefixes");
  e = CatchError([&] { CheckedRequestUrl("file:///etc/passwd", {}, "webhook URL"); });
  EXPECT_EQ(e.sqlstate(), "22023");
  EXPECT_EQ(std::string(e.message()), "unsupported URL scheme \"file\" in webhook URL \"file:///etc/passwd\"");
  e = CatchError([&] { CheckedRequestUrl("http://u:secret@127.0.0.1:8001/allowed/%2E%2e/x", prefixes); });
  EXPECT_EQ(std::string(e.message()),
            "URL \"http://127.0.0.1:8001/allowed/%2E%2e/x\" is not allowed: it has an encoded dot segment");
}

TEST(Webhook, PostsToTheNormalFormAndRefusesWhatLoadersRefuse) {
  LoopbackHttpServer server;
  server.Route("/allowed/hook", LoopbackHttpServer::Status(200, "OK", "thanks"));
  server.Route("/private/hook", LoopbackHttpServer::Status(200, "OK", "thanks"));
  const std::vector<std::string> prefixes = {server.Url("/allowed/")};
  for (const char* path : {"/allowed/../private/hook", "/allowed/%2e%2e/private/hook",
                                  "/allowed/%2E./private/hook"}) {
    Error e = CatchError([&] { PostJson(server.Url(path), "{}", 2000, prefixes); });
    EXPECT_EQ(e.sqlstate(), "42501") << path;
  }
  EXPECT_EQ(server.Requests("/private/hook"), 0);
  // Upper-case scheme and host, a dot segment inside the prefix: the normal form is allowed and
  // is what is posted to.
  std::string url = "HTTP://127.0.0.1:" + std::to_string(server.Port()) + "/allowed/x/../hook";
  EXPECT_NO_THROW(PostJson(url, "{\"run_id\":1}", 2000, prefixes));
  EXPECT_EQ(server.Requests("/allowed/hook"), 1);

  server.Route("/allowed/gone", LoopbackHttpServer::Status(410, "Gone", ""));
  Error e = CatchError([&] { PostJson(server.Url("/allowed/gone"), "{}", 2000, prefixes); });
  EXPECT_EQ(std::string(e.message()), "webhook \"" + server.Url("/allowed/gone") + "\" answered HTTP 410");
}

}  // namespace
}  // namespace pgpipe::core
