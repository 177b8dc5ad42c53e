// Posting run events to a webhook: one HTTP POST of a JSON document, with a short timeout.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

// POSTs `json` with Content-Type application/json to the URL HttpSource would fetch for `url`:
// libcurl's normal form, checked against `allowed_prefixes` (empty: any) exactly as loaders
// are (CheckedRequestUrl, request_url.hpp), so ../ and %2e cannot get past a prefix. Throws
// core::Error when the URL is refused, or the post cannot be delivered or is not answered 2xx.
// Redirects are not followed. With public_addresses_only, the post connects to public
// addresses only, without a proxy, as FetchOptions::public_addresses_only does for loaders
// (address_guard.hpp): a refused address is 42501, naming it.
void PostJson(const std::string& url, const std::string& json, long timeout_ms,
              const std::vector<std::string>& allowed_prefixes,
              bool public_addresses_only = false);

// PostJson with no prefix to match (the URL is still normalised and must be http or https).
void PostJson(const std::string& url, const std::string& json, long timeout_ms);

}  // namespace pgpipe::core
