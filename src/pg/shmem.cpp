// Shared state: see shmem.hpp. One spinlock-protected struct; backends read the launcher's
// process number and set its latch. The launcher clears it on exit.
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
}

#include <signal.h>

#include "pg/shmem.hpp"

namespace pgpipe::pg {

namespace {

constexpr int kMaxRunWorkers = 1024;  // above any sane max_worker_processes

struct RunWorker {
  pid_t pid;  // 0: free
  int64 run_id;
  bool cancel;  // a user cancelled the run (not a shutdown)
};

struct SharedState {
  slock_t mutex;
  int launcher_pgprocno;  // -1 when no launcher runs
  pid_t launcher_pid;
  RunWorker workers[kMaxRunWorkers];
};

SharedState* shared = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;
bool wake_registered = false;
bool wake_pending = false;

void ShmemRequest() {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
}

void ShmemStartup() {
  if (prev_shmem_startup) prev_shmem_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  shared = static_cast<SharedState*>(ShmemInitStruct("pg_pipeline", sizeof(SharedState), &found));
  if (!found) {
    SpinLockInit(&shared->mutex);
    shared->launcher_pgprocno = -1;
    shared->launcher_pid = 0;
    for (auto& w : shared->workers) w = RunWorker{0, 0, false};
  }
  LWLockRelease(AddinShmemInitLock);
}

void ForgetLauncher(int, Datum) {
  SpinLockAcquire(&shared->mutex);
  shared->launcher_pgprocno = -1;
  shared->launcher_pid = 0;
  SpinLockRelease(&shared->mutex);
}

void ForgetRunWorker(int, Datum) {
  SpinLockAcquire(&shared->mutex);
  for (auto& w : shared->workers)
    if (w.pid == MyProcPid) w = RunWorker{0, 0, false};
  SpinLockRelease(&shared->mutex);
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
  SpinLockAcquire(&shared->mutex);
  shared->launcher_pgprocno = MyProc->pgprocno;
  shared->launcher_pid = MyProcPid;
  SpinLockRelease(&shared->mutex);
  before_shmem_exit(ForgetLauncher, 0);
}

void WakeLauncher() {
  if (!shared) return;
  SpinLockAcquire(&shared->mutex);
  int procno = shared->launcher_pgprocno;
  SpinLockRelease(&shared->mutex);
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
  SpinLockAcquire(&shared->mutex);
  bool running = shared->launcher_pgprocno >= 0;
  SpinLockRelease(&shared->mutex);
  return running;
}

}  // namespace pgpipe::pg

namespace pgpipe::pg {

void RegisterRunWorker(long long run_id) {
  if (!shared) return;
  bool first = true;
  SpinLockAcquire(&shared->mutex);
  for (auto& w : shared->workers) {
    if (w.pid == MyProcPid) first = false;
  }
  bool stored = false;
  for (auto& w : shared->workers) {
    if (w.pid == 0 || w.pid == MyProcPid) {
      w = RunWorker{MyProcPid, static_cast<int64>(run_id), false};
      stored = true;
      break;
    }
  }
  SpinLockRelease(&shared->mutex);
  if (!stored)
    ereport(WARNING, (errmsg("pg_pipeline: no room to record the worker of run %lld; pipeline.cancel cannot stop it",
                             run_id)));
  if (first) before_shmem_exit(ForgetRunWorker, 0);
}

int SignalRunWorkers(long long run_id) {
  if (!shared) return -1;
  pid_t pids[kMaxRunWorkers];
  int n = 0;
  SpinLockAcquire(&shared->mutex);
  for (auto& w : shared->workers) {
    if (w.pid != 0 && w.run_id == run_id) {
      w.cancel = true;
      pids[n++] = w.pid;
    }
  }
  SpinLockRelease(&shared->mutex);
  for (int i = 0; i < n; ++i) kill(pids[i], SIGTERM);
  return n;
}

}  // namespace pgpipe::pg

namespace pgpipe::pg {

bool CancelRequestedForMe() {
  if (!shared) return true;
  bool cancel = false;
  SpinLockAcquire(&shared->mutex);
  for (const auto& w : shared->workers)
    if (w.pid == MyProcPid) cancel = w.cancel;
  SpinLockRelease(&shared->mutex);
  return cancel;
}

}  // namespace pgpipe::pg
