// The executor's layer 2: loading a run for the worker that executes it, and the resume rules.
#pragma once

#include <cstdint>
#include <optional>

#include "core/error.hpp"
#include "pg/run/context.hpp"

namespace pgpipe::pg {

// Loads run `run_id` for a worker acting as its owner: the spec stored with its version (shared
// blocks checked against their pins), its variables, and its blocks' states.
//
// A run that resumes (a retry, or a run queued again after a shutdown or a crash) keeps what
// its blocks already did, if it still holds: a loader's or transformer's staging must still be
// the run owner's, recorded, and not emptied by crash recovery; a conditional's answer must be
// recorded. Every other block that had started runs again, and so does everything after a
// block that runs again (its output is rebuilt, and views on it with it), except exporters and
// callbacks that succeeded: publishing or notifying twice would be wrong. The resets are written
// through MoveBlock. A block that had failed makes `prior_failure` the run's failure.
Run LoadRun(int64_t run_id, std::optional<core::Error>* prior_failure);

// Loads run `run_id` as it stands, for a block worker running one of its blocks for the run's
// worker: nothing is reset.
Run LoadRunAsItStands(int64_t run_id);

}  // namespace pgpipe::pg
