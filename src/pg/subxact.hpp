// Subtransactions from C++: run a piece of work so that its failure rolls back only itself and
// comes back as a core::Error, as a PL/pgSQL EXCEPTION block does. Used where one failure must
// not undo the rest: importing a project pipeline by pipeline, dropping staging one relation at
// a time.
#pragma once

#include <optional>

#include "core/error.hpp"

namespace pgpipe::pg {

// Starts, commits and rolls back an internal subtransaction, keeping the caller's memory
// context and resource owner.
class Subtransaction {
 public:
  Subtransaction();
  void Commit();
  void Rollback() noexcept;

 private:
  void* memory_context_;
  void* resource_owner_;
};

// Runs fn() in a subtransaction: commits it and returns nullopt, or rolls it back and returns
// the error (a C++ error or a Postgres one, converted). The caller's SPI connection survives.
template <typename F>
std::optional<core::Error> InSubtransaction(F&& fn) {
  Subtransaction sub;
  try {
    fn();
    sub.Commit();
    return std::nullopt;
  } catch (const core::Error& e) {
    sub.Rollback();
    return e;
  }
}

}  // namespace pgpipe::pg
