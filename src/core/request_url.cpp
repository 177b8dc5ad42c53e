// Request URL checks: see request_url.hpp.
#include "core/request_url.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/error.hpp"
#include "core/url.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

// ASCII lower case (scheme and host syntax is ASCII).
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A libcurl string that frees itself.
using CurlString = std::unique_ptr<char, decltype(&curl_free)>;

// libcurl's normal form of an http(s) URL, host lower-cased and default port dropped; "" and
// `reason` set when it does not parse.
std::string Normalize(const std::string& url, std::string* reason) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> h(curl_url(), curl_url_cleanup);
  if (!h) throw Error(sqlstate::kInternalError, "out of memory parsing a URL");
  CURLUcode rc = curl_url_set(h.get(), CURLUPART_URL, url.c_str(), 0);
  char* raw = nullptr;
  if (rc == CURLUE_OK) rc = curl_url_get(h.get(), CURLUPART_HOST, &raw, 0);
  CurlString host(raw, curl_free);
  if (rc == CURLUE_OK) rc = curl_url_set(h.get(), CURLUPART_HOST, Lower(host.get()).c_str(), 0);
  raw = nullptr;
  if (rc == CURLUE_OK) rc = curl_url_get(h.get(), CURLUPART_URL, &raw, CURLU_NO_DEFAULT_PORT);
  CurlString out(raw, curl_free);
  if (rc != CURLUE_OK) {
    *reason = curl_url_strerror(rc);
    return "";
  }
  return out.get();
}

// A prefix in the same form as the URLs it is compared with: scheme and host lower-cased, and a
// default port dropped only where a path follows it (dropping a final ":80" would make
// "http://h:80" admit "http://h:8080"). Plain string work: a prefix need not be a whole URL.
std::string NormalizePrefix(const std::string& prefix) {
  size_t sep = prefix.find("://");
  if (sep == std::string::npos) return prefix;
  size_t end = prefix.find_first_of("/?#", sep + 3);
  std::string authority = Lower(prefix.substr(sep + 3, end == std::string::npos ? end : end - sep - 3));
  std::string scheme = Lower(prefix.substr(0, sep));
  const std::string default_port = scheme == "http" ? ":80" : scheme == "https" ? ":443" : "";
  bool has_path = end != std::string::npos && prefix[end] == '/';
  if (has_path && !default_port.empty() && authority.size() > default_port.size() &&
      authority.compare(authority.size() - default_port.size(), default_port.size(),
                        default_port) == 0)
    authority.resize(authority.size() - default_port.size());
  return scheme + "://" + authority + (end == std::string::npos ? "" : prefix.substr(end));
}

// The redacted URL in quotes, for messages.
std::string Quoted(const std::string& url) { return "\"" + RedactUrl(url) + "\""; }

}  // namespace

// Scheme first (no parsing needed to refuse file:), then the normal form, then the prefixes.
UrlCheck CheckRequestUrl(const std::string& url, const std::vector<std::string>& allowed_prefixes) {
  UrlCheck check;
  if (url.empty()) {
    check.verdict = UrlVerdict::kEmpty;
    return check;
  }
  check.scheme = UrlScheme(url);
  if (check.scheme != "http" && check.scheme != "https") {
    check.verdict = UrlVerdict::kUnsupportedScheme;
    return check;
  }
  check.url = Normalize(url, &check.reason);
  if (check.url.empty()) {
    check.verdict = UrlVerdict::kInvalid;
    return check;
  }
  if (allowed_prefixes.empty()) return check;
  if (HasEncodedDotSegment(check.url)) {
    check.verdict = UrlVerdict::kEncodedDot;
    return check;
  }
  std::vector<std::string> prefixes;
  for (const std::string& prefix : allowed_prefixes) prefixes.push_back(NormalizePrefix(prefix));
  if (!UrlAllowedByPrefixes(check.url, prefixes)) check.verdict = UrlVerdict::kNotAllowed;
  return check;
}

// The verdicts as the errors HttpSource has always raised.
std::string CheckedRequestUrl(const std::string& url,
                              const std::vector<std::string>& allowed_prefixes,
                              const std::string& noun) {
  UrlCheck check = CheckRequestUrl(url, allowed_prefixes);
  switch (check.verdict) {
    case UrlVerdict::kOk:
      return check.url;
    case UrlVerdict::kEmpty:
      throw Error(sqlstate::kInvalidParameterValue, noun + " must not be empty");
    case UrlVerdict::kUnsupportedScheme:
      throw Error(sqlstate::kInvalidParameterValue,
                  "unsupported URL scheme \"" + check.scheme + "\" in " +
                      (noun == "URL" ? "" : noun + " ") + Quoted(url),
                  {}, "Only http and https URLs may be fetched.");
    case UrlVerdict::kInvalid:
      throw Error(sqlstate::kInvalidParameterValue,
                  "invalid " + noun + " " + Quoted(url) + ": " + check.reason);
    case UrlVerdict::kEncodedDot:
      throw Error(sqlstate::kInsufficientPrivilege,
                  noun + " " + Quoted(url) + " is not allowed: it has an encoded dot segment", {},
                  "Write the path without %2e: allowed URL prefixes are matched literally.");
    case UrlVerdict::kNotAllowed:
      throw Error(sqlstate::kInsufficientPrivilege,
                  noun + " " + Quoted(url) +
                      " is not allowed: it matches none of the allowed URL prefixes");
  }
  throw Error(sqlstate::kInternalError, "unknown URL verdict");
}

}  // namespace pgpipe::core
