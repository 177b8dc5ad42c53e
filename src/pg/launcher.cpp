// The launcher: see launcher.hpp.
//
// Loop: serve interrupts and config reloads; if the extension is installed in
// pipeline.database, (1) recover runs whose worker is gone, (2) prune old history now and then,
// (3) claim queued runs one at a time, each in a short transaction, while there is room, and
// start a run worker for each as the run's owner; then sleep on the latch, which backends set
// when they queue a run and workers set when they finish.
extern "C" {
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

PGDLLEXPORT void pipeline_launcher_main(Datum main_arg);
}

#include <chrono>
#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "core/pipeline_yaml.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/gucs.hpp"
#include "pg/launcher.hpp"
#include "pg/run_worker.hpp"
#include "pg/shmem.hpp"
#include "pg/spi.hpp"
#include "pg/txn.hpp"

namespace pgpipe::pg {

namespace {

using core::Error;

struct Launched {
  int64_t run_id;
  BackgroundWorkerHandle* handle;
};

std::string Num(int64_t n) { return std::to_string(n); }

void Log(const std::string& message) {
  const char* m = message.c_str();
  PgCall([m] { ereport(LOG, (errmsg("pg_pipeline launcher: %s", m))); });
}

// Drops the handles of workers that have exited.
void Reap(std::vector<Launched>& launched) {
  std::vector<Launched> alive;
  for (const auto& l : launched) {
    pid_t pid;
    BgwHandleStatus status = PgCall([&] { return GetBackgroundWorkerPid(l.handle, &pid); });
    if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED)
      PgCall([&] { pfree(l.handle); });
    else
      alive.push_back(l);
  }
  launched.swap(alive);
}

// Runs in state running whose worker is gone (killed, crashed, server restarted): each block
// that was running failed its attempt; with attempts left the run is queued again, else failed.
void RecoverOrphans(const std::vector<Launched>& launched) {
  std::string alive = "{";
  for (size_t i = 0; i < launched.size(); ++i) alive += (i ? "," : "") + Num(launched[i].run_id);
  alive += "}";
  std::vector<SqlRow> orphans;
  InTransaction([&] {
    orphans = SpiQuery(
        "SELECT r.run_id, v.yaml, p.project FROM pipeline.runs r "
        "JOIN pipeline.pipelines p USING (pipeline_id) "
        "JOIN pipeline.pipeline_versions v ON v.pipeline_id = r.pipeline_id AND v.version = r.version "
        "WHERE r.status = 'running' AND ("
        " (r.worker_pid IS NOT NULL AND NOT EXISTS (SELECT FROM pg_stat_activity a "
        "   WHERE a.pid = r.worker_pid AND a.backend_type = 'pg_pipeline run'))"
        " OR (r.worker_pid IS NULL AND r.run_id <> ALL ($1::bigint[]) "
        "   AND coalesce(r.claimed_at, r.started_at) < now() - interval '30 s'))",
        {alive});
  });
  for (const auto& row : orphans) {
    const std::string run_id = *row[0];
    try {
      InTransaction([&] {
        core::PipelineSpec spec = core::ParsePipelineYamlUnvalidated(*row[1]);
        ResolveSharedBlocks(spec, *row[2]);
        auto running = SpiQuery(
            "SELECT block_name, attempt FROM pipeline.block_runs WHERE run_id = $1::bigint AND status = 'running'",
            {run_id});
        bool requeue = true;
        for (const auto& b : running) {
          const core::BlockSpec* block = spec.FindBlock(*b[0]);
          int attempt = std::stoi(*b[1]);
          bool retry = block && attempt <= block->retry.retries;
          SpiExec("UPDATE pipeline.block_attempts SET status = 'failed', finished_at = clock_timestamp(), "
                  "error = 'the worker running this attempt died', sqlstate = '57P01' "
                  "WHERE run_id = $1::bigint AND block_name = $2 AND status = 'running'",
                  {run_id, *b[0]});
          SpiExec("UPDATE pipeline.block_runs SET status = $3, finished_at = clock_timestamp(), "
                  "error = 'the worker running this block died (crash, kill or server restart)', "
                  "sqlstate = '57P01', worker_pid = NULL WHERE run_id = $1::bigint AND block_name = $2",
                  {run_id, *b[0], retry ? "pending" : "failed"});
          SpiExec("INSERT INTO pipeline.run_log (run_id, block_name, level, message) VALUES ($1::bigint, $2, 'error', $3)",
                  {run_id, *b[0], "the worker died during attempt " + *b[1] +
                                      (retry ? "; the run is queued again" : "; no retries left")});
          if (!retry) requeue = false;
        }
        if (requeue) {
          // Crash recovery empties UNLOGGED tables: blocks whose output was staging run again.
          SpiExec("UPDATE pipeline.block_runs SET status = 'pending', output_relation = NULL "
                  "WHERE run_id = $1::bigint AND status = 'succeeded' AND output_relation LIKE 'pipeline_staging.%'",
                  {run_id});
          SpiExec("UPDATE pipeline.runs SET status = 'queued', worker_pid = NULL, claimed_at = NULL "
                  "WHERE run_id = $1::bigint", {run_id});
        } else {
          SpiExec("UPDATE pipeline.block_runs SET status = 'upstream_failed', finished_at = clock_timestamp() "
                  "WHERE run_id = $1::bigint AND status IN ('pending', 'queued')", {run_id});
          SpiExec("UPDATE pipeline.runs SET status = 'failed', finished_at = clock_timestamp(), worker_pid = NULL, "
                  "error = 'the worker running this run died and no retries were left', sqlstate = '57P01' "
                  "WHERE run_id = $1::bigint", {run_id});
        }
        SpiExec("SELECT pg_notify('pipeline_events', json_build_object('run_id', $1::bigint, 'status', $2, "
                "'reason', 'worker died')::text)", {run_id, requeue ? "queued" : "failed"});
      });
      Log("run " + run_id + " lost its worker; " + "recovered");
    } catch (const Error& e) {
      Log("could not recover run " + run_id + ": " + e.message());
    }
  }
}

// Deletes runs finished longer ago than pipeline.history_retention, dropping any staging left.
void PruneHistory() {
  if (guc.history_retention_s <= 0) return;
  InTransaction([&] {
    auto staging = SpiQuery(
        "SELECT br.output_relation FROM pipeline.block_runs br JOIN pipeline.runs r USING (run_id) "
        "WHERE r.finished_at < now() - make_interval(secs => $1::int) "
        "AND br.output_relation LIKE 'pipeline_staging.%' AND to_regclass(br.output_relation) IS NOT NULL",
        {Num(guc.history_retention_s)});
    // Only relations in pipeline_staging, whatever the (user-writable) column says; views too.
    for (const auto& s : staging) {
      SqlValue drop = SpiScalar(
          "SELECT format('DROP %s %s CASCADE', CASE relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, oid::regclass) "
          "FROM pg_class WHERE oid = to_regclass($1) AND relnamespace = 'pipeline_staging'::regnamespace "
          "AND relkind IN ('r', 'v')", {*s[0]});
      if (drop) SpiExec(*drop);
    }
    uint64_t n = SpiExec("DELETE FROM pipeline.runs WHERE finished_at < now() - make_interval(secs => $1::int)",
                         {Num(guc.history_retention_s)});
    if (n > 0) Log("pruned " + std::to_string(n) + " runs older than pipeline.history_retention");
  });
}

// Claims queued runs and starts their workers while pipeline.max_workers allows.
void StartQueuedRuns(std::vector<Launched>& launched) {
  while (static_cast<int>(launched.size()) < guc.max_workers) {
    SqlRow claimed;
    InTransaction([&] {
      auto rows = SpiQuery(
          "SELECT r.run_id, r.owner::oid FROM pipeline.runs r "
          "JOIN pipeline.pipeline_versions v ON v.pipeline_id = r.pipeline_id AND v.version = r.version "
          "WHERE r.status = 'queued' AND (SELECT count(*) FROM pipeline.runs a "
          "  WHERE a.pipeline_id = r.pipeline_id AND a.status = 'running') "
          "  < coalesce((v.spec -> 'settings' ->> 'max_active_runs')::int, 1) "
          "ORDER BY r.run_id LIMIT 1 FOR UPDATE OF r SKIP LOCKED");
      if (rows.empty()) return;
      claimed = rows[0];
      SpiExec("UPDATE pipeline.runs SET status = 'running', worker_pid = NULL, claimed_at = clock_timestamp(), "
              "started_at = coalesce(started_at, clock_timestamp()) WHERE run_id = $1::bigint", {*claimed[0]});
    });
    if (claimed.empty()) return;
    int64_t run_id = std::stoll(*claimed[0]);
    Oid owner = static_cast<Oid>(std::stoul(*claimed[1]));
    BackgroundWorkerHandle* handle = StartQueuedRunWorker(run_id, owner);
    if (handle == nullptr) {
      InTransaction([&] {
        SpiExec("UPDATE pipeline.runs SET status = 'queued', claimed_at = NULL WHERE run_id = $1::bigint",
                {Num(run_id)});
      });
      Log("no background worker slot for run " + Num(run_id) + " (max_worker_processes); it stays queued");
      return;
    }
    launched.push_back({run_id, handle});
  }
}

bool ExtensionInstalled() {
  bool installed = false;
  InTransaction([&] {
    installed = SpiScalar("SELECT 1 FROM pg_extension WHERE extname = 'pg_pipeline'").has_value();
  });
  return installed;
}

void LauncherLoop() {
  std::vector<Launched> launched;
  auto last_prune = std::chrono::steady_clock::now() - std::chrono::hours(1);
  for (;;) {
    bool reloaded = PgCall([] {
      CHECK_FOR_INTERRUPTS();
      if (!ConfigReloadPending) return false;
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
      return true;
    });
    if (reloaded) last_prune = std::chrono::steady_clock::now() - std::chrono::hours(1);  // new retention: prune now
    try {
      Reap(launched);
      if (ExtensionInstalled()) {
        RecoverOrphans(launched);
        if (std::chrono::steady_clock::now() - last_prune > std::chrono::minutes(10)) {
          PruneHistory();
          last_prune = std::chrono::steady_clock::now();
        }
        StartQueuedRuns(launched);
      }
      PgCall([] { pgstat_report_activity(STATE_IDLE, nullptr); });
    } catch (const Error& e) {
      if (e.sqlstate() == "57P01") throw;  // being terminated: let the worker exit
      Log(std::string("error: ") + e.message());
    }
    long naptime = guc.launcher_naptime_ms;
    PgCall([naptime] {
      int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, naptime,
                         PG_WAIT_EXTENSION);
      if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
    });
  }
}

}  // namespace

void RegisterLauncher() {
  BackgroundWorker worker;
  std::memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 5;
  std::snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_pipeline");
  std::snprintf(worker.bgw_function_name, BGW_MAXLEN, "pipeline_launcher_main");
  std::snprintf(worker.bgw_name, BGW_MAXLEN, "pg_pipeline launcher");
  std::snprintf(worker.bgw_type, BGW_MAXLEN, "pg_pipeline launcher");
  RegisterBackgroundWorker(&worker);
}

}  // namespace pgpipe::pg

// Entry point of the launcher.
void pipeline_launcher_main(Datum) {
  using namespace pgpipe::pg;
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(guc.database, nullptr, 0);
  pgstat_report_appname("pg_pipeline launcher");
  AdvertiseLauncher();
  CaughtError caught = {"XX000", "pg_pipeline launcher stopped", "", "", ""};
  try {
    LauncherLoop();
  } catch (...) {
    CatchInto(&caught);
  }
  RaiseCaught(caught);
}
