// Making runs: see create.hpp.
extern "C" {
#include "postgres.h"
}

#include "core/spec_json.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog/registry.hpp"
#include "pg/privilege.hpp"
#include "pg/run/context.hpp"
#include "pg/run/create.hpp"
#include "pg/spi.hpp"
#include "pg/workers/shmem.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// The pipeline's variables with their defaults, as a JSON object.
std::string Defaults(const core::PipelineSpec& spec) {
  std::string json = "{";
  for (size_t i = 0; i < spec.variables.size(); ++i)
    json += (i ? "," : "") + core::JsonString(spec.variables[i].name) + ":" + spec.variables[i].json;
  return json + "}";
}

// The new run's queued event (later events come from MoveRun).
void NotifyCreated(int64_t run_id, const char* status) {
  SpiExec("SELECT pg_notify('pipeline_events', json_build_object("
          "'run_id', r.run_id, 'pipeline', p.name, 'project', p.project, 'status', $2::text, "
          "'trigger', r.trigger, 'retry_of', r.retry_of, 'error', NULL)::text) "
          "FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) WHERE r.run_id = $1::bigint",
          {Num(run_id), status});
}

}  // namespace

int64_t CreateRun(const NewRun& r) {
  StoredPipeline stored = FindPipeline(r.project, r.name);
  const std::string pipeline_id = Num(stored.pipeline_id);
  if (!r.running && stored.spec.settings.overlap == "skip" &&
      (r.trigger == "trigger" || r.trigger == "schedule")) {
    int64_t active = std::stoll(*CatalogScalar(
        "SELECT count(*) FROM pipeline.runs WHERE pipeline_id = $1::bigint AND status IN ('queued', 'running')",
        {pipeline_id}));
    if (active >= stored.spec.settings.max_active_runs) {
      std::string message = "pipeline \"" + r.name + "\" already has " + Num(active) +
                            " active run(s): this " + r.trigger + " is skipped (overlap: skip)";
      const char* m = message.c_str();
      PgCall([m] { ereport(NOTICE, (errmsg("%s", m))); });
      return 0;
    }
  }
  const char* status = r.running ? "running" : "queued";
  const std::string caller = Num(CurrentRole());  // (before acting as the extension's owner)
  int64_t run_id = AsExtensionOwner([&] {
    int64_t id = std::stoll(*SpiScalar(
        "INSERT INTO pipeline.runs (pipeline_id, version, status, trigger, variables, execution_date, "
        "interval_start, interval_end, owner, started_at, claimed_at) "
        "SELECT $1::bigint, $2::int, $3, $4, v, coalesce(i_start, now()), i_start, i_end, $9::oid::regrole, "
        "CASE WHEN $3 = 'running' THEN clock_timestamp() END, CASE WHEN $3 = 'running' THEN clock_timestamp() END "
        "FROM (SELECT $5::jsonb || $6::jsonb AS v) AS vars, "
        // (a run by hand may pass its data interval as variables, as a schedule would set it)
        "LATERAL (SELECT coalesce(NULLIF($7, ''), v ->> 'interval_start')::timestamptz AS i_start, "
        "                coalesce(NULLIF($8, ''), v ->> 'interval_end')::timestamptz AS i_end) AS i "
        "RETURNING run_id",
        {pipeline_id, Num(stored.version), status, r.trigger, Defaults(stored.spec), r.variables_json,
         r.interval_start, r.interval_end, caller}));
    if (r.backfill_id != 0)
      SpiExec("UPDATE pipeline.runs SET backfill_id = $2::bigint WHERE run_id = $1::bigint",
              {Num(id), Num(r.backfill_id < 0 ? id : r.backfill_id)});
    for (const auto& b : stored.spec.blocks)
      SpiExec("INSERT INTO pipeline.block_runs (run_id, block_name, block_type) VALUES ($1::bigint, $2, $3)",
              {Num(id), b.name, core::BlockTypeName(b.type)});
    NotifyCreated(id, status);
    return id;
  });
  if (!r.running) PgCall([] { WakeLauncherAtCommit(); });
  return run_id;
}

int64_t RetryRun(int64_t run_id) {
  auto rows = CatalogQuery("SELECT owner::oid, status FROM pipeline.runs WHERE run_id = $1::bigint", {Num(run_id)});
  if (rows.empty() || !CanActAs(CurrentRole(), static_cast<Oid>(std::stoul(*rows[0][0]))))
    throw Error(sqlstate::kUndefinedObject, "run " + Num(run_id) + " does not exist", "",
                "Runs of other roles are not visible, and cannot be retried.");
  const std::string& status = *rows[0][1];
  if (status != "failed" && status != "cancelled")
    throw Error("55000", "run " + Num(run_id) + " is " + status + ": only failed or cancelled runs can be retried");
  const std::string caller = Num(CurrentRole());
  int64_t retry_id = AsExtensionOwner([&] {
    int64_t id = std::stoll(*SpiScalar(
        "INSERT INTO pipeline.runs (pipeline_id, version, status, trigger, variables, execution_date, "
        "interval_start, interval_end, backfill_id, retry_of, owner) "
        "SELECT pipeline_id, version, 'queued', 'retry', variables, execution_date, interval_start, "
        "interval_end, backfill_id, run_id, $2::oid::regrole FROM pipeline.runs WHERE run_id = $1::bigint "
        "RETURNING run_id",
        {Num(run_id), caller}));
    // Blocks that succeeded keep their output; the failed and never-run ones run again.
    SpiExec("INSERT INTO pipeline.block_runs (run_id, block_name, block_type, status, rows_in, rows_out, "
            "bytes, output_relation, output_oid, condition) "
            "SELECT $1::bigint, b.block_name, b.block_type, "
            "CASE WHEN b.status = 'succeeded' THEN 'succeeded' ELSE 'pending' END, "
            "CASE WHEN b.status = 'succeeded' THEN b.rows_in END, CASE WHEN b.status = 'succeeded' THEN b.rows_out END, "
            "CASE WHEN b.status = 'succeeded' THEN b.bytes END, CASE WHEN b.status = 'succeeded' THEN b.output_relation END, "
            "CASE WHEN b.status = 'succeeded' THEN b.output_oid END, CASE WHEN b.status = 'succeeded' THEN b.condition END "
            "FROM pipeline.block_runs b WHERE b.run_id = $2::bigint ORDER BY b.block_run_id",
            {Num(id), Num(run_id)});
    NotifyCreated(id, "queued");
    return id;
  });
  PgCall([] { WakeLauncherAtCommit(); });
  return retry_id;
}

}  // namespace pgpipe::pg
