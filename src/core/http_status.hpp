// What HTTP statuses and libcurl failures mean for a loader: the words for a message, and whether
// another attempt can help (retry_class.hpp), with the delay a server asks for in Retry-After.
#pragma once

#include <string>

#include "core/error.hpp"

namespace pgpipe::core {

// The longest Retry-After honoured, in seconds (a server asking for more gets this).
inline constexpr double kMaxRetryAfterS = 3600;

// The standard reason phrase of an HTTP status ("Not Found"), or "" for an unknown code.
const char* ReasonPhrase(long status);

// Transient for 408, 425, 429 and 5xx, permanent for every other error status.
RetryClass StatusRetryClass(long status);

// Permanent for a libcurl result (a CURLcode) that another attempt cannot change: a bad URL or
// protocol, a certificate that does not verify, too many redirects; transient otherwise
// (refused, reset, name lookup, timeouts).
RetryClass CurlRetryClass(int code);

// Seconds until a Retry-After value, given as delay-seconds ("120") or as an HTTP-date in any of
// its three formats; 0 when it is neither or already past; at most kMaxRetryAfterS.
double RetryAfterSeconds(const std::string& value);

}  // namespace pgpipe::core
