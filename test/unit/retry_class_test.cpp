// The retry table: transient, permanent and unknown SQLSTATEs, and an Error's own class
// winning over its SQLSTATE and surviving WithContext.
#include "core/retry_class.hpp"

#include <gtest/gtest.h>

namespace pgpipe::core {
namespace {

TEST(ClassifySqlstate, TransientCodes) {
  for (const char* code : {"08000", "08006", "08001", "40001", "40P01", "55P03", "53000", "53100",
                           "53200", "53300"})
    EXPECT_EQ(ClassifySqlstate(code), RetryClass::kTransient) << code;
}

TEST(ClassifySqlstate, PermanentCodes) {
  for (const char* code : {"22000", "22P04", "22023", "22012", "23514", "23505", "42501", "42601",
                           "42P01", "42703", "2BP01", "28000", "28P01", "0A000"})
    EXPECT_EQ(ClassifySqlstate(code), RetryClass::kPermanent) << code;
}

TEST(ClassifySqlstate, EverythingElseIsUnknownAndStillRetried) {
  for (const char* code : {"P0001", "XX000", "XX001", "57014", "54000", "38000", "58030", "", "4"})
    EXPECT_EQ(ClassifySqlstate(code), RetryClass::kUnknown) << code;
  EXPECT_TRUE(WorthRetrying(RetryClass::kUnknown));
  EXPECT_TRUE(WorthRetrying(RetryClass::kTransient));
  EXPECT_FALSE(WorthRetrying(RetryClass::kPermanent));
}

TEST(ClassifyForRetry, TheErrorsOwnClassWinsAndSurvivesContext) {
  Error timeout("57014", "canceling statement due to statement timeout");
  EXPECT_EQ(ClassifyForRetry(timeout), RetryClass::kUnknown);
  Error network_timeout("57014", "transfer timed out");
  network_timeout.SetRetry(RetryClass::kTransient);
  EXPECT_EQ(ClassifyForRetry(network_timeout), RetryClass::kTransient);

  Error not_found("08000", "HTTP 404 (Not Found) fetching \"x\"");
  EXPECT_EQ(ClassifyForRetry(not_found), RetryClass::kTransient);  // class 08 by the table ...
  not_found.SetRetry(RetryClass::kPermanent);
  Error wrapped = not_found.WithContext("block \"load\"");
  EXPECT_EQ(ClassifyForRetry(wrapped), RetryClass::kPermanent);  // ... but HttpSource knows
  EXPECT_EQ(wrapped.context(), "block \"load\"");

  Error busy("08000", "HTTP 503");
  busy.SetRetry(RetryClass::kTransient, 2.5);
  Error busy_wrapped = busy.WithContext("a").WithContext("b");
  EXPECT_EQ(busy_wrapped.retry_after_s(), 2.5);
  EXPECT_EQ(busy_wrapped.retry_class(), RetryClass::kTransient);
  EXPECT_EQ(Error("08000", "x").SetRetry(RetryClass::kTransient, -3).retry_after_s(), 0);
}

}  // namespace
}  // namespace pgpipe::core
