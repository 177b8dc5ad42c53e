// Loading a run and the resume rules: see load.hpp.
extern "C" {
#include "postgres.h"
}

#include "core/dag.hpp"
#include "core/render.hpp"
#include "pg/catalog/registry.hpp"
#include "pg/privilege.hpp"
#include "pg/run/load.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/state.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::BlockState;
using core::BlockType;
using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

int64_t ToInt(const SqlValue& v, int64_t fallback = -1) { return v ? std::stoll(*v) : fallback; }

// Whether what a succeeded block did still stands (see load.hpp).
bool OutputStands(const Run& run, const core::BlockSpec& spec, const BlockRun& block, const SqlRow& row) {
  switch (spec.type) {
    case BlockType::kDataLoader:
    case BlockType::kTransformer:
      // (a block that ran fused has no output of its own: it runs again)
      return StagingIntact(block.relid, run.owner, block.rows_out);
    case BlockType::kConditional:
      return row[5].has_value();
    default:
      return true;
  }
}

// The run and its blocks as stored; with `resume`, the resume rules of load.hpp applied.
Run Load(int64_t run_id, bool resume, std::optional<Error>* prior_failure) {
  auto rows = CatalogQuery(
      "SELECT r.pipeline_id, r.version, r.owner::oid, p.project, r.trigger, "
      "(r.variables || jsonb_build_object('run_id', r.run_id, 'pipeline', p.name, "
      " 'execution_date', coalesce(r.execution_date, r.created_at), "
      " 'interval_start', r.interval_start, 'interval_end', r.interval_end))::text "
      "FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) WHERE r.run_id = $1::bigint",
      {Num(run_id)});
  if (rows.empty()) throw Error(sqlstate::kUndefinedObject, "run " + Num(run_id) + " does not exist");
  Run run;
  run.id = run_id;
  run.pipeline_id = std::stoll(*rows[0][0]);
  run.version = std::stoi(*rows[0][1]);
  run.owner = static_cast<unsigned int>(std::stoul(*rows[0][2]));
  run.project = *rows[0][3];
  run.trigger = *rows[0][4];
  // The worker acts as the run's owner; anything else is a launcher bug, never to be papered over.
  if (run.owner != CurrentRole())
    throw Error(sqlstate::kInsufficientPrivilege, "run " + Num(run_id) + " belongs to role \"" +
                                                      RoleName(run.owner) + "\", not to this worker's role \"" +
                                                      RoleName(CurrentRole()) + "\"");
  run.spec = LoadVersionSpec(run.pipeline_id, run.version);
  run.variables_select = core::VariablesSelectSql(*rows[0][5]);
  for (size_t i = 0; i < run.spec.blocks.size(); ++i) {
    const core::BlockSpec& b = run.spec.blocks[i];
    run.blocks[b.name].index = i;
    for (const auto& up : b.upstream) run.consumers[up]++;
  }

  auto block_rows = CatalogQuery(
      "SELECT block_name, status, output_relation, coalesce(output_oid, 0), rows_out, condition, attempt, "
      "error, sqlstate FROM pipeline.block_runs WHERE run_id = $1::bigint",
      {Num(run_id)});
  std::map<std::string, BlockState> stored;
  for (const auto& row : block_rows) {
    auto it = run.blocks.find(*row[0]);
    if (it == run.blocks.end()) continue;
    BlockRun& block = it->second;
    BlockState state = core::ParseBlockState(*row[1]).value_or(BlockState::kPending);
    stored[it->first] = state;
    block.attempts_done = static_cast<int>(ToInt(row[6], 0));
    if (!resume) {
      block.state = state;
      block.relation = row[2].value_or("");
      block.relid = static_cast<unsigned int>(std::stoul(*row[3]));
      block.rows_out = ToInt(row[4]);
      block.said_false = row[5] == SqlValue("f");
      continue;
    }
    if (state == BlockState::kFailed) {
      block.state = BlockState::kFailed;
      if (prior_failure && !*prior_failure)
        *prior_failure = Error(row[8].value_or(sqlstate::kInternalError),
                               "block \"" + it->first + "\" failed: " + row[7].value_or("unknown error"));
      continue;
    }
    if (state != BlockState::kSucceeded) continue;
    block.relation = row[2].value_or("");
    block.relid = static_cast<unsigned int>(std::stoul(*row[3]));
    block.rows_out = ToInt(row[4]);
    block.said_false = row[5] == SqlValue("f");
    if (OutputStands(run, run.Spec(it->first), block, row)) block.state = BlockState::kSucceeded;
  }
  if (!resume) return run;
  // What follows a block that runs again runs again too (exporters and callbacks excepted).
  for (const auto& name : core::TopologicalOrder(run.spec)) {
    BlockRun& block = run.blocks.at(name);
    const core::BlockSpec& spec = run.Spec(name);
    if (block.state != BlockState::kSucceeded || spec.type == BlockType::kDataExporter ||
        spec.type == BlockType::kCallback)
      continue;
    for (const auto& up : spec.upstream)
      if (run.blocks.at(up).state != BlockState::kSucceeded) block.state = BlockState::kPending;
  }
  for (auto& [name, block] : run.blocks) {
    if (block.state != BlockState::kPending) continue;
    block.relation.clear();
    block.relid = 0;
    block.rows_out = -1;
    block.said_false = false;
    auto was = stored.find(name);
    if (was != stored.end() && was->second != BlockState::kPending) {
      BlockChange change;
      change.clear_output = true;
      MoveBlock(run.id, name, core::BlockEvent::kReset, change);
    }
  }
  return run;
}

}  // namespace

Run LoadRun(int64_t run_id, std::optional<Error>* prior_failure) { return Load(run_id, true, prior_failure); }

Run LoadRunAsItStands(int64_t run_id) { return Load(run_id, false, nullptr); }

}  // namespace pgpipe::pg
