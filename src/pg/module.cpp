// The extension's module entry: the magic block and _PG_init, which defines the GUCs
// (pipeline.*). Background workers are registered here only when preloaded.
extern "C" {
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

#include "pg/gucs.hpp"

// Defines every GUC; called once per backend that loads the library.
void _PG_init(void) {
  pgpipe::pg::DefineGucs();
}
