// Worker transactions: see txn.hpp.
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

#include "pg/boundary.hpp"
#include "pg/txn.hpp"

namespace pgpipe::pg {

void BeginWork() {
  PgCall([] {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
  });
}

void CommitWork() {
  PgCall([] {
    if (ActiveSnapshotSet()) PopActiveSnapshot();
    CommitTransactionCommand();
  });
}

void AbortWork() noexcept {
  // What PostgresMain does after an error, minus reporting it: the error is ours to record.
  sigjmp_buf* saved = PG_exception_stack;
  sigjmp_buf local;
  if (sigsetjmp(local, 0) == 0) {
    PG_exception_stack = &local;
    HOLD_INTERRUPTS();
    AbortCurrentTransaction();
    MemoryContextSwitchTo(TopMemoryContext);
    RESUME_INTERRUPTS();
  } else {
    // Aborting failed too: nothing sensible is left to do in this process.
    PG_exception_stack = saved;
    proc_exit(1);
  }
  PG_exception_stack = saved;
}

}  // namespace pgpipe::pg
