// Schedules: a pipeline run on a cron schedule is a row of pipeline.schedules and a pg_cron job
// named pipeline:<project>.<name> that only fires pipeline._fire_schedule(<schedule_id>). The
// job runs as the role that scheduled it (pg_cron's username), created through
// cron.schedule_in_database by the extension's owner: the role needs no privilege on pg_cron's
// schema, and gets no power over other roles' jobs. pg_cron is optional: only schedules need it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgpipe::pg {

// Schedules pipeline `name` of `project` (the calling role's) on `cron`, replacing its schedule;
// returns the pg_cron job id. 0A000 when pg_cron is not installed in this database. `catch_up`
// (none, latest, all) says what the launcher does, when it starts, about firings missed while
// it was down. (Scheduling or rescheduling marks every firing up to now as done.)
int64_t SchedulePipeline(const std::string& project, const std::string& name, const std::string& cron,
                         const std::string& variables_json, const std::string& catch_up);

// Removes the schedule of pipeline `name` (the calling role's); false when it had none.
bool UnschedulePipeline(const std::string& project, const std::string& name);

// Removes the schedule of a pipeline (its row and its pg_cron job), if it has one.
void DropSchedule(int64_t pipeline_id);

// What a schedule's job runs: queues the run of the interval from the previous firing to this
// one, as the calling role, which must be the schedule's. Returns the run id (0 if skipped).
// Each firing queues at most one run, however often it is fired (last_fire).
int64_t FireSchedule(int64_t schedule_id);

// Catching up, which the launcher does when it starts: the schedules whose catch_up is not
// none; and, for one of them, as its role, the runs owed for firings missed since its
// last_fire (latest: the newest only; all: each, oldest first, the newest kMaxCatchUp).
// Returns how many runs it queued; throws when the schedule's role is gone.
constexpr int kMaxCatchUp = 100;
std::vector<int64_t> SchedulesToCatchUp();
int CatchUpSchedule(int64_t schedule_id);

// Removes every schedule's pg_cron job (DROP EXTENSION).
void DropAllScheduleJobs();

}  // namespace pgpipe::pg
