// Posting run events to a webhook: one HTTP POST of a JSON document, with a short timeout.
#pragma once

#include <string>

namespace pgpipe::core {

// POSTs `json` to `url` (http or https only) with Content-Type application/json; throws
// core::Error when it cannot be delivered or the answer is not 2xx.
void PostJson(const std::string& url, const std::string& json, long timeout_ms);

}  // namespace pgpipe::core
