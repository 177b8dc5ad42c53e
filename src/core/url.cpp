// URL helpers: redaction of credentials, the scheme, and the allowed-prefix rule. Plain string
// work on purpose (no libcurl), so they run anywhere, including in error paths.
#include "core/url.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>

#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

// Parameter-name fragments that mark a value as a secret (matched case-insensitively).
constexpr const char* kSecretNameParts[] = {"token", "key",  "sig",       "secret",
                                            "password", "auth", "credential"};

// Returns s in lower case (ASCII only: URL syntax is ASCII).
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// True when a query parameter of this name carries a secret.
bool IsSecretName(const std::string& name) {
  std::string lower = Lower(name);
  for (const char* part : kSecretNameParts) {
    if (lower.find(part) != std::string::npos) return true;
  }
  return false;
}

// Rewrites a "a=1&token=x" list, masking the values of secret-looking names.
std::string RedactParams(const std::string& params) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t end = params.find('&', start);
    std::string param = params.substr(start, end == std::string::npos ? end : end - start);
    size_t eq = param.find('=');
    if (eq != std::string::npos && IsSecretName(param.substr(0, eq))) {
      out += param.substr(0, eq + 1) + "***";
    } else {
      out += param;
    }
    if (end == std::string::npos) break;
    out += '&';
    start = end + 1;
  }
  return out;
}

// Index just past "scheme://", or npos when url has no authority part.
size_t AuthorityStart(const std::string& url) {
  size_t sep = url.find("://");
  if (sep == std::string::npos || UrlScheme(url).empty()) return std::string::npos;
  return sep + 3;
}

// Index where the authority starting at from ends (the first '/', '?' or '#', or the end).
size_t AuthorityEnd(const std::string& url, size_t from) {
  size_t end = url.find_first_of("/?#", from);
  return end == std::string::npos ? url.size() : end;
}

}  // namespace

// Strips userinfo, then masks secret parameters in the query and the fragment.
std::string RedactUrl(const std::string& url) {
  std::string out = url;
  size_t auth_start = AuthorityStart(out);
  if (auth_start != std::string::npos) {
    size_t auth_end = AuthorityEnd(out, auth_start);
    size_t at = out.rfind('@', auth_end == 0 ? 0 : auth_end - 1);
    if (at != std::string::npos && at >= auth_start && at < auth_end) {
      out.erase(auth_start, at + 1 - auth_start);
    }
  }
  size_t query = out.find('?');
  size_t fragment = out.find('#');
  if (query != std::string::npos && fragment != std::string::npos && query > fragment) {
    query = std::string::npos;  // a '?' inside the fragment is not a query
  }
  std::string tail_fragment;
  if (fragment != std::string::npos) {
    tail_fragment = "#" + RedactParams(out.substr(fragment + 1));
    out.erase(fragment);
  }
  if (query != std::string::npos) {
    out = out.substr(0, query + 1) + RedactParams(out.substr(query + 1));
  }
  return out + tail_fragment;
}

// Reads the RFC 3986 scheme (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )) before the ':'.
std::string UrlScheme(const std::string& url) {
  size_t colon = url.find(':');
  if (colon == std::string::npos || colon == 0) return {};
  if (!std::isalpha(static_cast<unsigned char>(url[0]))) return {};
  for (size_t i = 1; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(url[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return {};
  }
  return Lower(url.substr(0, colon));
}

// A ':' before any "{{" means the scheme is written out.
std::optional<std::string> LiteralUrlScheme(const std::string& url) {
  size_t colon = url.find(':');
  size_t placeholder = url.find("{{");
  if (placeholder != std::string::npos && (colon == std::string::npos || placeholder < colon))
    return std::nullopt;
  return UrlScheme(url);
}

// Looks for "%2e" in the path (case-insensitive), before any query or fragment.
bool HasEncodedDotSegment(const std::string& url) {
  std::string lower = url.substr(0, url.find_first_of("?#"));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("%2e") != std::string::npos;
}

// Plain prefix match, plus a host-boundary check when the prefix stops inside the authority.
bool UrlAllowedByPrefixes(const std::string& url, const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return true;
  for (const std::string& prefix : prefixes) {
    if (prefix.empty() || url.compare(0, prefix.size(), prefix) != 0) continue;
    size_t auth_start = AuthorityStart(prefix);
    bool ends_in_authority = auth_start != std::string::npos && auth_start < prefix.size() &&
                             AuthorityEnd(prefix, auth_start) == prefix.size();
    if (!ends_in_authority || url.size() == prefix.size()) return true;
    // The URL goes on inside the authority: accept only a path/query/fragment or ":port" next.
    size_t next = prefix.size();
    if (url[next] == ':') {
      size_t digits_end = next + 1;
      while (digits_end < url.size() && std::isdigit(static_cast<unsigned char>(url[digits_end])))
        ++digits_end;
      if (digits_end > next + 1 && AuthorityEnd(url, next) == digits_end) return true;
      continue;
    }
    if (url[next] == '/' || url[next] == '?' || url[next] == '#') return true;
  }
  return false;
}

}  // namespace pgpipe::core
