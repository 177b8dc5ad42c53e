// Schedules: see schedules.hpp.
extern "C" {
#include "postgres.h"
}

#include "pg/catalog/schedules.hpp"

#include <ctime>
#include <vector>

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

// A Unix time as timestamptz text.
std::string Timestamp(std::time_t t) { return *SpiScalar("SELECT to_timestamp($1::float8)::text", {Num(t)}); }

struct Schedule {
  int64_t schedule_id;
  Oid owner;
  std::string cron, variables_json, project, name, catch_up;
  std::time_t last_fire;  // 0: never
};

Schedule ScheduleFromRow(const SqlRow& row) {
  return {std::stoll(*row[0]), static_cast<Oid>(std::stoul(*row[1])), *row[2], *row[3], *row[4], *row[5], *row[6],
          static_cast<std::time_t>(std::stoll(*row[7]))};
}

constexpr const char* kScheduleColumns =
    "SELECT s.schedule_id, s.owner::oid, s.cron, s.variables::text, p.project, p.name, s.catch_up, "
    "coalesce(extract(epoch FROM s.last_fire)::bigint, 0) "
    "FROM pipeline.schedules s JOIN pipeline.pipelines p USING (pipeline_id) ";

// Queues the run of firing `fire` (the interval from the firing before it), unless a run was
// queued for it, or a later firing, already. Returns the run id (0 if not queued).
int64_t FireAt(const Schedule& s, std::time_t fire) {
  const std::string fire_text = Timestamp(fire);
  bool first = CatalogScalar("UPDATE pipeline.schedules SET last_fire = $2::timestamptz WHERE schedule_id = $1::bigint "
                             "AND (last_fire IS NULL OR last_fire < $2::timestamptz) RETURNING true",
                             {Num(s.schedule_id), fire_text}).has_value();
  if (!first) return 0;
  NewRun request;
  request.project = s.project;
  request.name = s.name;
  request.variables_json = s.variables_json;
  request.trigger = "schedule";
  request.interval_start = Timestamp(core::CronPreviousFire(s.cron, fire - 60));
  request.interval_end = fire_text;
  return CreateRun(request);
}

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
                         const std::string& variables_json, const std::string& catch_up) {
  if (catch_up != "none" && catch_up != "latest" && catch_up != "all")
    throw Error(sqlstate::kInvalidParameterValue, "catch_up must be none, latest or all, not \"" + catch_up + "\"",
                "", "none skips firings missed while the server was down, latest runs the newest once, all runs "
                "each (at most " + std::to_string(kMaxCatchUp) + ").");
  if (!CronInstalled())
    throw Error(sqlstate::kFeatureNotSupported,
                "pg_cron is not installed in database \"" + *CatalogScalar("SELECT current_database()") + "\"", "",
                "Schedules need pg_cron: put it in shared_preload_libraries, set cron.database_name to this "
                "database, and CREATE EXTENSION pg_cron.");
  // (refuses an expression it cannot read)
  const std::string fired = Timestamp(core::CronPreviousFire(cron, std::time(nullptr)));
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
    SpiExec("UPDATE pipeline.schedules SET cron = $2, variables = $3::jsonb, catch_up = $4, "
            "last_fire = $5::timestamptz WHERE schedule_id = $1::bigint",
            {schedule_id, cron, variables_json, catch_up, fired});
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
  auto rows = CatalogQuery(std::string(kScheduleColumns) + "WHERE s.schedule_id = $1::bigint", {Num(schedule_id)});
  if (rows.empty() || !CanActAs(CurrentRole(), static_cast<Oid>(std::stoul(*rows[0][1]))))
    throw Error(sqlstate::kInsufficientPrivilege, "schedule " + Num(schedule_id) + " is not the calling role's", "",
                "A schedule fires as the role that made it.");
  Schedule s = ScheduleFromRow(rows[0]);
  return FireAt(s, core::CronPreviousFire(s.cron, std::time(nullptr)));
}

std::vector<int64_t> SchedulesToCatchUp() {
  std::vector<int64_t> ids;
  for (const auto& row : CatalogQuery("SELECT schedule_id FROM pipeline.schedules "
                                      "WHERE catch_up <> 'none' AND last_fire IS NOT NULL ORDER BY schedule_id"))
    ids.push_back(std::stoll(*row[0]));
  return ids;
}

int CatchUpSchedule(int64_t schedule_id) {
  auto rows = CatalogQuery(std::string(kScheduleColumns) + "WHERE s.schedule_id = $1::bigint", {Num(schedule_id)});
  if (rows.empty()) return 0;
  Schedule s = ScheduleFromRow(rows[0]);
  if (s.catch_up == "none" || s.last_fire == 0) return 0;
  if (RoleName(s.owner).empty())
    throw Error(sqlstate::kUndefinedObject, "the role that made schedule " + Num(schedule_id) + " no longer exists");
  // Missed firings, newest first: (last_fire, now].
  std::vector<std::time_t> missed;
  for (std::time_t f = core::CronPreviousFire(s.cron, std::time(nullptr)); f > s.last_fire;
       f = core::CronPreviousFire(s.cron, f - 60)) {
    missed.push_back(f);
    if (s.catch_up == "latest" || static_cast<int>(missed.size()) == kMaxCatchUp) break;
  }
  int queued = 0;
  RoleScope as_owner(s.owner);
  for (auto f = missed.rbegin(); f != missed.rend(); ++f)
    if (FireAt(s, *f) != 0) ++queued;
  return queued;
}

void DropAllScheduleJobs() {
  for (const auto& row : CatalogQuery("SELECT jobid FROM pipeline.schedules WHERE jobid IS NOT NULL"))
    UnscheduleJob(row[0]);
  CatalogExec("DELETE FROM pipeline.schedules");
}

}  // namespace pgpipe::pg
