// The extension's module entry: the magic block and _PG_init, which defines the GUCs
// (pipeline.*). Background workers are registered here only when preloaded.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

#include "core/interrupts.hpp"
#include "pg/boundary.hpp"
#include "pg/gucs.hpp"
#include "pg/workers/launcher.hpp"
#include "pg/workers/shmem.hpp"

namespace {

// The core's interrupt hook: long core loops (parsing, validating) call it now and then, so a
// cancel, a statement timeout or a termination stops them. Postgres's own check raises the
// interrupt's error, which PgCall turns into a core::Error for the core to unwind with.
void CheckPostgresInterrupts() {
  if (!InterruptPending) return;
  pgpipe::pg::PgCall([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace

// Defines every GUC and the core's interrupt hook; when preloaded, also asks for shared memory
// and registers the launcher.
void _PG_init(void) {
  pgpipe::pg::DefineGucs();
  pgpipe::core::SetInterruptCheck(CheckPostgresInterrupts);
  if (process_shared_preload_libraries_in_progress) {
    pgpipe::pg::RequestSharedState();
    pgpipe::pg::RegisterLauncher();
  }
}
