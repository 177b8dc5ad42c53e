// The failure webhook: see events.hpp.
extern "C" {
#include "postgres.h"
}

#include "pg/run/events.hpp"

#include "core/error.hpp"
#include "core/spec_json.hpp"
#include "core/url.hpp"
#include "core/webhook.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/run/state.hpp"
#include "pg/txn.hpp"

namespace pgpipe::pg {

using core::Error;

void CallWebhook(const Run& run, const std::string& status, const std::string& error) {
  const std::string& url = run.spec.settings.webhook_url;
  if (url.empty()) return;
  std::string json = "{\"run_id\":" + Num(run.id) + ",\"pipeline\":" + core::JsonString(run.spec.name) +
                     ",\"project\":" + core::JsonString(run.project) + ",\"status\":" +
                     core::JsonString(status) + ",\"error\":" + core::JsonString(error) + "}";
  std::string line = "posted the failure to the webhook";
  try {
    // The limits depend on who the run's role is: asked inside a transaction.
    core::FetchOptions limits;
    core::SourceSpec probe;
    probe.url = url;
    InTransaction([&] { limits = FetchOptionsFor(probe); });
    // (the same rules as the run's loaders: normalised as libcurl will send it, then checked
    // against the prefixes (audit M3); public addresses only when no prefix is listed (L3))
    core::PostJson(url, json, 10000, limits.allowed_prefixes, limits.public_addresses_only);
  } catch (const Error& e) {
    line = std::string("webhook not reached: ") + e.message();
  }
  try {
    InTransaction([&] { WriteLog(run.id, "", {"info", line}); });
  } catch (const Error&) {
    // The run's outcome is recorded already; a lost log line is not worth failing for.
  }
}

}  // namespace pgpipe::pg
