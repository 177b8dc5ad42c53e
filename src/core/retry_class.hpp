// Which failures are worth retrying. A block's retry policy (retries, delay, backoff) applies
// only to failures that another attempt can cure: a dropped connection, a deadlock, HTTP 503.
// A 404, a permission error or a syntax error fails at once, however many retries are allowed.
#pragma once

#include <string>

#include "core/error.hpp"

namespace pgpipe::core {

// The class of a SQLSTATE alone (for errors that lost everything else, say after a round trip
// through a Postgres ereport). The table:
//   transient  class 08 (connection exception), 40001 (serialization failure), 40P01
//              (deadlock), 55P03 (lock not available), class 53 (insufficient resources)
//   permanent  class 22 (data exception), class 23 (integrity constraint: a failed test is
//              23514), class 42 (syntax error or access rule: 42501, 42601, 42P01...), 2BP01
//              (dependent objects), class 28 (authorization), class 0A (not supported)
//   unknown    everything else (P0001 raise_exception, XX000, 57014 cancel/statement timeout,
//              54000...): retried per the policy, as before this table existed.
// A 57014 counts as transient only when its raiser marked it so (a network timeout).
RetryClass ClassifySqlstate(const std::string& sqlstate);

// The error's own class when its raiser set one (HttpSource does for HTTP statuses and curl
// failures), else ClassifySqlstate of its SQLSTATE.
RetryClass ClassifyForRetry(const Error& error);

// False only for permanent failures: transient and unknown ones are retried per the policy.
inline bool WorthRetrying(RetryClass retry_class) { return retry_class != RetryClass::kPermanent; }

}  // namespace pgpipe::core
