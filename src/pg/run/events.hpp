// The executor's layer 2: telling the world outside about a failed run (settings.webhook_url).
// NOTIFY events are written with each state change (state.hpp).
#pragma once

#include <string>

#include "pg/run/context.hpp"

namespace pgpipe::pg {

// Posts a failed run to the pipeline's webhook, if it has one, under the same URL rules as
// loaders (allowed prefixes, normalised first); a delivery failure is logged, not fatal. Call
// outside any transaction: it opens its own for the checks and the log line.
void CallWebhook(const Run& run, const std::string& status, const std::string& error);

}  // namespace pgpipe::pg
