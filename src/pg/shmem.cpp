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

#include "pg/shmem.hpp"

namespace pgpipe::pg {

namespace {

struct SharedState {
  slock_t mutex;
  int launcher_pgprocno;  // -1 when no launcher runs
  pid_t launcher_pid;
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
  }
  LWLockRelease(AddinShmemInitLock);
}

void ForgetLauncher(int, Datum) {
  SpinLockAcquire(&shared->mutex);
  shared->launcher_pgprocno = -1;
  shared->launcher_pid = 0;
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
