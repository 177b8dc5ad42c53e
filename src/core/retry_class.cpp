// Retry classification: see retry_class.hpp.
#include "core/retry_class.hpp"

#include "core/pg_free.hpp"

namespace pgpipe::core {

// The table of retry_class.hpp, by class (first two characters) then by exact code.
RetryClass ClassifySqlstate(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return RetryClass::kUnknown;
  const std::string klass = sqlstate.substr(0, 2);
  if (klass == "08" || klass == "53") return RetryClass::kTransient;
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03")
    return RetryClass::kTransient;
  if (klass == "22" || klass == "23" || klass == "42" || klass == "28" || klass == "0A")
    return RetryClass::kPermanent;
  if (sqlstate == "2BP01") return RetryClass::kPermanent;
  return RetryClass::kUnknown;
}

// The raiser knows best; the SQLSTATE table is the fallback.
RetryClass ClassifyForRetry(const Error& error) {
  if (error.retry_class() != RetryClass::kUnknown) return error.retry_class();
  return ClassifySqlstate(error.sqlstate());
}

}  // namespace pgpipe::core
