// The executor's layer 5: a whole run. Its worker takes the blocks in dependency order, runs
// each when every upstream block has ended (skipping or blocking it as they ended), hands the
// blocks that do not depend on each other to block workers (pipeline.max_parallel_blocks), runs
// fused chains as one COPY, and ends the run: succeeded, failed (the first failure), cancelled,
// or queued again when the server shuts down. Every state change goes through state.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace pgpipe::pg {

enum class RunStatus { kSucceeded = 1, kFailed = 2, kCancelled = 3 };

struct RunOutcome {
  RunStatus status = RunStatus::kFailed;
  core::Error error{"00000", ""};  // the failing block's error, for failed runs
};

// Executes run `run_id` (claimed for this worker, or created running by it) to a final state and
// records everything; does not throw for block failures (they are in the outcome and the catalog).
RunOutcome ExecuteRun(int64_t run_id);

// Runs one block of run `run_id` (with its retries) in a block worker, for the run's worker,
// which takes the block's outcome from the catalog.
void ExecuteBlockOfRun(int64_t run_id, const std::string& block);

}  // namespace pgpipe::pg
