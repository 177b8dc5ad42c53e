// The executor's layer 4: one block with its retries. Each attempt is recorded
// (block_attempts) and runs in its own transaction (a sensor: one per poll), under the block's
// timeout; a failure is retried only when a retry can help (a transient error, attempts left,
// no cancel) and the attempt's note says why not otherwise.
#pragma once

#include "pg/run/context.hpp"

namespace pgpipe::pg {

// Runs block `name` of the run with its retries; true when it succeeded. `callback_success`
// picks a callback's on_success (every upstream succeeded) or on_failure. On failure, *failure
// is the error naming the block.
bool RunBlock(Run& run, const std::string& name, core::Error* failure, bool callback_success = true);

// Whether a failed attempt may be tried again: transient errors only, with attempts left.
// Returns the note for the attempt record ("" when it is retried).
std::string WhyNotRetried(const core::Error& error, const core::RetrySpec& retry, int attempt);

}  // namespace pgpipe::pg
