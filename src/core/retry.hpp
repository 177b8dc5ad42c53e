// Which failures a retry can help: the rule a block's retry policy applies (and pipeline.load_csv's).
#pragma once

#include "core/error.hpp"

namespace pgpipe::core {

enum class RetryClass { kTransient, kPermanent };

// Transient: connection and network failures (class 08), serialization failures (40001),
// deadlocks (40P01), lock timeouts (55P03), insufficient resources (class 53); everything not
// listed as permanent stays retryable, as before. Permanent: data (22), integrity and failed
// tests (23), syntax and privileges (42), dependent objects (2BP01), authorization (28),
// unsupported features (0A).
RetryClass ClassifyForRetry(const Error& error);

// Seconds the failure asks to wait before trying again (an HTTP Retry-After), or 0.
double RetryAfterSeconds(const Error& error);

}  // namespace pgpipe::core
