// Test helper shared by the unit tests: the core::Error a call must throw.
#pragma once

#include <gtest/gtest.h>

#include "core/error.hpp"

// Runs f and returns the Error it must throw (a test failure when it throws none).
template <typename F>
pgpipe::core::Error CatchError(F f) {
  try {
    f();
  } catch (const pgpipe::core::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no Error thrown";
  return pgpipe::core::Error("00000", "");
}
