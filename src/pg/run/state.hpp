// The executor's layer 2: the one place that writes a run's or a block run's status. Every path
// that moves one (a worker starting and ending it, pipeline.cancel, the launcher's claim,
// recovery and pruning, a re-queue at shutdown) calls MoveRun or MoveBlock, which read the
// stored state under a row lock, ask core::NextState whether the event may happen, and write the
// new state with its timestamps, error and details; a run's move is a NOTIFY on channel
// pipeline_events in the same transaction. All of it runs as the extension's owner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/run_state.hpp"
#include "pg/run/context.hpp"

namespace pgpipe::pg {

// What a run's move records beside its new state.
struct RunChange {
  std::string error;     // failed or cancelled: why
  std::string sqlstate;  // ... its SQLSTATE
  bool recovered = false;  // a requeue by the launcher's recovery: counts in runs.recoveries
};

// Moves run `run_id` by `event` if its stored state allows it; returns the new state, or nullopt
// when the event does not apply to the state it is in now (it ended, or was cancelled, meanwhile).
std::optional<core::RunState> MoveRun(int64_t run_id, core::RunEvent event, const RunChange& change = {});

// What a block run's move records beside its new state.
struct BlockChange {
  int attempt = 0;                 // start/retry: the attempt starting
  int64_t rows_in = -1, rows_out = -1, bytes = -1;  // succeed: what it did (-1 unknown)
  std::string relation;            // succeed: its output relation, as text
  unsigned int relid = 0;          // ... and the staging relation by OID, if it made one
  std::optional<bool> condition;   // succeed: what a conditional said
  int warnings = 0;                // succeed/fail: tests with severity warn that failed
  std::string error, sqlstate, detail;  // fail/cancel/skip/block: why
  bool clear_output = false;       // reset: the output is gone, forget it
};

// Moves block `block` of run `run_id` by `event` (see MoveRun for the return value).
std::optional<core::BlockState> MoveBlock(int64_t run_id, const std::string& block,
                                          core::BlockEvent event, const BlockChange& change = {});

// Records this process as the run's worker (worker_pid, started_at); false unless the run is
// running (a cancel got there first).
bool NoteRunWorker(int64_t run_id);

// Starts attempt `attempt` of a block: its row moves to running, and the attempt is recorded.
void BeginAttempt(int64_t run_id, const std::string& block, core::BlockState now, int attempt);

// Ends an attempt: `status` is succeeded, failed or cancelled; `note` (e.g. "not retried:
// permanent") is kept with the error.
void EndAttempt(int64_t run_id, const std::string& block, int attempt, const std::string& status,
                const core::Error* error = nullptr, const std::string& note = {});

// Keeps a failed attempt's error on the block's row while the block waits to try again.
void NoteRetry(int64_t run_id, const std::string& block, const core::Error& error, double delay_s);

// Appends a line to the run's log (block "" for a run-level line).
void WriteLog(int64_t run_id, const std::string& block, const LogLine& line);

}  // namespace pgpipe::pg
