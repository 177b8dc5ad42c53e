// The process-wide interrupt hook: see interrupts.hpp.
#include "core/interrupts.hpp"

#include <atomic>

#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

// Atomic because HttpSource's producer thread shares the process (it never calls the hook).
std::atomic<InterruptCheck> installed_check{nullptr};

}  // namespace

// Swaps the hook in.
InterruptCheck SetInterruptCheck(InterruptCheck check) {
  return installed_check.exchange(check);
}

// Runs the hook when one is installed; cheap otherwise.
void CheckInterrupts() {
  InterruptCheck check = installed_check.load(std::memory_order_relaxed);
  if (check != nullptr) check();
}

}  // namespace pgpipe::core
