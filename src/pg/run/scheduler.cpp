// A whole run: see scheduler.hpp.
extern "C" {
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
}

#include <map>
#include <vector>

#include "core/dag.hpp"
#include "core/trigger_rule.hpp"
#include "pg/boundary.hpp"
#include "pg/gucs.hpp"
#include "pg/privilege.hpp"
#include "pg/run/blocks.hpp"
#include "pg/run/events.hpp"
#include "pg/run/fusion.hpp"
#include "pg/run/load.hpp"
#include "pg/run/scheduler.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/state.hpp"
#include "pg/spi.hpp"
#include "pg/txn.hpp"
#include "pg/wait.hpp"
#include "pg/workers/run_worker.hpp"
#include "pg/workers/shmem.hpp"

namespace pgpipe::pg {

using core::BlockSpec;
using core::BlockState;
using core::BlockType;
using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

using Helpers = std::map<std::string, BackgroundWorkerHandle*>;  // blocks running in block workers

// Takes in the outcome of block workers that exited: the block's row says how it went; a worker
// gone with its block unfinished failed that block.
void ReapHelpers(Run& run, Helpers& helpers, std::optional<Error>& first_failure) {
  for (auto it = helpers.begin(); it != helpers.end();) {
    pid_t pid;
    BgwHandleStatus status = PgCall([&] { return GetBackgroundWorkerPid(it->second, &pid); });
    if (status != BGWH_STOPPED && status != BGWH_POSTMASTER_DIED) {
      ++it;
      continue;
    }
    const std::string name = it->first;
    BlockRun& block = run.blocks.at(name);
    InTransaction([&] {
      auto rows = CatalogQuery("SELECT status, output_relation, rows_out, condition, error, sqlstate, "
                               "coalesce(output_oid, 0) FROM pipeline.block_runs WHERE run_id = $1::bigint AND block_name = $2",
                               {Num(run.id), name});
      BlockState now = rows.empty() ? BlockState::kFailed
                                    : core::ParseBlockState(*rows[0][0]).value_or(BlockState::kFailed);
      if (now == BlockState::kPending || now == BlockState::kRunning) {
        BlockChange why;
        why.error = "its block worker exited before finishing it";
        why.sqlstate = sqlstate::kInternalError;
        MoveBlock(run.id, name, core::BlockEvent::kFail, why);
        now = BlockState::kFailed;
        if (!first_failure)
          first_failure = Error(sqlstate::kInternalError, "block \"" + name + "\" failed: " + why.error);
      } else if (now == BlockState::kFailed && !first_failure) {
        first_failure = Error(rows[0][5].value_or(sqlstate::kInternalError),
                              "block \"" + name + "\" failed: " + rows[0][4].value_or("unknown error"));
      }
      block.state = now;
      if (!rows.empty()) {
        block.relation = rows[0][1].value_or("");
        block.rows_out = rows[0][2] ? std::stoll(*rows[0][2]) : -1;
        block.said_false = rows[0][3] == SqlValue("f");
        block.relid = static_cast<unsigned int>(std::stoul(*rows[0][6]));
      }
    });
    PgCall([&] { pfree(it->second); });
    it = helpers.erase(it);
  }
}

// Stops the block workers still running (after a cancel or a failure of this worker) and waits
// for them; they record their blocks as cancelled.
void StopHelpers(Run& run, Helpers& helpers, std::optional<Error>& first_failure) {
  if (helpers.empty()) return;
  PgCall([&] {
    QueryCancelPending = false;  // our own cancel is being handled here
    for (auto& [name, handle] : helpers) TerminateBackgroundWorker(handle);
    for (auto& [name, handle] : helpers) WaitForBackgroundWorkerShutdown(handle);
  });
  ReapHelpers(run, helpers, first_failure);
}

// How an upstream block ended, for trigger rules.
core::UpstreamEnd EndOf(const BlockRun& u) {
  if (core::BlocksDownstream(u.state)) return core::UpstreamEnd::kFailed;
  if (u.state == BlockState::kSkipped || u.said_false) return core::UpstreamEnd::kSkipped;
  return core::UpstreamEnd::kSucceeded;
}

// Why a block's trigger rule keeps it from running, for the run log: "upstream block "a" did
// not succeed" under the default rule, else the rule and how each upstream ended.
std::string WhyNotTriggered(const Run& run, const BlockSpec& b, core::TriggerVerdict verdict) {
  const bool skip = verdict == core::TriggerVerdict::kSkip;
  if (b.trigger_rule == "all_success") {
    for (const auto& up : b.upstream)
      if (EndOf(run.blocks.at(up)) == (skip ? core::UpstreamEnd::kSkipped : core::UpstreamEnd::kFailed))
        return std::string(skip ? "skipped: upstream block \"" : "not run: upstream block \"") + up +
               (skip ? "\" was skipped or said false" : "\" did not succeed");
  }
  std::string ends;
  for (const auto& up : b.upstream) {
    core::UpstreamEnd end = EndOf(run.blocks.at(up));
    ends += (ends.empty() ? "" : ", ") + up + " " +
            (end == core::UpstreamEnd::kSucceeded ? "succeeded" : end == core::UpstreamEnd::kFailed ? "failed" : "skipped");
  }
  return std::string(skip ? "skipped" : "not run") + ": trigger_rule " + b.trigger_rule + " is not met (" + ends + ")";
}

// The blocks whose upstream blocks have all ended, in order; blocks whose trigger rule says they
// do not run, given how their upstream ended, are settled (skipped, upstream_failed) on the way.
// Returns true when it settled any (the caller looks again).
bool FindReady(Run& run, const std::vector<std::string>& order, const Helpers& helpers,
               std::vector<std::string>* ready) {
  bool settled = false;
  for (const auto& name : order) {
    BlockRun& block = run.blocks.at(name);
    const BlockSpec& b = run.Spec(name);
    if (block.state != BlockState::kPending || helpers.count(name)) continue;
    if (b.type == BlockType::kCallback && b.upstream.empty()) continue;  // run-level: at the end
    bool all_ended = true;
    std::vector<core::UpstreamEnd> ends;
    for (const auto& up : b.upstream) {
      const BlockRun& u = run.blocks.at(up);
      if (!core::IsFinal(u.state)) all_ended = false;
      ends.push_back(EndOf(u));
    }
    if (!all_ended) continue;
    // (callbacks run once their upstream ended, whatever happened: on_success or on_failure)
    core::TriggerVerdict verdict =
        b.type == BlockType::kCallback ? core::TriggerVerdict::kRun : core::DecideTrigger(b.trigger_rule, ends);
    if (verdict != core::TriggerVerdict::kRun) {
      const bool skip = verdict == core::TriggerVerdict::kSkip;
      InTransaction([&] {
        MoveBlock(run.id, name, skip ? core::BlockEvent::kSkip : core::BlockEvent::kBlock);
        WriteLog(run.id, name, {"info", WhyNotTriggered(run, b, verdict)});
      });
      block.state = skip ? BlockState::kSkipped : BlockState::kUpstreamFailed;
      settled = true;
      continue;
    }
    ready->push_back(name);
  }
  return settled;
}

// Runs blocks until none is left to run: the first ready block here, the other independent ones
// in block workers.
void RunBlocks(Run& run, const std::vector<std::string>& order, Helpers& helpers,
               std::optional<Error>& first_failure) {
  const Oid owner = run.owner;
  for (;;) {
    if (StopRequested()) return;
    ReapHelpers(run, helpers, first_failure);
    std::vector<std::string> ready;
    if (FindReady(run, order, helpers, &ready)) continue;
    if (ready.empty()) {
      if (helpers.empty()) return;
      WaitOnLatch(1000);  // a block worker's exit sets our latch
      continue;
    }
    // Callbacks always run here.
    for (size_t i = 1; i < ready.size(); ++i) {
      if (run.Spec(ready[i]).type == BlockType::kCallback) continue;
      if (static_cast<int>(helpers.size()) >= guc.max_parallel_blocks) break;
      if (BackgroundWorkerHandle* h = StartBlockWorker(run.id, ready[i], owner)) {
        helpers[ready[i]] = h;
        run.blocks.at(ready[i]).state = BlockState::kRunning;
      }
    }
    Error failure("00000", "");
    if (guc.fuse_blocks) {
      if (auto fusion = FindFusion(run, ready[0])) {
        if (!RunFused(run, *fusion, &failure) && !first_failure) first_failure = failure;
        continue;
      }
    }
    bool upstream_ok = true;
    for (const auto& up : run.Spec(ready[0]).upstream)
      if (core::BlocksDownstream(run.blocks.at(up).state)) upstream_ok = false;
    if (!RunBlock(run, ready[0], &failure, upstream_ok) && !first_failure) first_failure = failure;
  }
}

// The server is shutting down (or someone terminated this worker): the run goes back to the
// queue and resumes after the restart, unless it was interrupted so often already
// (pipeline.max_recoveries) that it would only loop: then it fails, saying so.
RunOutcome Requeue(const Run& run) {
  RunOutcome outcome;
  outcome.status = RunStatus::kCancelled;
  outcome.error = Error("57P01", "the server shut down during run " + Num(run.id) + "; it is queued again");
  try {
    InTransaction([&] {
      int times = std::stoi(CatalogScalar("SELECT recoveries FROM pipeline.runs WHERE run_id = $1::bigint",
                                          {Num(run.id)}).value_or("0"));
      if (times >= guc.max_recoveries) {
        std::string why = "the run was interrupted " + std::to_string(times + 1) +
                          " times (shutdowns, terminations, crashes); it is not queued again "
                          "(pipeline.max_recoveries is " + std::to_string(guc.max_recoveries) + ")";
        for (auto& [name, block] : run.blocks)
          if (block.state == BlockState::kPending) MoveBlock(run.id, name, core::BlockEvent::kBlock);
        MoveRun(run.id, core::RunEvent::kFail, RunChange{why, "57P01", false});
        WriteLog(run.id, "", {"error", why});
        outcome.status = RunStatus::kFailed;
        outcome.error = Error("57P01", why);
        return;
      }
      RunChange change;
      change.recovered = true;
      MoveRun(run.id, core::RunEvent::kRequeue, change);
      WriteLog(run.id, "", {"warning", "the worker was told to exit (a server shutdown or pg_terminate_backend): "
                                       "the run is queued again"});
    });
  } catch (const Error&) {
    // Not recorded: the launcher finds the run without a worker after the restart.
  }
  return outcome;
}

// Starts the run in this worker: its staging schema, the run itself, this worker recorded.
std::optional<Error> StartRun(int64_t run_id, Run* run, std::optional<Error>* prior_failure) {
  try {
    InTransaction([&] { EnsureStagingSchema(CurrentRole()); });
    InTransaction([&] {
      *run = LoadRun(run_id, prior_failure);
      if (!NoteRunWorker(run_id))
        throw Error(sqlstate::kQueryCanceled, "run " + Num(run_id) + " was cancelled before it started");
      PgCall([run_id] { RegisterRunWorker(run_id); });
    });
    return std::nullopt;
  } catch (const Error& e) {
    return e;
  }
}

}  // namespace

RunOutcome ExecuteRun(int64_t run_id) {
  RunOutcome outcome;
  Run run;
  std::optional<Error> first_failure;
  if (auto refused = StartRun(run_id, &run, &first_failure)) {
    outcome.error = *refused;
    try {
      InTransaction([&] {
        RunChange why{refused->message(), refused->sqlstate(), false};
        MoveRun(run_id, core::RunEvent::kFail, why);
      });
    } catch (const Error&) {
    }
    return outcome;
  }
  if (run.spec.settings.timeout_s > 0) {
    double left = 0;
    InTransaction([&] {
      left = std::stod(CatalogScalar("SELECT extract(epoch FROM started_at + make_interval(secs => $2::float8) "
                                     "- clock_timestamp()) FROM pipeline.runs WHERE run_id = $1::bigint",
                                     {Num(run_id), std::to_string(run.spec.settings.timeout_s)}).value_or("0"));
    });
    // (a run resumed after a restart keeps the deadline it started with)
    if (left > 0)
      ArmRunTimeout(left);
    else
      g_run_timed_out = 1;
  }
  try {
    InTransaction([&] { DropExpiredStaging(guc.staging_retention_s, run.owner); });
  } catch (const Error&) {
    // Not now: the launcher sweeps what is left.
  }
  std::vector<std::string> pipeline_callbacks;
  Helpers helpers;
  const std::vector<std::string> order = core::TopologicalOrder(run.spec);
  for (const auto& name : order)
    if (run.Spec(name).type == BlockType::kCallback && run.Spec(name).upstream.empty())
      pipeline_callbacks.push_back(name);
  try {
    RunBlocks(run, order, helpers, first_failure);
    StopHelpers(run, helpers, first_failure);
    // (a run that timed out is failing: its on_failure callbacks still run)
    if (g_run_timed_out) PgCall([] { QueryCancelPending = false; });
    for (const auto& name : pipeline_callbacks) {
      if (g_shutdown_requested || CancelRequested()) break;
      Error failure("00000", "");
      if (!RunBlock(run, name, &failure, !first_failure) && !first_failure) first_failure = failure;
    }
  } catch (const std::exception& caught) {
    // A failure of the bookkeeping itself, or a cancel while waiting.
    if (!first_failure) first_failure = AsError(caught);
    try {
      StopHelpers(run, helpers, first_failure);
    } catch (const Error&) {
    }
  }
  if (g_shutdown_requested) return Requeue(run);

  const bool timed_out = g_run_timed_out;
  const bool cancelled = !timed_out && CancelRequested();
  outcome.status = cancelled ? RunStatus::kCancelled
                             : (first_failure || timed_out ? RunStatus::kFailed : RunStatus::kSucceeded);
  if (first_failure) outcome.error = *first_failure;
  if (cancelled && !first_failure) outcome.error = Error(sqlstate::kQueryCanceled, "run cancelled");
  if (timed_out) {
    char after[64];
    std::snprintf(after, sizeof after, "%g s", run.spec.settings.timeout_s);
    outcome.error = Error(sqlstate::kQueryCanceled, std::string("run timed out after ") + after +
                                                        " (settings.timeout): its blocks were cancelled");
  }
  try {
    InTransaction([&] {
      for (auto& [name, block] : run.blocks) {
        if (block.state == BlockState::kPending)
          MoveBlock(run.id, name, cancelled || timed_out ? core::BlockEvent::kCancel : core::BlockEvent::kBlock);
        else if (block.state == BlockState::kRunning)
          MoveBlock(run.id, name, core::BlockEvent::kCancel);
      }
      RunChange end;
      if (outcome.status != RunStatus::kSucceeded) {
        end.error = outcome.error.message();
        end.sqlstate = outcome.error.sqlstate();
      }
      core::RunEvent event = outcome.status == RunStatus::kSucceeded ? core::RunEvent::kSucceed
                             : outcome.status == RunStatus::kCancelled ? core::RunEvent::kCancel
                                                                       : core::RunEvent::kFail;
      // (a run cancelled from outside while its worker finished stays cancelled)
      MoveRun(run.id, event, end);
      if (SqlValue warnings = CatalogScalar("SELECT warnings FROM pipeline.runs WHERE run_id = $1::bigint "
                                            "AND warnings > 0", {Num(run.id)}))
        WriteLog(run.id, "", {"warning", "the run ended with " + *warnings + " test warning(s) (severity warn)"});
    });
    if (outcome.status == RunStatus::kFailed) CallWebhook(run, "failed", outcome.error.message());
  } catch (const Error& e) {
    outcome.status = RunStatus::kFailed;
    outcome.error = e;
    return outcome;
  }
  if (outcome.status == RunStatus::kSucceeded) {
    try {
      InTransaction([&] { DropRunStaging(run); });
    } catch (const Error& e) {
      // The run succeeded; staging left behind is dropped by a later retention sweep.
      try {
        InTransaction([&] { WriteLog(run.id, "", {"warning", std::string("staging not dropped: ") + e.message()}); });
      } catch (const Error&) {
      }
    }
  }
  return outcome;
}

void ExecuteBlockOfRun(int64_t run_id, const std::string& block) {
  PgCall([run_id] { RegisterRunWorker(run_id); });
  Run run;
  InTransaction([&] { run = LoadRunAsItStands(run_id); });
  if (!run.blocks.count(block))
    throw Error(sqlstate::kUndefinedObject, "run " + Num(run_id) + " has no block \"" + block + "\"");
  Error failure("00000", "");
  RunBlock(run, block, &failure);
}

}  // namespace pgpipe::pg
