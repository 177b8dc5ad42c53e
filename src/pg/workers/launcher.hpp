// The launcher: one background worker (when pg_pipeline is preloaded) that starts queued runs in
// run workers, at most pipeline.max_workers at once and each pipeline's max_active_runs, finds
// runs whose worker died and retries or fails them, and prunes old history. It never runs
// pipeline SQL itself; every claim is a short committed transaction (FOR UPDATE SKIP LOCKED).
#pragma once

namespace pgpipe::pg {

// Registers the launcher with the postmaster; called from _PG_init when preloaded.
void RegisterLauncher();

}  // namespace pgpipe::pg
