// The executor's layer 2: making runs. pipeline.run, trigger, backfill, the schedules and
// retry all create runs here: of the pipeline's current version, owned by the calling role
// (after checking it may act as the pipeline's owner), with a pending block run per block.
#pragma once

#include <cstdint>
#include <string>

namespace pgpipe::pg {

struct NewRun {
  std::string project;
  std::string name;
  std::string variables_json = "{}";  // the caller's, over the pipeline's defaults
  std::string trigger = "manual";     // manual, trigger, schedule, backfill
  std::string interval_start;         // timestamptz as text, "" for none
  std::string interval_end;
  int64_t backfill_id = 0;            // the backfill it belongs to; -1 starts one (its own id)
  bool running = false;               // a manual run: its worker starts it at once
};

// Creates the run and returns its id; 0 when overlap: skip skipped it (a NOTICE says so).
// Queued runs wake the launcher when the transaction commits.
int64_t CreateRun(const NewRun& request);

// Queues a new run of failed or cancelled run `run_id` (same version and variables): its
// succeeded blocks keep their output, the others run again. Returns the new run's id.
int64_t RetryRun(int64_t run_id);

}  // namespace pgpipe::pg
