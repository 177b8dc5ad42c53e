// Run workers: see run_worker.hpp.
//
// Hand-off for pipeline.run: the caller creates a dynamic shared memory segment holding a
// RunSlot (what to run, and room for the outcome), registers a dynamic background worker with
// the segment's handle as its argument, and waits for the worker to exit (its exit sets the
// caller's latch). The worker attaches, connects as the caller's role, creates and executes the
// run, writes the outcome into the slot and exits. If the caller is cancelled while waiting, it
// cancels the run's workers (SIGINT) and waits for them: the running block stops and the run
// ends cancelled.
extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/wait_event.h"

PGDLLEXPORT void pipeline_run_worker_main(Datum main_arg);
PGDLLEXPORT void pipeline_queued_run_main(Datum main_arg);
PGDLLEXPORT void pipeline_block_worker_main(Datum main_arg);
}

#include <cstring>

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/run/context.hpp"
#include "pg/run/create.hpp"
#include "pg/run/scheduler.hpp"
#include "pg/txn.hpp"
#include "pg/wait.hpp"
#include "pg/workers/run_worker.hpp"
#include "pg/workers/shmem.hpp"

namespace pgpipe::pg {

namespace {

// What to run and, when done, how it went; lives in a DSM segment shared with the worker.
struct RunSlot {
  Oid database;
  Oid role;
  bool login;  // the role may log in: the worker connects as it
  char project[NAMEDATALEN];
  char pipeline[NAMEDATALEN];
  int64 run_id;       // set by the worker as soon as the run exists
  volatile bool cancel;  // set by the caller before it sends SIGINT: a cancel, not a timeout
  int status;         // 0 not finished, else a RunStatus
  bool started_run;   // false: the worker failed before creating a run
  CaughtError error;  // the failing block's error, for a failed run
  char variables[FLEXIBLE_ARRAY_MEMBER];
};

// What the launcher hands a queued-run worker, and a run's worker a block worker, in bgw_extra.
struct QueuedRun {
  Oid database;
  Oid role;
  bool login;
  char block[NAMEDATALEN];  // block workers only
};

// SIGTERM: the server shuts down (or an administrator terminated the worker): the running
// statement is cancelled, and the run goes back to the queue.
void HandleSigterm(SIGNAL_ARGS) {
  int save_errno = errno;
  g_shutdown_requested = 1;
  InterruptPending = true;
  QueryCancelPending = true;
  SetLatch(MyLatch);
  errno = save_errno;
}

// Whether `role` may log in (a worker can then connect as it). The launcher and a run's
// worker start workers between transactions: the catalog is read in one of its own then.
bool CanLogin(Oid role) {
  auto lookup = [role] {
    return PgCall([role] {
      HeapTuple tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
      if (!HeapTupleIsValid(tuple)) return false;
      bool login = ((Form_pg_authid)GETSTRUCT(tuple))->rolcanlogin;
      ReleaseSysCache(tuple);
      return login;
    });
  };
  if (PgCall([] { return IsTransactionState(); })) return lookup();
  bool login = false;
  InTransaction([&] { login = lookup(); });
  return login;
}

// Fills the fields every run worker shares.
void DescribeWorker(BackgroundWorker* worker, const char* function, const std::string& name) {
  std::memset(worker, 0, sizeof *worker);
  worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker->bgw_restart_time = BGW_NEVER_RESTART;
  std::snprintf(worker->bgw_library_name, BGW_MAXLEN, "pg_pipeline");
  std::snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
  std::snprintf(worker->bgw_name, BGW_MAXLEN, "%s", name.c_str());
  std::snprintf(worker->bgw_type, BGW_MAXLEN, "pg_pipeline run");
  worker->bgw_notify_pid = MyProcPid;
}

// Creates and executes the run described by the slot, filling in its outcome.
void RunFromSlot(RunSlot* slot) {
  NewRun request;
  request.project = slot->project;
  request.name = slot->pipeline;
  request.variables_json = slot->variables;
  request.trigger = "manual";
  request.running = true;
  InTransaction([&] { slot->run_id = CreateRun(request); });
  slot->started_run = true;
  RunOutcome outcome = ExecuteRun(slot->run_id);
  if (outcome.status != RunStatus::kSucceeded) {
    try {
      throw outcome.error;
    } catch (...) {
      CatchInto(&slot->error);
    }
  }
  slot->status = static_cast<int>(outcome.status);
}

// True when process `pid` waits for a lock that this backend holds. pg_blocking_pids takes every
// lock-manager partition lock, so it is asked only of a worker that waits on a heavyweight lock.
bool BlockedByMe(pid_t pid) {
  return PgCall([pid] {
    PGPROC* proc = BackendPidGetProc(pid);
    if (proc == nullptr || (proc->wait_event_info & 0xFF000000) != PG_WAIT_LOCK) return false;
    ArrayType* blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids, Int32GetDatum(pid)));
    Datum* items;
    int count;
    deconstruct_array(blockers, INT4OID, sizeof(int32), true, TYPALIGN_INT, &items, nullptr, &count);
    for (int i = 0; i < count; ++i)
      if (DatumGetInt32(items[i]) == MyProcPid) return true;
    return false;
  });
}

// Waits until the worker exits (its exit sets our latch), serving interrupts. A worker waiting
// for a lock of the caller's own transaction would wait forever (a deadlock the lock manager
// cannot see): that is an error.
void WaitForWorker(BackgroundWorkerHandle* handle) {
  for (;;) {
    pid_t pid = 0;
    BgwHandleStatus status = PgCall([&] { return GetBackgroundWorkerPid(handle, &pid); });
    if (status == BGWH_STOPPED) return;
    if (status == BGWH_POSTMASTER_DIED)
      throw core::Error("57P01", "the server is shutting down while a run was executing");
    if (status == BGWH_STARTED && BlockedByMe(pid))
      throw core::Error("40P01", "pipeline.run cannot finish: its worker waits for a lock this transaction holds",
                        "Runs execute in a background worker, in a transaction of their own.",
                        "Commit what this transaction changed (for example the pipeline's "
                        "registration, or the target tables) before running the pipeline.");
    WaitOnLatch(1000);
  }
}

// Starts a worker for run `run_id` as `owner`: the whole run (block empty) or one block of it.
BackgroundWorkerHandle* StartWorkerFor(int64_t run_id, Oid owner, const std::string& block) {
  BackgroundWorker worker;
  std::string name = "pg_pipeline run " + std::to_string(run_id) + (block.empty() ? "" : " block " + block);
  DescribeWorker(&worker, block.empty() ? "pipeline_queued_run_main" : "pipeline_block_worker_main", name);
  worker.bgw_main_arg = Int64GetDatum(run_id);
  QueuedRun extra = {MyDatabaseId, owner, CanLogin(owner), ""};
  static_assert(sizeof extra <= BGW_EXTRALEN, "bgw_extra too small");
  std::snprintf(extra.block, sizeof extra.block, "%s", block.c_str());
  std::memcpy(worker.bgw_extra, &extra, sizeof extra);
  BackgroundWorkerHandle* handle = nullptr;
  bool ok = PgCall([&] { return RegisterDynamicBackgroundWorker(&worker, &handle); });
  return ok ? handle : nullptr;
}

}  // namespace

int64_t RunInWorker(const std::string& project, const std::string& name, const std::string& variables_json) {
  if (project.size() >= NAMEDATALEN || name.size() >= NAMEDATALEN)
    throw core::Error(core::sqlstate::kInvalidName, "pipeline or project name is too long");
  const Size size = offsetof(RunSlot, variables) + variables_json.size() + 1;
  dsm_segment* segment = PgCall([size] { return dsm_create(size, 0); });
  RunSlot* slot = static_cast<RunSlot*>(dsm_segment_address(segment));
  std::memset(slot, 0, size);
  slot->database = MyDatabaseId;
  slot->role = PgCall([] { return GetUserId(); });
  slot->login = CanLogin(slot->role);
  std::snprintf(slot->project, sizeof slot->project, "%s", project.c_str());
  std::snprintf(slot->pipeline, sizeof slot->pipeline, "%s", name.c_str());
  std::memcpy(slot->variables, variables_json.c_str(), variables_json.size() + 1);

  BackgroundWorker worker;
  DescribeWorker(&worker, "pipeline_run_worker_main", "pg_pipeline run of " + name);
  worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
  BackgroundWorkerHandle* handle = nullptr;
  bool registered = PgCall([&] { return RegisterDynamicBackgroundWorker(&worker, &handle); });
  if (!registered)
    throw core::Error("53400", "could not start a background worker to run pipeline \"" + name + "\"",
                      "All max_worker_processes slots are in use.",
                      "Raise max_worker_processes, or wait for other runs to finish.");
  try {
    WaitForWorker(handle);
  } catch (const core::Error&) {
    // Cancelled, terminated, or deadlocked with the worker: stop the run too, as a cancel.
    int64 run_id_now = slot->run_id;
    pid_t pid = 0;
    slot->cancel = true;
    PgCall([&] {
      QueryCancelPending = false;  // our own cancel is being handled here
      if (run_id_now <= 0 || SignalRunWorkers(run_id_now) <= 0) {
        if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STARTED) kill(pid, SIGINT);
      }
      WaitForBackgroundWorkerShutdown(handle);
    });
    throw;
  }
  int64_t run_id = slot->run_id;
  int status = slot->status;
  CaughtError error = slot->error;
  bool started = slot->started_run;
  PgCall([&] { dsm_detach(segment); });
  if (status == static_cast<int>(RunStatus::kSucceeded)) return run_id;
  if (status == 0 && !started)
    throw core::Error(core::sqlstate::kInternalError,
                      "the worker running pipeline \"" + name + "\" exited without a result", "",
                      "See the server log.");
  if (error.sqlstate[0] == '\0') std::snprintf(error.sqlstate, sizeof error.sqlstate, "XX000");
  std::string context = error.context;
  if (started)
    context += std::string(context.empty() ? "" : "\n") + "run " + std::to_string(run_id) + " of pipeline \"" + name + "\"";
  throw core::Error(error.sqlstate, error.message, error.detail, error.hint, context);
}

bool RoleCanLogin(unsigned int role) { return CanLogin(role); }

void ConnectAs(unsigned int database, unsigned int role, bool login) {
  // (SIGINT stays Postgres's StatementCancelHandler: see CancelRequested for what it means)
  pqsignal(SIGTERM, HandleSigterm);
  BackgroundWorkerUnblockSignals();
  if (login) {
    BackgroundWorkerInitializeConnectionByOid(database, role, 0);
  } else {
    BackgroundWorkerInitializeConnectionByOid(database, BOOTSTRAP_SUPERUSERID, 0);
    SetUserIdAndSecContext(role, SECURITY_LOCAL_USERID_CHANGE);
  }
  pgstat_report_appname("pg_pipeline");
}

BackgroundWorkerHandle* StartLoadWorker(unsigned int segment, int index, const std::string& name) {
  BackgroundWorker worker;
  DescribeWorker(&worker, "pipeline_load_worker_main", name);
  std::snprintf(worker.bgw_type, BGW_MAXLEN, "pg_pipeline load");
  worker.bgw_main_arg = UInt32GetDatum(segment);
  static_assert(sizeof index <= BGW_EXTRALEN, "bgw_extra too small");
  std::memcpy(worker.bgw_extra, &index, sizeof index);
  BackgroundWorkerHandle* handle = nullptr;
  bool ok = PgCall([&] { return RegisterDynamicBackgroundWorker(&worker, &handle); });
  return ok ? handle : nullptr;
}

BackgroundWorkerHandle* StartQueuedRunWorker(int64_t run_id, unsigned int owner) {
  return StartWorkerFor(run_id, owner, "");
}

BackgroundWorkerHandle* StartBlockWorker(int64_t run_id, const std::string& block, unsigned int owner) {
  return StartWorkerFor(run_id, owner, block);
}

}  // namespace pgpipe::pg

// Entry point of a block worker: one block of a run, for the run's worker.
void pipeline_block_worker_main(Datum main_arg) {
  using namespace pgpipe::pg;
  QueuedRun extra;
  std::memcpy(&extra, MyBgworkerEntry->bgw_extra, sizeof extra);
  CurrentResourceOwner = ResourceOwnerCreate(nullptr, "pg_pipeline block worker");
  ConnectAs(extra.database, extra.role, extra.login);
  CaughtError caught;
  bool failed = false;
  try {
    ExecuteBlockOfRun(DatumGetInt64(main_arg), extra.block);
  } catch (...) {
    CatchInto(&caught);
    failed = true;
  }
  if (failed) RaiseCaught(caught);
  proc_exit(0);
}

// Entry point of a worker the launcher started for a queued run.
void pipeline_queued_run_main(Datum main_arg) {
  using namespace pgpipe::pg;
  QueuedRun extra;
  std::memcpy(&extra, MyBgworkerEntry->bgw_extra, sizeof extra);
  CurrentResourceOwner = ResourceOwnerCreate(nullptr, "pg_pipeline run worker");
  ConnectAs(extra.database, extra.role, extra.login);
  CaughtError caught;
  bool failed = false;
  try {
    ExecuteRun(DatumGetInt64(main_arg));  // records its own outcome
  } catch (...) {
    CatchInto(&caught);
    failed = true;
  }
  WakeLauncher();  // a slot is free
  if (failed) RaiseCaught(caught);
  proc_exit(0);
}

// Entry point of a run worker: the argument is the handle of the caller's RunSlot segment.
void pipeline_run_worker_main(Datum main_arg) {
  using namespace pgpipe::pg;
  CurrentResourceOwner = ResourceOwnerCreate(nullptr, "pg_pipeline run worker");
  dsm_segment* segment = dsm_attach(DatumGetUInt32(main_arg));
  if (segment == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("pg_pipeline run worker could not attach to its shared memory")));
  dsm_pin_mapping(segment);
  RunSlot* slot = static_cast<RunSlot*>(dsm_segment_address(segment));
  g_cancel_flag = &slot->cancel;
  ConnectAs(slot->database, slot->role, slot->login);
  CaughtError caught;
  bool failed = false;
  try {
    RunFromSlot(slot);
  } catch (...) {
    CatchInto(&caught);
    failed = true;
  }
  if (failed) {
    slot->error = caught;
    slot->status = static_cast<int>(RunStatus::kFailed);
  }
  g_cancel_flag = nullptr;
  dsm_detach(segment);
  WakeLauncher();  // its run no longer counts against max_active_runs
  proc_exit(0);
}
