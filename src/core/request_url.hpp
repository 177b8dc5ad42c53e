// The one check every outgoing request passes (loader and sensor URLs, each redirect, webhooks):
// the URL is put in libcurl's normal form first (curl_url: scheme and host lower-cased, the
// scheme's default port dropped, "." and ".." segments resolved), and that form is what is
// checked against pipeline.allowed_url_prefixes and what is then requested, so "allowed/../x",
// "ALLOWED.example", ":80" or "%2e%2e" cannot reach past a prefix.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

// What CheckRequestUrl found.
enum class UrlVerdict {
  kOk,
  kEmpty,
  kUnsupportedScheme,  // not http or https
  kInvalid,            // libcurl cannot parse it
  kEncodedDot,         // %2e in the path (a server may decode it into ..) while prefixes apply
  kNotAllowed,         // matches none of the allowed prefixes
};

struct UrlCheck {
  UrlVerdict verdict = UrlVerdict::kOk;
  std::string url;     // the normal form (when it parsed)
  std::string scheme;  // lower-cased, as written
  std::string reason;  // libcurl's words, for kInvalid
};

// Normalises `url` and checks it against `allowed_prefixes` (empty: any URL); never throws for
// a bad URL, so callers (redirects) can word the refusal themselves.
UrlCheck CheckRequestUrl(const std::string& url, const std::vector<std::string>& allowed_prefixes);

// CheckRequestUrl, throwing core::Error for anything but kOk: 22023 for an empty, invalid or
// non-http(s) URL, 42501 for an encoded dot or a URL outside the prefixes. `noun` names the URL
// in messages ("URL", "webhook URL"), which show it redacted. Returns the URL to request.
std::string CheckedRequestUrl(const std::string& url,
                              const std::vector<std::string>& allowed_prefixes,
                              const std::string& noun = "URL");

}  // namespace pgpipe::core
