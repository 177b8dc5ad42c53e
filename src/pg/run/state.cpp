// Persisting transitions: see state.hpp. The SQL below is the only SQL in pg_pipeline that
// writes runs.status or block_runs.status (besides creating the rows, in create.cpp).
extern "C" {
#include "postgres.h"
}

#include "pg/run/state.hpp"

#include "core/error.hpp"
#include "pg/privilege.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::BlockEvent;
using core::BlockState;
using core::Error;
using core::RunEvent;
using core::RunState;

namespace {

// Tells listeners about a run's state: one JSON shape for every event.
void Notify(int64_t run_id, RunState state, const std::string& error) {
  SpiExec("SELECT pg_notify('pipeline_events', json_build_object("
          "'run_id', r.run_id, 'pipeline', p.name, 'project', p.project, 'status', $2::text, "
          "'trigger', r.trigger, 'retry_of', r.retry_of, 'error', NULLIF($3, ''))::text) "
          "FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) WHERE r.run_id = $1::bigint",
          {Num(run_id), core::StateName(state), error});
}

[[noreturn]] void DamagedState(const std::string& what, const std::string& status) {
  throw Error(core::sqlstate::kDataCorrupted, what + " has an unknown status \"" + status + "\"");
}

}  // namespace

std::optional<RunState> MoveRun(int64_t run_id, RunEvent event, const RunChange& change) {
  return AsExtensionOwner([&]() -> std::optional<RunState> {
    SqlValue status = SpiScalar("SELECT status FROM pipeline.runs WHERE run_id = $1::bigint FOR UPDATE",
                                {Num(run_id)});
    if (!status) return std::nullopt;
    auto from = core::ParseRunState(*status);
    if (!from) DamagedState("run " + Num(run_id), *status);
    auto to = core::NextState(*from, event);
    if (!to) return std::nullopt;
    const char* name = core::StateName(*to);
    switch (*to) {
      case RunState::kRunning:
        SpiExec("UPDATE pipeline.runs SET status = $2, claimed_at = clock_timestamp(), worker_pid = NULL, "
                "started_at = coalesce(started_at, clock_timestamp()) WHERE run_id = $1::bigint",
                {Num(run_id), name});
        break;
      case RunState::kQueued:
        SpiExec("UPDATE pipeline.runs SET status = $2, worker_pid = NULL, claimed_at = NULL, "
                "recoveries = recoveries + $3::int WHERE run_id = $1::bigint",
                {Num(run_id), name, change.recovered ? "1" : "0"});
        break;
      default:
        SpiExec("UPDATE pipeline.runs SET status = $2, finished_at = clock_timestamp(), "
                "error = NULLIF($3, ''), sqlstate = NULLIF(NULLIF($4, ''), '00000'), "
                "warnings = (SELECT coalesce(sum(b.warnings), 0) FROM pipeline.block_runs b WHERE b.run_id = $1::bigint) "
                "WHERE run_id = $1::bigint",
                {Num(run_id), name, change.error, change.sqlstate});
    }
    Notify(run_id, *to, change.error);
    return to;
  });
}

std::optional<BlockState> MoveBlock(int64_t run_id, const std::string& block, BlockEvent event,
                                    const BlockChange& c) {
  return AsExtensionOwner([&]() -> std::optional<BlockState> {
    SqlValue status = SpiScalar(
        "SELECT status FROM pipeline.block_runs WHERE run_id = $1::bigint AND block_name = $2 FOR UPDATE",
        {Num(run_id), block});
    if (!status) return std::nullopt;
    auto from = core::ParseBlockState(*status);
    if (!from) DamagedState("block \"" + block + "\" of run " + Num(run_id), *status);
    auto to = core::NextState(*from, event);
    if (!to) return std::nullopt;
    const std::vector<SqlValue> key = {Num(run_id), block, core::StateName(*to)};
    auto with = [&key](std::vector<SqlValue> more) {
      std::vector<SqlValue> all = key;
      all.insert(all.end(), more.begin(), more.end());
      return all;
    };
    switch (*to) {
      case BlockState::kRunning:
        SpiExec("UPDATE pipeline.block_runs SET status = $3, attempt = $4::int, started_at = clock_timestamp(), "
                "finished_at = NULL, next_attempt_at = NULL, worker_pid = pg_backend_pid(), warnings = 0 "
                "WHERE run_id = $1::bigint AND block_name = $2",
                with({Num(c.attempt)}));
        break;
      case BlockState::kSucceeded:
        SpiExec("UPDATE pipeline.block_runs SET status = $3, finished_at = clock_timestamp(), "
                "rows_in = NULLIF($4::bigint, -1), rows_out = NULLIF($5::bigint, -1), bytes = NULLIF($6::bigint, -1), "
                "output_relation = NULLIF($7, ''), output_oid = NULLIF($8::oid, 0), condition = $9::boolean, "
                "error = NULL, sqlstate = NULL, error_detail = NULL, warnings = $10::int "
                "WHERE run_id = $1::bigint AND block_name = $2",
                with({Num(c.rows_in), Num(c.rows_out), Num(c.bytes), c.relation, Num(c.relid),
                      c.condition ? SqlValue(*c.condition ? "true" : "false") : std::nullopt, Num(c.warnings)}));
        break;
      case BlockState::kPending:
        SpiExec("UPDATE pipeline.block_runs SET status = $3, finished_at = NULL, worker_pid = NULL, "
                "output_relation = CASE WHEN $4::boolean THEN NULL ELSE output_relation END, "
                "output_oid = CASE WHEN $4::boolean THEN NULL ELSE output_oid END, "
                "rows_out = CASE WHEN $4::boolean THEN NULL ELSE rows_out END, "
                "condition = CASE WHEN $4::boolean THEN NULL ELSE condition END "
                "WHERE run_id = $1::bigint AND block_name = $2",
                with({c.clear_output ? "true" : "false"}));
        break;
      default:  // failed, cancelled, skipped, upstream_failed
        SpiExec("UPDATE pipeline.block_runs SET status = $3, finished_at = clock_timestamp(), "
                "error = coalesce(NULLIF($4, ''), error), sqlstate = coalesce(NULLIF($5, ''), sqlstate), "
                "error_detail = coalesce(NULLIF($6, ''), error_detail), warnings = greatest(warnings, $7::int) "
                "WHERE run_id = $1::bigint AND block_name = $2",
                with({c.error, c.sqlstate, c.detail, Num(c.warnings)}));
    }
    return to;
  });
}

bool NoteRunWorker(int64_t run_id) {
  return CatalogExec("UPDATE pipeline.runs SET worker_pid = pg_backend_pid(), "
                     "started_at = coalesce(started_at, clock_timestamp()) "
                     "WHERE run_id = $1::bigint AND status = 'running'",
                     {Num(run_id)}) == 1;
}

void BeginAttempt(int64_t run_id, const std::string& block, BlockState now, int attempt) {
  BlockChange change;
  change.attempt = attempt;
  if (!MoveBlock(run_id, block, now == BlockState::kPending ? BlockEvent::kStart : BlockEvent::kRetry, change))
    throw Error(core::sqlstate::kQueryCanceled, "block \"" + block + "\" of run " + Num(run_id) +
                                                    " can no longer start: the run was stopped");
  CatalogExec("INSERT INTO pipeline.block_attempts (run_id, block_name, attempt) VALUES ($1::bigint, $2, $3::int) "
              "ON CONFLICT (run_id, block_name, attempt) DO UPDATE SET status = 'running', "
              "started_at = clock_timestamp(), finished_at = NULL, error = NULL, sqlstate = NULL, note = NULL",
              {Num(run_id), block, Num(attempt)});
}

void EndAttempt(int64_t run_id, const std::string& block, int attempt, const std::string& status,
                const Error* error, const std::string& note) {
  CatalogExec("UPDATE pipeline.block_attempts SET status = $4, finished_at = clock_timestamp(), "
              "error = $5, sqlstate = $6, note = NULLIF($7, '') "
              "WHERE run_id = $1::bigint AND block_name = $2 AND attempt = $3::int",
              {Num(run_id), block, Num(attempt), status,
               error ? SqlValue(error->message()) : std::nullopt,
               error ? SqlValue(error->sqlstate()) : std::nullopt, note});
}

void NoteRetry(int64_t run_id, const std::string& block, const Error& error, double delay_s) {
  CatalogExec("UPDATE pipeline.block_runs SET error = $3, sqlstate = $4, error_detail = NULLIF($5, ''), "
              "next_attempt_at = clock_timestamp() + make_interval(secs => $6::float8) "
              "WHERE run_id = $1::bigint AND block_name = $2",
              {Num(run_id), block, error.message(), error.sqlstate(), DetailOf(error),
               std::to_string(delay_s)});
}

void WriteLog(int64_t run_id, const std::string& block, const LogLine& line) {
  CatalogExec("INSERT INTO pipeline.run_log (run_id, block_name, level, message) "
              "VALUES ($1::bigint, NULLIF($2, ''), $3, $4)",
              {Num(run_id), block, line.level, line.message});
}

}  // namespace pgpipe::pg
