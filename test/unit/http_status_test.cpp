// HTTP statuses and libcurl results in retry classes, and Retry-After in its four spellings.
#include "core/http_status.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <ctime>

namespace pgpipe::core {
namespace {

// `seconds` from now in an strftime format, in GMT.
std::string DateIn(int seconds, const char* format) {
  std::time_t when = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

TEST(HttpStatus, RetryClassOfStatuses) {
  for (long status : {408L, 425L, 429L, 500L, 502L, 503L, 504L, 599L})
    EXPECT_EQ(StatusRetryClass(status), RetryClass::kTransient) << status;
  for (long status : {400L, 401L, 403L, 404L, 405L, 410L, 413L, 422L, 451L})
    EXPECT_EQ(StatusRetryClass(status), RetryClass::kPermanent) << status;
  EXPECT_EQ(CurlRetryClass(CURLE_COULDNT_CONNECT), RetryClass::kTransient);
  EXPECT_EQ(CurlRetryClass(CURLE_OPERATION_TIMEDOUT), RetryClass::kTransient);
  EXPECT_EQ(CurlRetryClass(CURLE_COULDNT_RESOLVE_HOST), RetryClass::kTransient);
  EXPECT_EQ(CurlRetryClass(CURLE_PEER_FAILED_VERIFICATION), RetryClass::kPermanent);
  EXPECT_EQ(CurlRetryClass(CURLE_UNSUPPORTED_PROTOCOL), RetryClass::kPermanent);
  EXPECT_STREQ(ReasonPhrase(204), "No Content");
  EXPECT_STREQ(ReasonPhrase(299), "");
}

TEST(HttpStatus, RetryAfterInSecondsOrAsAnyHttpDate) {
  EXPECT_EQ(RetryAfterSeconds("2"), 2);
  EXPECT_EQ(RetryAfterSeconds("0"), 0);
  EXPECT_EQ(RetryAfterSeconds("86400"), kMaxRetryAfterS);
  EXPECT_EQ(RetryAfterSeconds("99999999999999999999"), kMaxRetryAfterS);
  EXPECT_EQ(RetryAfterSeconds(""), 0);
  EXPECT_EQ(RetryAfterSeconds("soon"), 0);
  EXPECT_EQ(RetryAfterSeconds("-5"), 0);
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT",    // IMF-fixdate
                             "%A, %d-%b-%y %H:%M:%S GMT",    // RFC 850
                             "%a %b %e %H:%M:%S %Y"}) {      // asctime
    double s = RetryAfterSeconds(DateIn(100, format));
    EXPECT_GE(s, 98) << format;
    EXPECT_LE(s, 100) << format;
  }
  EXPECT_EQ(RetryAfterSeconds(DateIn(-100, "%a, %d %b %Y %H:%M:%S GMT")), 0);
}

}  // namespace
}  // namespace pgpipe::core
