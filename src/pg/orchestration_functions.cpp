// SQL functions of the orchestration layer written in C++: pipeline.cancel,
// pipeline._wake_launcher, pipeline._cron_previous. (trigger, wait, retry, backfill and
// schedule are SQL in the install script: they only write and read catalog rows.)
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/timestamp.h"
}

#include "core/cron.hpp"
#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/shmem.hpp"
#include "pg/spi.hpp"

using namespace pgpipe;

// pipeline._wake_launcher(): the launcher looks for queued runs when this transaction commits.
PGPIPE_FUNCTION(pipeline_wake_launcher) {
  pg::PgCall([] { pg::WakeLauncherAtCommit(); });
  PG_RETURN_VOID();
}

// pipeline._cron_previous(cron text, at timestamptz): the latest firing at or before `at`.
PGPIPE_FUNCTION(pipeline_cron_previous) {
  std::string cron = pg::TextArg(fcinfo, 0);
  TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
  std::time_t unix_seconds = static_cast<std::time_t>(timestamptz_to_time_t(at));
  std::time_t fire = core::CronPreviousFire(cron, unix_seconds);
  PG_RETURN_TIMESTAMPTZ(time_t_to_timestamptz(static_cast<pg_time_t>(fire)));
}

// pipeline.cancel(run_id): a queued run ends cancelled at once; a running one's workers get
// SIGTERM, which cancels the running block and ends the run cancelled. Row-level security
// decides whose runs the caller may cancel: only its own (and its roles').
PGPIPE_FUNCTION(pipeline_cancel) {
  const std::string run_id = std::to_string(PG_GETARG_INT64(0));
  pg::SpiSession spi;
  auto rows = pg::SpiQuery(
      "SELECT status FROM pipeline.runs r WHERE run_id = $1::bigint FOR UPDATE",
      {run_id});
  if (rows.empty())
    throw core::Error(core::sqlstate::kUndefinedObject, "run " + run_id + " does not exist", "",
                      "Runs of other roles are not visible, and cannot be cancelled.");
  const std::string status = *rows[0][0];
  bool cancelled = false;
  // Who executes the run is asked of shared memory, where run workers record themselves:
  // never a pid from the catalog, which the run's owner could rewrite.
  int signalled = 0;
  if (status == "running") {
    signalled = pg::PgCall([&] { return pg::SignalRunWorkers(std::stoll(run_id)); });
    if (signalled < 0)
      throw core::Error("55000", "cannot cancel running run " + run_id + " without the launcher's shared memory",
                        "", "Put pg_pipeline in shared_preload_libraries; a pipeline.run caller can cancel "
                            "its own statement instead.");
  }
  if (status == "queued" || (status == "running" && signalled == 0)) {
    // Not started (or claimed, its worker not yet there): it ends here; a worker starting it
    // later finds it cancelled and stops.
    pg::SpiExec("UPDATE pipeline.runs SET status = 'cancelled', finished_at = clock_timestamp(), "
                "error = 'cancelled before it started', sqlstate = '57014' WHERE run_id = $1::bigint",
                {run_id});
    pg::SpiExec("UPDATE pipeline.block_runs SET status = 'cancelled', finished_at = clock_timestamp() "
                "WHERE run_id = $1::bigint AND status IN ('pending', 'queued', 'running')", {run_id});
    pg::SpiExec("SELECT pg_notify('pipeline_events', json_build_object('run_id', $1::bigint, "
                "'status', 'cancelled')::text)", {run_id});
    cancelled = true;
  } else if (status == "running") {
    cancelled = true;  // its workers were signalled
  }
  spi.Finish();
  return BoolGetDatum(cancelled);
}
