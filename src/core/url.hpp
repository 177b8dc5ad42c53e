// URL helpers of the loader: the scheme check, the allowed-prefix rule, and the redaction that
// keeps credentials (userinfo, tokens in the query) out of every message, log line and view.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pgpipe::core {

// Returns url without its user:pass@ userinfo and with the values of query (and fragment)
// parameters whose name looks secret (token, key, sig, secret, password, auth, credential)
// replaced by "***"; safe to show to anyone.
std::string RedactUrl(const std::string& url);

// Returns the lowercased scheme of url ("https"), or "" when it has none.
std::string UrlScheme(const std::string& url);

// The scheme of `url` as a pipeline file spells it ("" when it has none), or nullopt when the
// URL starts inside a {{ template }} before any ':' (then only the rendered URL can tell).
std::optional<std::string> LiteralUrlScheme(const std::string& url);

// True when the URL's path holds a percent-encoded dot ("%2e"), which a server may decode into
// a "../" segment after the prefix check; refused while allowed prefixes are in force.
bool HasEncodedDotSegment(const std::string& url);

// True when prefixes is empty or url starts with one of them; a prefix that ends inside the
// host part ("https://example.com") only matches at a host boundary, so it does not admit
// "https://example.com.evil.org/" or "https://example.com@evil.org/".
bool UrlAllowedByPrefixes(const std::string& url, const std::vector<std::string>& prefixes);

}  // namespace pgpipe::core
