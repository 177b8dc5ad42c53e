// SQL functions that start and stop runs: pipeline.run, trigger, backfill, retry, cancel. Each
// acts as the calling role: it may run, retry and cancel only what it owns (run/create.hpp).
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/privilege.hpp"
#include "pg/run/create.hpp"
#include "pg/run/state.hpp"
#include "pg/spi.hpp"
#include "pg/workers/run_worker.hpp"
#include "pg/workers/shmem.hpp"

using namespace pgpipe;
using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// A jsonb argument as JSON text; "{}" when NULL. Must be an object.
std::string JsonObjectArg(FunctionCallInfo fcinfo, int n, const char* what) {
  if (pg::ArgIsNull(fcinfo, n)) return "{}";
  struct Out {
    const char* text;
    bool object;
  };
  Out out = pg::PgCall([&] {
    Jsonb* value = PG_GETARG_JSONB_P(n);
    return Out{JsonbToCString(nullptr, &value->root, VARSIZE(value)), JB_ROOT_IS_OBJECT(value) != 0};
  });
  if (!out.object)
    throw Error(sqlstate::kInvalidParameterValue, std::string(what) + " must be a JSON object", "",
                "Pass variables as '{\"year\": 2021, \"month\": 1}'.");
  return out.text;
}

// The name argument (never NULL) and the project (default when NULL).
std::string NameArg(FunctionCallInfo fcinfo, int n) {
  if (pg::ArgIsNull(fcinfo, n)) throw Error(sqlstate::kInvalidParameterValue, "pipeline name must not be NULL");
  return pg::TextArg(fcinfo, n);
}
std::string ProjectArg(FunctionCallInfo fcinfo, int n) {
  return pg::ArgIsNull(fcinfo, n) ? "default" : pg::TextArg(fcinfo, n);
}

// The worker sees committed catalog rows only: a pipeline registered (or changed) by the
// caller's own open transaction would be missing there, or run in its previous version.
void CheckCommitted(const std::string& project, const std::string& name) {
  pg::SpiSession spi;
  auto rows = pg::CatalogQuery(
      "SELECT v.xmin::text, p.owner::oid FROM pipeline.pipelines p JOIN pipeline.pipeline_versions v USING (pipeline_id) "
      "WHERE p.project = $1 AND p.name = $2 ORDER BY v.version DESC LIMIT 1",
      {project, name});
  spi.Finish();
  if (rows.empty() || !pg::CanActAs(pg::CurrentRole(), static_cast<Oid>(std::stoul(*rows[0][1]))))
    throw Error(sqlstate::kUndefinedObject, "pipeline \"" + name + "\" does not exist in project \"" + project + "\"",
                "", "Register it with pipeline.register(yaml).");
  TransactionId xid = static_cast<TransactionId>(std::stoul(*rows[0][0]));
  if (pg::PgCall([xid] { return TransactionIdIsCurrentTransactionId(xid); }))
    throw Error(sqlstate::kInvalidTransactionState,
                "pipeline \"" + name + "\" was registered in this transaction, which has not committed",
                "Runs execute in a background worker, which sees committed pipelines only.", "Commit, then run it.");
}

}  // namespace

// pipeline.run(name text, variables jsonb, project text) returns bigint: the run id.
PGPIPE_FUNCTION(pipeline_run) {
  std::string name = NameArg(fcinfo, 0);
  std::string variables = JsonObjectArg(fcinfo, 1, "variables");
  std::string project = ProjectArg(fcinfo, 2);
  CheckCommitted(project, name);
  return Int64GetDatum(pg::RunInWorker(project, name, variables));
}

// pipeline.trigger(name text, variables jsonb, project text) returns bigint: the queued run,
// NULL when overlap: skip skipped it.
PGPIPE_FUNCTION(pipeline_trigger) {
  pg::NewRun request;
  request.name = NameArg(fcinfo, 0);
  request.variables_json = JsonObjectArg(fcinfo, 1, "variables");
  request.project = ProjectArg(fcinfo, 2);
  request.trigger = "trigger";
  pg::SpiSession spi;
  int64_t run_id = pg::CreateRun(request);
  spi.Finish();
  if (run_id == 0) PG_RETURN_NULL();
  return Int64GetDatum(run_id);
}

// pipeline.backfill(name, start, stop, step, variables, project) returns bigint: the backfill
// id (its first run's id). One run per interval [t, t + step), the last one cut at stop.
PGPIPE_FUNCTION(pipeline_backfill) {
  for (int i = 0; i < 4; ++i)
    if (pg::ArgIsNull(fcinfo, i))
      throw Error(sqlstate::kInvalidParameterValue, "backfill name, start, stop and step must not be NULL");
  pg::NewRun request;
  request.name = pg::TextArg(fcinfo, 0);
  request.variables_json = JsonObjectArg(fcinfo, 4, "variables");
  request.project = ProjectArg(fcinfo, 5);
  request.trigger = "backfill";
  struct Bounds {
    const char *start, *stop, *step;
  };
  Bounds b = pg::PgCall([&] {
    return Bounds{DatumGetCString(DirectFunctionCall1(timestamptz_out, PG_GETARG_DATUM(1))),
                  DatumGetCString(DirectFunctionCall1(timestamptz_out, PG_GETARG_DATUM(2))),
                  DatumGetCString(DirectFunctionCall1(interval_out, PG_GETARG_DATUM(3)))};
  });
  pg::SpiSession spi;
  if (pg::SpiScalar("SELECT $1::timestamptz + $2::interval <= $1::timestamptz", {b.start, b.step}) == pg::SqlValue("t"))
    throw Error(sqlstate::kInvalidParameterValue, "backfill step must be a positive interval");
  if (pg::SpiScalar("SELECT $2::timestamptz <= $1::timestamptz", {b.start, b.stop}) == pg::SqlValue("t"))
    throw Error(sqlstate::kInvalidParameterValue,
                std::string("backfill stop (") + b.stop + ") must be after its start (" + b.start + ")");
  auto intervals = pg::SpiQuery(
      "SELECT g::text, least(g + $3::interval, $2::timestamptz)::text "
      "FROM generate_series($1::timestamptz, $2::timestamptz, $3::interval) AS g WHERE g < $2::timestamptz LIMIT 10001",
      {b.start, b.stop, b.step});
  if (intervals.size() > 10000)
    throw Error(sqlstate::kProgramLimitExceeded, "backfill would make more than 10000 runs", "",
                "Use a larger step or a shorter range.");
  int64_t first = 0;
  for (const auto& interval : intervals) {
    request.interval_start = *interval[0];
    request.interval_end = *interval[1];
    request.backfill_id = first == 0 ? -1 : first;
    int64_t run_id = pg::CreateRun(request);
    if (first == 0) first = run_id;
  }
  spi.Finish();
  return Int64GetDatum(first);
}

// pipeline.retry(run_id bigint) returns bigint: the new run.
PGPIPE_FUNCTION(pipeline_retry) {
  int64_t run_id = PG_GETARG_INT64(0);
  pg::SpiSession spi;
  int64_t retry = pg::RetryRun(run_id);
  spi.Finish();
  return Int64GetDatum(retry);
}

// pipeline.cancel(run_id) returns boolean: a queued run ends cancelled at once; a running one's
// workers (as shared memory records them, never a pid from the catalog) get SIGINT, which
// cancels the running block and ends the run cancelled. Only the caller's own runs.
PGPIPE_FUNCTION(pipeline_cancel) {
  const int64_t run_id = PG_GETARG_INT64(0);
  const std::string id = std::to_string(run_id);
  pg::SpiSession spi;
  auto rows = pg::CatalogQuery("SELECT status, owner::oid FROM pipeline.runs WHERE run_id = $1::bigint FOR UPDATE", {id});
  if (rows.empty() || !pg::CanActAs(pg::CurrentRole(), static_cast<Oid>(std::stoul(*rows[0][1]))))
    throw Error(sqlstate::kUndefinedObject, "run " + id + " does not exist", "",
                "Runs of other roles are not visible, and cannot be cancelled.");
  const std::string status = *rows[0][0];
  int signalled = 0;
  if (status == "running") {
    signalled = pg::PgCall([&] { return pg::SignalRunWorkers(run_id); });
    if (signalled < 0)
      throw Error(sqlstate::kObjectNotInPrerequisiteState,
                  "cannot cancel running run " + id + " without the launcher's shared memory", "",
                  "Put pg_pipeline in shared_preload_libraries; a pipeline.run caller can cancel its own statement instead.");
  }
  bool cancelled = status == "running";
  if (status == "queued" || (status == "running" && signalled == 0)) {
    // Not started (or claimed, its worker not yet there): it ends here; a worker starting it
    // later finds it cancelled and stops.
    for (const auto& row : pg::CatalogQuery("SELECT block_name FROM pipeline.block_runs WHERE run_id = $1::bigint "
                                            "AND status IN ('pending', 'running')", {id}))
      pg::MoveBlock(run_id, *row[0], core::BlockEvent::kCancel);
    pg::RunChange why{"cancelled before it started", sqlstate::kQueryCanceled, false};
    cancelled = pg::MoveRun(run_id, core::RunEvent::kCancel, why).has_value();
  }
  spi.Finish();
  return BoolGetDatum(cancelled);
}
