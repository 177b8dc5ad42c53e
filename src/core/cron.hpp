// Standard five-field cron expressions (minute hour day-of-month month day-of-week), as
// pg_cron reads them, to find the data interval a scheduled run covers: from the previous
// firing to this one.
#pragma once

#include <ctime>
#include <string>

namespace pgpipe::core {

// The latest minute at or before `t` (UTC seconds) that `expression` fires at; throws
// core::Error for an expression it cannot read. Searches back at most 5 years.
std::time_t CronPreviousFire(const std::string& expression, std::time_t t);

}  // namespace pgpipe::core
