// The little shared state pg_pipeline keeps when preloaded: where the launcher's latch is, so a
// backend that queued a run can wake it at commit, and a finished worker can wake it too.
#pragma once

namespace pgpipe::pg {

// Asks for the shared memory and installs the startup hook; called from _PG_init when preloaded.
void RequestSharedState();

// Called by the launcher: this process's latch is the one to set.
void AdvertiseLauncher();

// Wakes the launcher now (no-op when it does not run).
void WakeLauncher();

// Wakes the launcher when the current transaction commits (queued runs become visible then).
void WakeLauncherAtCommit();

// True when the launcher is running.
bool LauncherRunning();

// Records, until this process exits, that it executes (part of) run `run_id`: pipeline.cancel
// signals exactly the processes recorded here, never a pid read from a user-writable row.
void RegisterRunWorker(long long run_id);

// Marks every process recorded for `run_id` as cancelled by a user and sends it SIGTERM;
// returns how many, or -1 when there is no shared state (pg_pipeline not preloaded).
int SignalRunWorkers(long long run_id);

// Whether this worker's SIGTERM came from a cancel (SignalRunWorkers) rather than from a server
// shutdown. Without shared state every SIGTERM counts as a cancel.
bool CancelRequestedForMe();

}  // namespace pgpipe::pg
