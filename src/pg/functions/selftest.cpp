// pipeline._boundary_selftest(kind): exercises both directions of the C++/Postgres boundary so
// regression tests can show that errors cross it intact and that the session lives on.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
}

#include <new>
#include <stdexcept>

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"

using namespace pgpipe;

namespace {

int destructor_runs = 0;

// Counts its destruction, to show that unwinding ran it.
struct Witness {
  ~Witness() { ++destructor_runs; }
};

// A Postgres error raised in a guarded call: int4in on text that is not an integer.
void ParseBadInteger() {
  pg::PgCall([] { return DirectFunctionCall1(int4in, CStringGetDatum("twelve")); });
}

}  // namespace

PGPIPE_FUNCTION(pipeline_boundary_selftest) {
  std::string kind = pg::TextArg(fcinfo, 0);
  destructor_runs = 0;
  if (kind == "core_error")
    throw core::Error(core::sqlstate::kInvalidParameterValue, "selftest: a core error",
                      "The detail survives.", "The hint survives.", "selftest context line");
  if (kind == "std_exception") throw std::runtime_error("selftest: a std::exception");
  if (kind == "bad_alloc") throw std::bad_alloc();
  if (kind == "unknown") throw 42;
  if (kind == "pg_error_rethrown") {
    {
      Witness witness;
      ParseBadInteger();  // throws core::Error carrying 22P02; witness is destroyed on the way
    }
  }
  if (kind == "pg_error_caught") {
    // The Postgres error arrives in C++ with its SQLSTATE and message, destructors having run;
    // the report is then raised as our own error so the transaction still aborts.
    std::string report;
    try {
      Witness witness;
      ParseBadInteger();
    } catch (const core::Error& e) {
      report = "caught " + e.sqlstate() + ": " + e.message() +
               " (destructors run: " + std::to_string(destructor_runs) + ")";
    }
    throw core::Error(core::sqlstate::kExternalRoutineException, report);
  }
  if (kind == "cpp_throw_in_guard") {
    // A C++ exception thrown inside a guarded call leaves through the guard's scope: the RAII
    // guard puts PG_exception_stack back, so the Postgres error raised next (caught by the next
    // guard) and the final ERROR land where they should instead of in a dead frame.
    sigjmp_buf* before = PG_exception_stack;
    std::string report;
    try {
      pg::PgCall([] { throw std::runtime_error("thrown inside a guard"); });
    } catch (const std::runtime_error& e) {
      report = std::string("caught \"") + e.what() + "\"; stack " +
               (PG_exception_stack == before ? "restored" : "NOT restored");
    }
    try {
      ParseBadInteger();
    } catch (const core::Error& e) {
      report += "; then caught " + e.sqlstate();
    }
    return pg::TextResult(report);
  }
  if (kind == "ok") return pg::TextResult("ok");
  throw core::Error(core::sqlstate::kInvalidParameterValue, "unknown selftest \"" + kind + "\"");
}
