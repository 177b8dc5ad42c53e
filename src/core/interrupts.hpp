// A hook for cancellation inside long core loops (parsing, converting, validating). src/core
// cannot call Postgres, so src/pg installs a function that runs CHECK_FOR_INTERRUPTS under its
// guard and throws core::Error 57014 when the query was cancelled; core loops call
// CheckInterrupts() every so often. Unset (tests, tools), a check is one relaxed atomic load.
// Every caller holds its state in RAII objects only, so a throw from the hook leaks nothing.
#pragma once

#include <cstdint>

namespace pgpipe::core {

// Throws (core::Error 57014, say) to abandon the work in progress; returns to go on.
using InterruptCheck = void (*)();

// Installs `check` for the whole process (nullptr removes it); returns the previous hook.
InterruptCheck SetInterruptCheck(InterruptCheck check);

// Calls the installed hook, if any.
void CheckInterrupts();

// Calls CheckInterrupts() once every kEvery ticks: for loops whose single step is cheap.
class InterruptPoller {
 public:
  static constexpr uint32_t kEvery = 1024;
  void Tick() {
    if (++ticks_ % kEvery == 0) CheckInterrupts();
  }

 private:
  uint32_t ticks_ = 0;
};

}  // namespace pgpipe::core
