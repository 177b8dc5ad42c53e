// Subtransactions from C++: see subxact.hpp. The pattern is PL/pgSQL's exception block.
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
}

#include "pg/boundary.hpp"
#include "pg/subxact.hpp"

namespace pgpipe::pg {

Subtransaction::Subtransaction() {
  memory_context_ = CurrentMemoryContext;
  resource_owner_ = CurrentResourceOwner;
  PgCall([] { BeginInternalSubTransaction(nullptr); });
  PgCall([&] { MemoryContextSwitchTo(static_cast<MemoryContext>(memory_context_)); });
}

void Subtransaction::Commit() {
  PgCall([&] {
    ReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(static_cast<MemoryContext>(memory_context_));
    CurrentResourceOwner = static_cast<ResourceOwner>(resource_owner_);
  });
}

void Subtransaction::Rollback() noexcept {
  // The error that brought us here was already flushed by PgCall; rolling back cannot fail in a
  // way worth recovering from (Postgres would PANIC first).
  RollbackAndReleaseCurrentSubTransaction();
  MemoryContextSwitchTo(static_cast<MemoryContext>(memory_context_));
  CurrentResourceOwner = static_cast<ResourceOwner>(resource_owner_);
}

}  // namespace pgpipe::pg
