// The guarded boundary between C++ and Postgres (STYLE.md, "The two zones and the boundary").
//
// Direction 1, Postgres calls C++: every symbol Postgres calls is a thin extern "C" wrapper made
// by PGPIPE_FUNCTION (SQL functions) or written with CatchInto/RaiseCaught (callbacks, worker
// mains). The wrapper catches every C++ exception, copies SQLSTATE, message, detail, hint and
// context into POD storage inside the catch, and raises the Postgres ERROR only once the catch
// block has closed, so no destructor is ever skipped.
//
// Direction 2, C++ calls Postgres: PgCall(fn) runs fn under its own sigsetjmp. A Postgres ERROR
// raised inside fn comes back as a core::Error with the SQLSTATE, detail, hint and context kept.
// fn itself must hold no object with a destructor (the guard must sit deeper than any such
// object). A Postgres error caught this way leaves the transaction needing an abort: let the
// core::Error reach the boundary (or roll back a subtransaction); never swallow it.
//
// Include after postgres.h.
#pragma once

#include <csetjmp>
#include <type_traits>
#include <utility>

#include "core/error.hpp"

namespace pgpipe::pg {

// POD copy of an error caught at the boundary; readable after the catch block has closed.
struct CaughtError {
  char sqlstate[6];
  char message[1024];
  char detail[2048];
  char hint[1024];
  char context[2048];
};

// Fills *out from the exception being handled; call only inside a catch block. Never throws.
void CatchInto(CaughtError* out) noexcept;

// Raises *caught as a Postgres ERROR; call only after the catch block has closed.
[[noreturn]] void RaiseCaught(const CaughtError& caught);

// Turns the Postgres error being handled (after a longjmp to a PgCall guard) into a core::Error,
// switching back to memory context `mcx` first.
[[noreturn]] void ThrowPendingPgError(MemoryContext mcx);

// Puts back PG_exception_stack and error_context_stack as they were when it was made, however
// the scope that holds it is left: a return, a Postgres error turned into a C++ throw, or a C++
// exception thrown by the guarded code itself.
class PgStackGuard {
 public:
  PgStackGuard() : stack_(PG_exception_stack), context_(error_context_stack) {}
  ~PgStackGuard() {
    PG_exception_stack = stack_;
    error_context_stack = context_;
  }
  PgStackGuard(const PgStackGuard&) = delete;
  PgStackGuard& operator=(const PgStackGuard&) = delete;

 private:
  sigjmp_buf* const stack_;
  ErrorContextCallback* const context_;
};

// Runs fn() so that a Postgres ERROR inside it becomes a thrown core::Error. The guard lives in
// this frame (the one sigsetjmp returns to), so nothing with a destructor is skipped by the
// longjmp as long as fn's own frames hold none.
template <typename F>
decltype(auto) PgCall(F&& fn) {
  PgStackGuard guard;
  const MemoryContext saved_mcx = CurrentMemoryContext;
  sigjmp_buf local;
  if (sigsetjmp(local, 0) == 0) {
    PG_exception_stack = &local;
    return fn();
  }
  ThrowPendingPgError(saved_mcx);
}

// Called when a guarded C++ entry point returns: a PG_exception_stack that is not what it was
// on entry means some path left a guard without restoring it; say so and put it back.
void CheckStackOnExit(sigjmp_buf* on_entry, const char* function) noexcept;

}  // namespace pgpipe::pg

// Defines the SQL-callable C symbol `name` as a guarded wrapper around the C++ body that follows
// the macro: PGPIPE_FUNCTION(pipeline_register) { ... return ...; }
#define PGPIPE_FUNCTION(name)                                  \
  static Datum name##_body(PG_FUNCTION_ARGS);                  \
  extern "C" {                                                 \
  PG_FUNCTION_INFO_V1(name);                                   \
  Datum name(PG_FUNCTION_ARGS) {                               \
    pgpipe::pg::CaughtError caught_;                           \
    sigjmp_buf* const stack_on_entry_ = PG_exception_stack;    \
    try {                                                      \
      Datum result_ = name##_body(fcinfo);                     \
      pgpipe::pg::CheckStackOnExit(stack_on_entry_, #name);    \
      return result_;                                          \
    } catch (...) {                                            \
      pgpipe::pg::CatchInto(&caught_);                         \
    }                                                          \
    pgpipe::pg::CheckStackOnExit(stack_on_entry_, #name);      \
    pgpipe::pg::RaiseCaught(caught_);                          \
  }                                                            \
  }                                                            \
  static Datum name##_body(PG_FUNCTION_ARGS)
