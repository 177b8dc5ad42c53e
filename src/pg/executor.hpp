// Runs a pipeline in a background worker: blocks in dependency order, each attempt in its own
// transaction, every status change committed on its own (so history survives any failure).
//
// Run states: queued -> running -> succeeded | failed | cancelled.
// Block states: pending -> running -> succeeded | failed | skipped | upstream_failed | cancelled;
// a failed attempt with retries left goes back to running after its delay.
// A block's output is a relation: loaders and materialized transformers an UNLOGGED table in
// schema pipeline_staging, other transformers a view there, exporters their target. Staging is
// dropped when the run succeeds and kept after a failure for pipeline.staging_retention.
#pragma once

#include <cstdint>
#include <string>

#include "pg/boundary.hpp"

namespace pgpipe::pg {

enum class RunStatus { kSucceeded = 1, kFailed = 2, kCancelled = 3 };

struct RunOutcome {
  RunStatus status = RunStatus::kFailed;
  core::Error error{"00000", ""};  // the failing block's error, for failed runs
};

// Creates a run of pipeline `name` (its current version) with the caller's variables merged over
// the pipeline's defaults; commits it as running with its block runs pending. Returns its id.
int64_t CreateRun(const std::string& project, const std::string& name,
                  const std::string& variables_json, const std::string& trigger);

// Executes run `run_id` to a final state and records everything; does not throw for block
// failures (they are in the outcome and the catalog).
RunOutcome ExecuteRun(int64_t run_id);

// Runs one block of run `run_id` (with its retries) in a block worker: the coordinating worker
// of the run hands independent blocks to such workers and takes in their outcome from the
// catalog.
void ExecuteBlockOfRun(int64_t run_id, const std::string& block);

// Set by the worker's SIGTERM handler: stop, and end the run cancelled.
extern volatile bool g_cancel_requested;

}  // namespace pgpipe::pg
