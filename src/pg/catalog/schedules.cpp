// Schedules: see schedules.hpp.
extern "C" {
#include "postgres.h"
}

#include "pg/catalog/schedules.hpp"

#include <ctime>

#include "core/cron.hpp"
#include "core/error.hpp"
#include "pg/catalog/registry.hpp"
#include "pg/privilege.hpp"
#include "pg/run/create.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

std::string Num(int64_t n) { return std::to_string(n); }

bool CronInstalled() {
  return CatalogScalar("SELECT to_regclass('cron.job') IS NOT NULL") == SqlValue("t");
}

// Removes a pg_cron job if it still exists (as the extension's owner, who may remove any).
void UnscheduleJob(const SqlValue& jobid) {
  if (!jobid || !CronInstalled()) return;
  AsExtensionOwner([&] {
    if (SpiScalar("SELECT EXISTS (SELECT FROM cron.job WHERE jobid = $1::bigint)", {*jobid}) == SqlValue("t"))
      SpiExec("SELECT cron.unschedule($1::bigint)", {*jobid});
  });
}

}  // namespace

int64_t SchedulePipeline(const std::string& project, const std::string& name, const std::string& cron,
                         const std::string& variables_json) {
  if (!CronInstalled())
    throw Error(sqlstate::kFeatureNotSupported,
                "pg_cron is not installed in database \"" + *CatalogScalar("SELECT current_database()") + "\"", "",
                "Schedules need pg_cron: put it in shared_preload_libraries, set cron.database_name to this "
                "database, and CREATE EXTENSION pg_cron.");
  core::CronPreviousFire(cron, std::time(nullptr));  // refuses an expression it cannot read
  StoredPipeline stored = FindPipeline(project, name);
  const Oid caller = CurrentRole();
  const std::string pipeline_id = Num(stored.pipeline_id);
  // Rescheduling keeps the schedule and its job (pg_cron updates a job of the same name and
  // user); a job another role made for this pipeline goes first.
  auto old = CatalogQuery("SELECT schedule_id, owner::oid, jobid FROM pipeline.schedules WHERE pipeline_id = $1::bigint",
                          {pipeline_id});
  if (!old.empty() && std::stoul(*old[0][1]) != caller) {
    DropSchedule(stored.pipeline_id);
    old.clear();
  }
  return AsExtensionOwner([&] {
    std::string schedule_id =
        old.empty() ? *SpiScalar("INSERT INTO pipeline.schedules (pipeline_id, cron, variables, owner) "
                                 "VALUES ($1::bigint, $2, $3::jsonb, $4::oid::regrole) RETURNING schedule_id",
                                 {pipeline_id, cron, variables_json, Num(caller)})
                    : *old[0][0];
    SpiExec("UPDATE pipeline.schedules SET cron = $2, variables = $3::jsonb WHERE schedule_id = $1::bigint",
            {schedule_id, cron, variables_json});
    std::string jobid = *SpiScalar(
        "SELECT cron.schedule_in_database($1, $2, $3, current_database(), $4::oid::regrole::text)",
        {"pipeline:" + project + "." + name, cron, "SELECT pipeline._fire_schedule(" + schedule_id + ")", Num(caller)});
    SpiExec("UPDATE pipeline.schedules SET jobid = $2::bigint WHERE schedule_id = $1::bigint", {schedule_id, jobid});
    return std::stoll(jobid);
  });
}

bool UnschedulePipeline(const std::string& project, const std::string& name) {
  auto rows = CatalogQuery("SELECT p.pipeline_id, p.owner::oid FROM pipeline.pipelines p "
                           "JOIN pipeline.schedules s USING (pipeline_id) WHERE p.project = $1 AND p.name = $2",
                           {project, name});
  if (rows.empty() || !CanActAs(CurrentRole(), static_cast<Oid>(std::stoul(*rows[0][1])))) return false;
  DropSchedule(std::stoll(*rows[0][0]));
  return true;
}

void DropSchedule(int64_t pipeline_id) {
  SqlValue jobid = CatalogScalar("DELETE FROM pipeline.schedules WHERE pipeline_id = $1::bigint RETURNING jobid",
                                 {Num(pipeline_id)});
  UnscheduleJob(jobid);
}

int64_t FireSchedule(int64_t schedule_id) {
  auto rows = CatalogQuery(
      "SELECT s.owner::oid, s.cron, s.variables::text, p.project, p.name FROM pipeline.schedules s "
      "JOIN pipeline.pipelines p USING (pipeline_id) WHERE s.schedule_id = $1::bigint",
      {Num(schedule_id)});
  if (rows.empty() || !CanActAs(CurrentRole(), static_cast<Oid>(std::stoul(*rows[0][0]))))
    throw Error(sqlstate::kInsufficientPrivilege, "schedule " + Num(schedule_id) + " is not the calling role's", "",
                "A schedule fires as the role that made it.");
  const std::string& cron = *rows[0][1];
  std::time_t end = core::CronPreviousFire(cron, std::time(nullptr));
  std::time_t start = core::CronPreviousFire(cron, end - 60);
  NewRun request;
  request.project = *rows[0][3];
  request.name = *rows[0][4];
  request.variables_json = *rows[0][2];
  request.trigger = "schedule";
  request.interval_start = *CatalogScalar("SELECT to_timestamp($1::float8)::text", {Num(start)});
  request.interval_end = *CatalogScalar("SELECT to_timestamp($1::float8)::text", {Num(end)});
  return CreateRun(request);
}

void DropAllScheduleJobs() {
  for (const auto& row : CatalogQuery("SELECT jobid FROM pipeline.schedules WHERE jobid IS NOT NULL"))
    UnscheduleJob(row[0]);
  CatalogExec("DELETE FROM pipeline.schedules");
}

}  // namespace pgpipe::pg
