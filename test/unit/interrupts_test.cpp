// The interrupt hook: unset it costs nothing and does nothing; set, it runs every kEvery ticks
// of a poller, and what it throws reaches the caller.
#include "core/interrupts.hpp"

#include <gtest/gtest.h>

#include "catch_error.hpp"
#include "core/error.hpp"

namespace pgpipe::core {
namespace {

int calls = 0;

// Counts its calls.
void CountingCheck() { ++calls; }

// Cancels like the pg side's hook does.
void CancellingCheck() { throw Error(sqlstate::kQueryCanceled, "canceling statement due to user request"); }

TEST(Interrupts, UnsetDoesNothingSetRunsTheHook) {
  InterruptCheck before = SetInterruptCheck(nullptr);
  CheckInterrupts();
  calls = 0;
  SetInterruptCheck(&CountingCheck);
  CheckInterrupts();
  EXPECT_EQ(calls, 1);
  InterruptPoller poller;
  for (uint32_t i = 0; i < 3 * InterruptPoller::kEvery; ++i) poller.Tick();
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(SetInterruptCheck(&CancellingCheck), &CountingCheck);
  EXPECT_EQ(CatchError([] { CheckInterrupts(); }).sqlstate(), "57014");
  SetInterruptCheck(before);
}

}  // namespace
}  // namespace pgpipe::core
