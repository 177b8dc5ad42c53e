// SQL functions of schedules: pipeline.schedule, unschedule, _fire_schedule (what a schedule's
// pg_cron job runs) and _cron_previous; and _wake_launcher, kept for 0.1's install script.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
}

#include "core/cron.hpp"
#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog/schedules.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/spi.hpp"
#include "pg/workers/shmem.hpp"

using namespace pgpipe;

// pipeline.schedule(name text, cron text, variables jsonb, project text, catch_up text) returns
// bigint: the job.
PGPIPE_FUNCTION(pipeline_schedule) {
  if (pg::ArgIsNull(fcinfo, 0) || pg::ArgIsNull(fcinfo, 1))
    throw core::Error(core::sqlstate::kInvalidParameterValue, "pipeline name and cron expression must not be NULL");
  std::string variables = "{}";
  if (!pg::ArgIsNull(fcinfo, 2)) {
    struct Out {
      const char* text;
      bool object;
    };
    Out out = pg::PgCall([&] {
      Jsonb* value = PG_GETARG_JSONB_P(2);
      return Out{JsonbToCString(nullptr, &value->root, VARSIZE(value)), JB_ROOT_IS_OBJECT(value) != 0};
    });
    if (!out.object)
      throw core::Error(core::sqlstate::kInvalidParameterValue, "variables must be a JSON object", "",
                        "Pass variables as '{\"year\": 2021, \"month\": 1}'.");
    variables = out.text;
  }
  std::string project = pg::ArgIsNull(fcinfo, 3) ? "default" : pg::TextArg(fcinfo, 3);
  std::string catch_up = pg::ArgIsNull(fcinfo, 4) ? "none" : pg::TextArg(fcinfo, 4);
  pg::SpiSession spi;
  int64_t job = pg::SchedulePipeline(project, pg::TextArg(fcinfo, 0), pg::TextArg(fcinfo, 1), variables, catch_up);
  spi.Finish();
  return Int64GetDatum(job);
}

// pipeline.unschedule(name text, project text) returns boolean: false when it had none.
PGPIPE_FUNCTION(pipeline_unschedule) {
  if (pg::ArgIsNull(fcinfo, 0)) PG_RETURN_BOOL(false);
  std::string project = pg::ArgIsNull(fcinfo, 1) ? "default" : pg::TextArg(fcinfo, 1);
  pg::SpiSession spi;
  bool removed = pg::UnschedulePipeline(project, pg::TextArg(fcinfo, 0));
  spi.Finish();
  return BoolGetDatum(removed);
}

// pipeline._fire_schedule(schedule_id bigint) returns bigint: the run queued (NULL if skipped).
PGPIPE_FUNCTION(pipeline_fire_schedule) {
  int64_t schedule_id = PG_GETARG_INT64(0);
  pg::SpiSession spi;
  int64_t run_id = pg::FireSchedule(schedule_id);
  spi.Finish();
  if (run_id == 0) PG_RETURN_NULL();
  return Int64GetDatum(run_id);
}

// pipeline._cron_previous(cron text, at timestamptz): the latest firing at or before `at`.
PGPIPE_FUNCTION(pipeline_cron_previous) {
  std::string cron = pg::TextArg(fcinfo, 0);
  TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
  std::time_t unix_seconds = static_cast<std::time_t>(timestamptz_to_time_t(at));
  std::time_t fire = core::CronPreviousFire(cron, unix_seconds);
  PG_RETURN_TIMESTAMPTZ(time_t_to_timestamptz(static_cast<pg_time_t>(fire)));
}

// pipeline._wake_launcher() (0.1's install script names it; 0.2 queues runs in C++).
PGPIPE_FUNCTION(pipeline_wake_launcher) {
  pg::PgCall([] { pg::WakeLauncherAtCommit(); });
  PG_RETURN_VOID();
}
