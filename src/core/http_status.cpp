// HTTP statuses and libcurl results, in words and in retry classes: see http_status.hpp.
#include "core/http_status.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <string>

#include "core/pg_free.hpp"

namespace pgpipe::core {

// The standard reason phrase of an HTTP status, or "" for an unknown code.
const char* ReasonPhrase(long status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 511: return "Network Authentication Required";
    default: return "";
  }
}

// Whether another attempt can cure an HTTP error status: a timeout, "too early", "too many
// requests" and server errors can pass; any other client error will not.
RetryClass StatusRetryClass(long status) {
  if (status == 408 || status == 425 || status == 429 || status >= 500) return RetryClass::kTransient;
  return RetryClass::kPermanent;
}

// Whether another attempt can cure a libcurl failure: a bad URL, protocol or certificate will
// not; connections refused or dropped, name lookups and timeouts may.
RetryClass CurlRetryClass(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_LOGIN_DENIED:
      return RetryClass::kPermanent;
    default:
      return RetryClass::kTransient;
  }
}

// Seconds until a Retry-After value (delay-seconds or an HTTP-date), capped; 0 when it is
// neither, or in the past.
double RetryAfterSeconds(const std::string& value) {
  if (value.empty()) return 0;
  double seconds = 0;
  if (value.find_first_not_of("0123456789") == std::string::npos) {
    seconds = value.size() > 9 ? kMaxRetryAfterS : std::stod(value);
  } else {
    time_t when = curl_getdate(value.c_str(), nullptr);  // the three HTTP date formats
    if (when == -1) return 0;
    seconds = std::difftime(when, std::time(nullptr));
  }
  if (seconds <= 0) return 0;
  return std::min(seconds, kMaxRetryAfterS);
}

}  // namespace pgpipe::core
