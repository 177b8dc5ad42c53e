// pipeline.load_csv(url, target, options): the HTTP loader on its own, as a SQL function, with
// retries for failures another attempt can cure.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/jsonb.h"
}

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "core/error.hpp"
#include "core/retry_class.hpp"
#include "core/pipeline_yaml.hpp"
#include "pg/gucs.hpp"
#include "pg/boundary.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/subxact.hpp"
#include "pg/wait.hpp"

using namespace pgpipe;

namespace {

// Sleeps `seconds`, serving interrupts (a cancel ends the wait with its error).
void SleepFor(double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return;
    pg::WaitOnLatch(left);
    pg::PgCall([] { ResetLatch(MyLatch); });
  }
}

// The load, tried again as the options' retries say when the failure is one another attempt can
// cure (a 503, a dropped connection: core::ClassifyForRetry): each attempt in a subtransaction,
// so a failed one leaves nothing behind, and each failure a NOTICE the caller sees. A server's
// Retry-After longer than retry_delay is honoured.
pg::LoadResult LoadWithRetries(const pg::LoadRequest& request) {
  const int attempts = 1 + std::max(0, request.source.retries);
  for (int attempt = 1;; ++attempt) {
    pg::LoadResult result;
    std::optional<core::Error> failed = pg::InSubtransaction([&] { result = pg::LoadCsv(request); });
    if (!failed) return result;
    const bool permanent = core::ClassifyForRetry(*failed) == core::RetryClass::kPermanent;
    if (permanent || attempt == attempts) {
      if (attempts == 1) throw *failed;
      throw failed->WithContext(permanent ? "load_csv attempt " + std::to_string(attempt) + " of " +
                                                std::to_string(attempts) + ", not retried: permanent"
                                          : "load_csv gave up after " + std::to_string(attempts) + " attempts");
    }
    double wait = std::max(request.source.retry_delay_s, failed->retry_after_s());
    char line[160];
    std::snprintf(line, sizeof line, "; retrying in %.1f s (attempt %d of %d)", wait, attempt + 1, attempts);
    std::string message = "load_csv attempt " + std::to_string(attempt) + " failed: " + failed->message() + line;
    pg::PgCall([&] { ereport(NOTICE, (errmsg("%s", message.c_str()))); });
    SleepFor(wait);
  }
}

}  // namespace

// pipeline.load_csv(url text, target text, options jsonb) returns bigint: the rows loaded.
PGPIPE_FUNCTION(pipeline_load_csv) {
  pg::LoadRequest request;
  std::string options_json = "{}";
  if (!pg::ArgIsNull(fcinfo, 2)) {
    const char* json = pg::PgCall([&] {
      Jsonb* options = PG_GETARG_JSONB_P(2);
      return JsonbToCString(nullptr, &options->root, VARSIZE(options));
    });
    options_json = json;
  }
  if (pg::ArgIsNull(fcinfo, 0) || pg::ArgIsNull(fcinfo, 1))
    throw core::Error(core::sqlstate::kInvalidParameterValue,
                      std::string(pg::ArgIsNull(fcinfo, 0) ? "url" : "target") + " must not be NULL");
  request.source = core::ParseLoadOptionsJson(options_json, pg::PipelineYamlLimits());
  request.source.url = pg::TextArg(fcinfo, 0);
  request.target = pg::TextArg(fcinfo, 1);
  request.create = request.source.create;
  pg::LoadResult result = LoadWithRetries(request);
  return Int64GetDatum(static_cast<int64>(result.rows));
}
