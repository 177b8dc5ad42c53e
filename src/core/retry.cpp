// Retry classification: see retry.hpp.
#include "core/retry.hpp"

#include <string>

#include "core/pg_free.hpp"

namespace pgpipe::core {

RetryClass ClassifyForRetry(const Error& error) {
  const std::string& s = error.sqlstate();
  const std::string cls = s.substr(0, 2);
  if (cls == "22" || cls == "23" || cls == "42" || cls == "28" || cls == "0A" || s == "2BP01")
    return RetryClass::kPermanent;
  return RetryClass::kTransient;
}

double RetryAfterSeconds(const Error&) { return 0; }

}  // namespace pgpipe::core
