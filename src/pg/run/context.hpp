// The executor's layer 1: a run as the worker executing it holds it in memory, and the small
// helpers every other executor file uses (template rendering, waiting, retry delays, naming a
// failed block). Nothing here writes the catalog: state.hpp does, and only it.
//
// The executor's files, each over the ones above it:
//   context   this file: Run, BlockRun, Render, Sleep, error helpers
//   state     the one place that persists a transition (status, timestamps, error, NOTIFY),
//             creating runs, loading a run to resume it, attempts and log lines
//   staging   staging relations: created in the role's own schema, recorded and dropped by OID
//   tests     a block's tests, folded into one scan where they can be
//   events    the failure webhook
//   publish   an exporter's publish: replace (build beside, swap), append, fail
//   blocks    one block with its retries: loaders, transformers, exporters, sensors,
//             conditionals, callbacks
//   fusion    loader -> filter -> replace as one COPY, decided from the parse tree
//   scheduler a whole run: which block runs when and where (block workers), and its end
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/run_state.hpp"
#include "core/spec.hpp"

namespace pgpipe::pg {

// Set by the worker's SIGTERM handler: the server is shutting down (the run goes back to the
// queue).
extern volatile sig_atomic_t g_shutdown_requested;

// A pipeline.run worker's cancel flag, in its caller's shared slot (null elsewhere).
extern volatile bool* g_cancel_flag;

// Whether a user cancelled the run. A cancel reaches a worker as SIGINT, as a statement timeout
// does (Postgres's timeout handler sends SIGINT too); what tells them apart is the flag the
// canceller sets first: in shared memory (pipeline.cancel) or in the pipeline.run caller's slot.
bool CancelRequested();

// Set when the run's settings.timeout passed (ArmRunTimeout): the run is stopped as a cancel
// stops it, and fails, saying it timed out.
extern volatile sig_atomic_t g_run_timed_out;

// Arms the run's deadline, `seconds` from now: when it passes, g_run_timed_out is set and the
// running statement is cancelled.
void ArmRunTimeout(double seconds);

// True when the worker was told to stop, any way.
inline bool StopRequested() { return g_shutdown_requested || g_run_timed_out || CancelRequested(); }

// One block of a run, as the worker sees it.
struct BlockRun {
  size_t index = 0;                               // into Run::spec.blocks
  core::BlockState state = core::BlockState::kPending;
  std::string relation;                           // its output relation, quoted ("" none)
  unsigned int relid = 0;                         // a staging relation it made, by OID (0 none)
  int64_t rows_out = -1;
  int attempts_done = 0;                          // attempts recorded before this worker
  bool said_false = false;                        // a conditional that evaluated false
};

struct Run {
  int64_t id = 0;
  int64_t pipeline_id = 0;
  int version = 0;
  unsigned int owner = 0;  // the role it runs as (Oid)
  std::string project;
  std::string trigger;
  core::PipelineSpec spec;
  std::string variables_select;  // SELECT putting the run's variables in scope (render.hpp)
  std::map<std::string, BlockRun> blocks;
  std::map<std::string, int> consumers;  // blocks reading each block's output

  const core::BlockSpec& Spec(const std::string& block) const {
    return spec.blocks[blocks.at(block).index];
  }
};

struct LogLine {
  std::string level;
  std::string message;
};

// What one attempt of a block produced: row counts, bytes, log lines, written when it ends.
struct AttemptResult {
  int64_t rows_in = -1;
  int64_t rows_out = -1;
  int64_t bytes = -1;
  int warnings = 0;  // tests with severity warn that failed (each also a warning line of `log`)
  std::vector<LogLine> log;
};

// The check_violation SQLSTATE of a failing test (P0004 would escape PL/pgSQL handlers).
inline constexpr const char* kTestFailed = "23514";

// Renders a template of `block`: {{ block }} becomes its output relation, every other {{ expr }}
// is evaluated by Postgres with the run's variables in scope (search_path pg_catalog, pipeline
// first, so secret() and env_var() are the extension's whatever else the path holds).
std::string Render(Run& run, const core::BlockSpec& block, const std::string& text,
                   const std::string& what, const std::string& self = {});

// Sleeps, serving interrupts; a cancel or shutdown ends the sleep with 57014.
void Sleep(double seconds);

// Shows `what` as this worker's activity in pg_stat_activity.
void ReportActivity(const std::string& what);

// Any C++ exception as our Error: ours as it is, anything else (bad_alloc, a library's) as XX000.
core::Error AsError(const std::exception& caught);

// Seconds to wait before attempt `attempt` + 1 under `retry`.
double RetryDelay(const core::RetrySpec& retry, int attempt);

// An error's detail and context, for block_runs.error_detail.
std::string DetailOf(const core::Error& error);

// The run's error for a failure of `block`: it names the block (test failures and timeouts
// already do).
core::Error NamingBlock(const core::Error& error, const std::string& block);

// std::to_string, for SQL parameters.
inline std::string Num(int64_t n) { return std::to_string(n); }

}  // namespace pgpipe::pg
