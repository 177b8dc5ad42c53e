// Transactions of a background worker, from C++: each unit of work commits on its own, and a
// failure aborts it cleanly so the next unit (recording the failure) can start.
#pragma once

#include <exception>
#include <utility>

#include "pg/spi.hpp"

namespace pgpipe::pg {

// Starts a transaction with an active snapshot; commits in CommitWork, aborts in AbortWork.
void BeginWork();
void CommitWork();
// Aborts the current transaction after an error already converted to C++ (the Postgres error
// state was flushed by PgCall); never throws.
void AbortWork() noexcept;

// Runs fn() in its own transaction with an SPI connection; commits, or aborts and rethrows.
template <typename F>
void InTransaction(F&& fn) {
  BeginWork();
  try {
    SpiSession spi;
    std::forward<F>(fn)();
    spi.Finish();
    CommitWork();
  } catch (...) {
    AbortWork();
    throw;
  }
}

}  // namespace pgpipe::pg
