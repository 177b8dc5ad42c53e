// The executor's layer 4: one block with its retries. Each attempt is recorded
// (block_attempts) and runs in its own transaction (a sensor: one per poll), under the block's
// timeout; a failure is retried only when a retry can help (a transient error, attempts left,
// no cancel) and the attempt's note says why not otherwise.
#pragma once

#include "pg/load/copy_bridge.hpp"
#include "pg/run/context.hpp"

namespace pgpipe::pg {

// Runs block `name` of the run with its retries; true when it succeeded. `callback_success`
// picks a callback's on_success (every upstream succeeded) or on_failure. On failure, *failure
// is the error naming the block.
bool RunBlock(Run& run, const std::string& name, core::Error* failure, bool callback_success = true);

// Load workers a loader's load is split across (parallel ingest): its source's `parallel`,
// else pipeline.load_workers. 1 (one COPY, today's path) when that is 1, or when the source
// cannot be split; then *why_not (may be null) is the log line saying why.
int LoadWorkers(const core::SourceSpec& source, std::string* why_not);

// How a load split across workers went, for its log line: "split across N load workers", or
// why its leader loaded it alone. `asked`: the workers it asked for.
std::string SplitNote(const LoadResult& loaded, int asked);

// Whether a failed attempt may be tried again: transient errors only, with attempts left.
// Returns the note for the attempt record ("" when it is retried).
std::string WhyNotRetried(const core::Error& error, const core::RetrySpec& retry, int attempt);

}  // namespace pgpipe::pg
