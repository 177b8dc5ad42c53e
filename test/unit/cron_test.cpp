// Previous firing times of cron expressions, as scheduled runs compute their data interval.
#include <gtest/gtest.h>

#include "core/cron.hpp"
#include "core/error.hpp"

using namespace pgpipe::core;

namespace {
std::time_t Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  std::tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return timegm(&tm);
}
}  // namespace

TEST(Cron, PreviousFireOfCommonSchedules) {
  std::time_t t = Utc(2021, 2, 1, 6, 30, 12);
  EXPECT_EQ(CronPreviousFire("* * * * *", t), Utc(2021, 2, 1, 6, 30));
  EXPECT_EQ(CronPreviousFire("*/15 * * * *", t), Utc(2021, 2, 1, 6, 30));
  EXPECT_EQ(CronPreviousFire("0 6 * * *", t), Utc(2021, 2, 1, 6, 0));
  EXPECT_EQ(CronPreviousFire("0 7 * * *", t), Utc(2021, 1, 31, 7, 0));
  EXPECT_EQ(CronPreviousFire("@monthly", t), Utc(2021, 2, 1, 0, 0));
  EXPECT_EQ(CronPreviousFire("@monthly", Utc(2021, 2, 1, 0, 0) - 60), Utc(2021, 1, 1, 0, 0));
  EXPECT_EQ(CronPreviousFire("0 0 * * mon", t), Utc(2021, 2, 1, 0, 0));  // a Monday
  EXPECT_EQ(CronPreviousFire("0 0 * * 7", t), Utc(2021, 1, 31, 0, 0));   // Sunday as 7
  EXPECT_EQ(CronPreviousFire("30 9 1-7 jan-mar *", t), Utc(2021, 1, 7, 9, 30));
  EXPECT_EQ(CronPreviousFire("0 0 13 * fri", t), Utc(2021, 1, 29, 0, 0));  // either day field
}

TEST(Cron, RefusesWhatItCannotRead) {
  EXPECT_THROW(CronPreviousFire("61 * * * *", 0), Error);
  EXPECT_THROW(CronPreviousFire("* * *", 0), Error);
  try {
    CronPreviousFire("0 0 31 feb *", Utc(2021, 1, 1, 0, 0));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.message(), "cron expression \"0 0 31 feb *\" never fires");
  }
}
