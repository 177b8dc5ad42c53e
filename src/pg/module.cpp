// The extension's module entry: the magic block and _PG_init, which defines the GUCs
// (pipeline.*). Background workers are registered here only when preloaded.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

#include "pg/gucs.hpp"
#include "pg/workers/launcher.hpp"
#include "pg/workers/shmem.hpp"

// Defines every GUC; when preloaded, also asks for shared memory and registers the launcher.
void _PG_init(void) {
  pgpipe::pg::DefineGucs();
  if (process_shared_preload_libraries_in_progress) {
    pgpipe::pg::RequestSharedState();
    pgpipe::pg::RegisterLauncher();
  }
}
