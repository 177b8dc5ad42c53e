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

}  // namespace pgpipe::pg
