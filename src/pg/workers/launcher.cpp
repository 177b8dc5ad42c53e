// The launcher: see launcher.hpp.
//
// Loop: serve interrupts and config reloads; if the extension is installed in
// pipeline.database, (1) recover runs whose worker is gone, (2) now and then drop expired
// staging and prune old history, (3) claim queued runs one at a time, each in a short
// transaction, while there is room, and start a run worker for each as the run's owner; once,
// when it starts, queue the runs owed for schedule firings missed while it was down; then
// sleep on the latch, which backends set when they queue a run and workers when they finish.
//
// It runs as the bootstrap superuser, so it treats every catalog value as input to check, never
// as an instruction: each run is handled in its own transaction, and a run it cannot handle
// (its role is gone, its spec is damaged) fails alone, with the reason, while the loop goes on.
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
#include "pg/boundary.hpp"
#include "pg/catalog/registry.hpp"
#include "pg/catalog/schedules.hpp"
#include "pg/gucs.hpp"
#include "pg/privilege.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/state.hpp"
#include "pg/spi.hpp"
#include "pg/txn.hpp"
#include "pg/wait.hpp"
#include "pg/workers/launcher.hpp"
#include "pg/workers/run_worker.hpp"
#include "pg/workers/shmem.hpp"

namespace pgpipe::pg {

namespace {

using core::Error;

struct Launched {
  int64_t run_id;
  BackgroundWorkerHandle* handle;
};

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

// Fails a run the launcher cannot start or recover, with the reason; its unfinished blocks are
// marked as not run.
void FailRun(int64_t run_id, const std::string& reason, const char* sqlstate) {
  for (const auto& row : SpiQuery("SELECT block_name, status FROM pipeline.block_runs WHERE run_id = $1::bigint "
                                  "AND status IN ('pending', 'running')", {Num(run_id)})) {
    if (*row[1] == "running") {
      BlockChange why;
      why.error = reason;
      why.sqlstate = sqlstate;
      MoveBlock(run_id, *row[0], core::BlockEvent::kFail, why);
    } else {
      MoveBlock(run_id, *row[0], core::BlockEvent::kBlock);
    }
  }
  RunChange why{reason, sqlstate, false};
  MoveRun(run_id, core::RunEvent::kFail, why);
  WriteLog(run_id, "", {"error", reason});
}

// One run whose worker is gone: each block that was running failed its attempt; with attempts
// left (and recoveries left) the run is queued again, else it fails, saying why.
void RecoverOrphan(int64_t run_id, int64_t pipeline_id, int version, int recoveries) {
  core::PipelineSpec spec = LoadVersionSpec(pipeline_id, version);
  bool requeue = recoveries < guc.max_recoveries;
  std::string why = "its worker died " + std::to_string(recoveries + 1) + " times; it is not queued again "
                    "(pipeline.max_recoveries is " + std::to_string(guc.max_recoveries) + ")";
  for (const auto& b : SpiQuery("SELECT block_name, attempt FROM pipeline.block_runs "
                                "WHERE run_id = $1::bigint AND status = 'running'", {Num(run_id)})) {
    const core::BlockSpec* block = spec.FindBlock(*b[0]);
    int attempt = std::stoi(*b[1]);
    bool retry = block && attempt <= block->retry.retries;
    SpiExec("UPDATE pipeline.block_attempts SET status = 'failed', finished_at = clock_timestamp(), "
            "error = 'the worker running this attempt died', sqlstate = '57P01', note = $3 "
            "WHERE run_id = $1::bigint AND block_name = $2 AND status = 'running'",
            {Num(run_id), *b[0], retry && requeue ? "retried when the run resumes" : "no retries left"});
    WriteLog(run_id, *b[0], {"error", "the worker died during attempt " + *b[1] +
                                          (retry ? "; the run is queued again" : "; no retries left")});
    // A load split across workers commits its relation before loading it: half-loaded, drop it.
    DropLeftoverStaging(run_id, *b[0]);
    if (!retry) {
      requeue = false;
      why = "the worker running block \"" + *b[0] + "\" died and it had no retries left";
    }
  }
  if (requeue) {
    RunChange change;
    change.recovered = true;
    MoveRun(run_id, core::RunEvent::kRequeue, change);
  } else {
    FailRun(run_id, why, "57P01");
  }
}

// Runs in state running whose worker is gone (killed, crashed, server restarted), or claimed
// but never started: recovered one by one, each in its own transaction.
void RecoverOrphans(const std::vector<Launched>& launched) {
  std::string alive = "{";
  for (size_t i = 0; i < launched.size(); ++i) alive += (i ? "," : "") + Num(launched[i].run_id);
  alive += "}";
  std::vector<SqlRow> orphans;
  InTransaction([&] {
    orphans = SpiQuery(
        "SELECT r.run_id, r.pipeline_id, r.version, r.recoveries FROM pipeline.runs r "
        "WHERE r.status = 'running' AND r.run_id <> ALL ($1::bigint[]) AND ("
        " (r.worker_pid IS NOT NULL AND NOT EXISTS (SELECT FROM pg_stat_activity a "
        "   WHERE a.pid = r.worker_pid AND a.backend_type = 'pg_pipeline run'))"
        " OR (r.worker_pid IS NULL AND coalesce(r.claimed_at, r.started_at, r.created_at) < now() - interval '30 s'))",
        {alive});
  });
  for (const auto& row : orphans) {
    const int64_t run_id = std::stoll(*row[0]);
    try {
      InTransaction([&] { RecoverOrphan(run_id, std::stoll(*row[1]), std::stoi(*row[2]), std::stoi(*row[3])); });
      Log("run " + Num(run_id) + " lost its worker; recovered");
    } catch (const Error& e) {
      // Its spec cannot be read, or the like: it fails alone.
      try {
        InTransaction([&] { FailRun(run_id, std::string("could not recover the run: ") + e.message(), "XX000"); });
      } catch (const Error&) {
      }
      Log("could not recover run " + Num(run_id) + ": " + e.message());
    }
  }
}

// Drops staging kept past pipeline.staging_retention, and deletes runs finished longer ago than
// pipeline.history_retention with what they left.
void PruneHistory() {
  InTransaction([&] { DropExpiredStaging(guc.staging_retention_s, std::nullopt); });
  if (guc.history_retention_s <= 0) return;
  InTransaction([&] {
    std::vector<int64_t> old;
    for (const auto& row : SpiQuery("SELECT run_id FROM pipeline.runs "
                                    "WHERE finished_at < now() - make_interval(secs => $1::int)",
                                    {Num(guc.history_retention_s)}))
      old.push_back(std::stoll(*row[0]));
    if (old.empty()) return;
    DropStagingOfRuns(old);
    uint64_t n = SpiExec("DELETE FROM pipeline.runs WHERE finished_at < now() - make_interval(secs => $1::int) "
                         "AND NOT EXISTS (SELECT FROM pipeline.staging s WHERE s.run_id = runs.run_id)",
                         {Num(guc.history_retention_s)});
    if (n > 0) Log("pruned " + std::to_string(n) + " runs older than pipeline.history_retention");
  });
}

// Claims the next queued run that may start (its pipeline below max_active_runs), or returns
// false. The run's role must still exist; a run whose role is gone fails here.
bool ClaimNext(int64_t* run_id, Oid* owner) {
  bool claimed = false;
  InTransaction([&] {
    auto rows = SpiQuery(
        "SELECT r.run_id, r.owner::oid, EXISTS (SELECT FROM pg_catalog.pg_roles o WHERE o.oid = r.owner::oid) "
        "FROM pipeline.runs r "
        "JOIN pipeline.pipeline_versions v ON v.pipeline_id = r.pipeline_id AND v.version = r.version "
        "WHERE r.status = 'queued' AND (SELECT count(*) FROM pipeline.runs a "
        "  WHERE a.pipeline_id = r.pipeline_id AND a.status = 'running') "
        // (a number from our own JSON; read defensively all the same)
        "  < CASE WHEN jsonb_typeof(v.spec -> 'settings' -> 'max_active_runs') = 'number' "
        "         THEN least(greatest((v.spec -> 'settings' ->> 'max_active_runs')::numeric, 1), 1000000) ELSE 1 END "
        "ORDER BY r.run_id LIMIT 1 FOR UPDATE OF r SKIP LOCKED");
    if (rows.empty()) return;
    *run_id = std::stoll(*rows[0][0]);
    *owner = static_cast<Oid>(std::stoul(*rows[0][1]));
    if (rows[0][2] != SqlValue("t")) {
      FailRun(*run_id, "the role that queued the run no longer exists", "42704");
      claimed = true;
      *owner = InvalidOid;
      return;
    }
    claimed = MoveRun(*run_id, core::RunEvent::kClaim).has_value();
  });
  return claimed;
}

// Claims queued runs and starts their workers while pipeline.max_workers allows.
void StartQueuedRuns(std::vector<Launched>& launched) {
  while (static_cast<int>(launched.size()) < guc.max_workers) {
    int64_t run_id = 0;
    Oid owner = InvalidOid;
    if (!ClaimNext(&run_id, &owner)) return;
    if (!OidIsValid(owner)) continue;
    BackgroundWorkerHandle* handle = StartQueuedRunWorker(run_id, owner);
    if (handle == nullptr) {
      InTransaction([&] { MoveRun(run_id, core::RunEvent::kRequeue); });
      Log("no background worker slot for run " + Num(run_id) + " (max_worker_processes); it stays queued");
      return;
    }
    launched.push_back({run_id, handle});
  }
}

// Runs owed for schedule firings missed while the launcher was down (see CatchUpSchedule),
// each schedule in its own transaction.
void CatchUp() {
  std::vector<int64_t> ids;
  InTransaction([&] { ids = SchedulesToCatchUp(); });
  for (int64_t id : ids) {
    try {
      int queued = 0;
      InTransaction([&] { queued = CatchUpSchedule(id); });
      if (queued > 0) Log("schedule " + Num(id) + " caught up: queued " + std::to_string(queued) + " missed firing(s)");
    } catch (const Error& e) {
      Log("schedule " + Num(id) + " could not catch up: " + e.message());
    }
  }
}

bool ExtensionInstalled() {
  bool installed = false;
  InTransaction([&] { installed = SpiScalar("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_pipeline'").has_value(); });
  return installed;
}

void LauncherLoop() {
  std::vector<Launched> launched;
  auto last_prune = std::chrono::steady_clock::now() - std::chrono::hours(1);
  bool caught_up = false;
  for (;;) {
    bool reloaded = PgCall([] {
      CHECK_FOR_INTERRUPTS();
      if (!ConfigReloadPending) return false;
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
      return true;
    });
    if (reloaded) {
      last_prune = std::chrono::steady_clock::now() - std::chrono::hours(1);  // new retention: prune now
      // (what it works with from now on; bench/backfill_bench.sh waits for this line)
      Log("configuration reloaded: pipeline.max_workers = " + std::to_string(guc.max_workers));
    }
    try {
      Reap(launched);
      if (ExtensionInstalled()) {
        RecoverOrphans(launched);
        if (!caught_up) {
          CatchUp();
          caught_up = true;
        }
        if (std::chrono::steady_clock::now() - last_prune > std::chrono::minutes(10)) {
          PruneHistory();
          last_prune = std::chrono::steady_clock::now();
        }
        StartQueuedRuns(launched);
      }
      PgCall([] { pgstat_report_activity(STATE_IDLE, nullptr); });
    } catch (const Error& e) {
      Log(std::string("error: ") + e.message());
    }
    WaitOnLatch(guc.launcher_naptime_ms);
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
  // Its own SQL only, under a path no user object is on.
  SetConfigOption("search_path", "pg_catalog, pipeline, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
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
