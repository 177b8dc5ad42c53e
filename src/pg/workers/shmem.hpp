// The little shared state pg_pipeline keeps when preloaded: where the launcher's latch is (a
// backend that queued a run wakes it at commit, a finished worker wakes it too), and which
// processes execute which run, so pipeline.cancel signals exactly those and never a pid read
// from a catalog row.
#pragma once

namespace pgpipe::pg {

// Asks for the shared memory (and its lock) and installs the startup hook; from _PG_init.
void RequestSharedState();

// Called by the launcher: this process's latch is the one to set.
void AdvertiseLauncher();

// Wakes the launcher now (no-op when it does not run).
void WakeLauncher();

// Wakes the launcher when the current transaction commits (queued runs become visible then).
void WakeLauncherAtCommit();

// True when the launcher is running.
bool LauncherRunning();

// Records, until this process exits, that it executes (part of) run `run_id`.
void RegisterRunWorker(long long run_id);

// Marks every process recorded for `run_id` as cancelled by a user and sends it SIGINT; returns
// how many, or -1 when there is no shared state (pg_pipeline not preloaded).
int SignalRunWorkers(long long run_id);

// Whether this process was marked cancelled by SignalRunWorkers (false without shared state).
bool CancelRequestedForMe();

}  // namespace pgpipe::pg
