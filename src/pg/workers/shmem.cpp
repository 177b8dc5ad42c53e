// Shared state: see shmem.hpp. One struct under one LWLock of our own tranche; the run-worker
// table has a slot per possible background worker (max_worker_processes), so a scan is short.
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/bgworker_internals.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
}

#include <signal.h>

#include "pg/workers/shmem.hpp"

namespace pgpipe::pg {

namespace {

struct RunWorker {
  pid_t pid;  // 0: free
  int64 run_id;
  bool cancel;  // a user cancelled the run
};

struct SharedState {
  LWLock* lock;
  int launcher_pgprocno;  // -1 when no launcher runs
  int slots;
  RunWorker workers[FLEXIBLE_ARRAY_MEMBER];
};

SharedState* shared = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;
bool wake_registered = false;
bool wake_pending = false;

Size SharedSize() { return add_size(offsetof(SharedState, workers), mul_size(max_worker_processes, sizeof(RunWorker))); }

void ShmemRequest() {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(MAXALIGN(SharedSize()));
  RequestNamedLWLockTranche("pg_pipeline", 1);
}

void ShmemStartup() {
  if (prev_shmem_startup) prev_shmem_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  shared = static_cast<SharedState*>(ShmemInitStruct("pg_pipeline", SharedSize(), &found));
  if (!found) {
    shared->lock = &(GetNamedLWLockTranche("pg_pipeline"))->lock;
    shared->launcher_pgprocno = -1;
    shared->slots = max_worker_processes;
    for (int i = 0; i < shared->slots; ++i) shared->workers[i] = RunWorker{0, 0, false};
  }
  LWLockRelease(AddinShmemInitLock);
}

void ForgetLauncher(int, Datum) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  shared->launcher_pgprocno = -1;
  LWLockRelease(shared->lock);
}

void ForgetRunWorker(int, Datum) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  for (int i = 0; i < shared->slots; ++i)
    if (shared->workers[i].pid == MyProcPid) shared->workers[i] = RunWorker{0, 0, false};
  LWLockRelease(shared->lock);
}

void AtCommit(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT && wake_pending) WakeLauncher();
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) wake_pending = false;
}

}  // namespace

void RequestSharedState() {
  prev_shmem_request = shmem_request_hook;
  shmem_request_hook = ShmemRequest;
  prev_shmem_startup = shmem_startup_hook;
  shmem_startup_hook = ShmemStartup;
}

void AdvertiseLauncher() {
  if (!shared) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  shared->launcher_pgprocno = MyProc->pgprocno;
  LWLockRelease(shared->lock);
  before_shmem_exit(ForgetLauncher, 0);
}

void WakeLauncher() {
  if (!shared) return;
  LWLockAcquire(shared->lock, LW_SHARED);
  int procno = shared->launcher_pgprocno;
  LWLockRelease(shared->lock);
  if (procno >= 0) SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

void WakeLauncherAtCommit() {
  if (!wake_registered) {
    RegisterXactCallback(AtCommit, nullptr);
    wake_registered = true;
  }
  wake_pending = true;
}

bool LauncherRunning() {
  if (!shared) return false;
  LWLockAcquire(shared->lock, LW_SHARED);
  bool running = shared->launcher_pgprocno >= 0;
  LWLockRelease(shared->lock);
  return running;
}

void RegisterRunWorker(long long run_id) {
  if (!shared) return;
  bool first = true, stored = false;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  for (int i = 0; i < shared->slots; ++i)
    if (shared->workers[i].pid == MyProcPid) first = false;
  for (int i = 0; i < shared->slots && !stored; ++i) {
    RunWorker& w = shared->workers[i];
    if (w.pid == 0 || w.pid == MyProcPid) {
      w = RunWorker{MyProcPid, static_cast<int64>(run_id), false};
      stored = true;
    }
  }
  LWLockRelease(shared->lock);
  if (!stored)
    ereport(WARNING, (errmsg("pg_pipeline: no room to record the worker of run %lld; pipeline.cancel cannot stop it",
                             run_id)));
  if (first) before_shmem_exit(ForgetRunWorker, 0);
}

int SignalRunWorkers(long long run_id) {
  if (!shared) return -1;
  int n = 0;
  pid_t* pids = static_cast<pid_t*>(palloc(sizeof(pid_t) * shared->slots));
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  for (int i = 0; i < shared->slots; ++i) {
    RunWorker& w = shared->workers[i];
    if (w.pid != 0 && w.run_id == run_id) {
      w.cancel = true;
      pids[n++] = w.pid;
    }
  }
  LWLockRelease(shared->lock);
  for (int i = 0; i < n; ++i) kill(pids[i], SIGINT);
  pfree(pids);
  return n;
}

bool CancelRequestedForMe() {
  if (!shared) return false;
  bool cancel = false;
  LWLockAcquire(shared->lock, LW_SHARED);
  for (int i = 0; i < shared->slots; ++i)
    if (shared->workers[i].pid == MyProcPid) cancel = shared->workers[i].cancel;
  LWLockRelease(shared->lock);
  return cancel;
}

}  // namespace pgpipe::pg
