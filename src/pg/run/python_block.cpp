// Python blocks: see python_block.hpp. The request and response are the runtime's
// (python/pg_pipeline_runtime/runner.py); both are built and read in SQL, as jsonb.
extern "C" {
#include "postgres.h"
}

#include "pg/run/python_block.hpp"

#include "core/error.hpp"
#include "core/spec_json.hpp"
#include "core/sql_text.hpp"
#include "pg/privilege.hpp"
#include "pg/python/runtime.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/tests.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// The runtime's request for block `b`: its code, its upstream outputs in order, where to write,
// and the run's variables, dates and project (folder, and as io_config the project's connection
// profiles that the run's role may read: another role's pipeline in the same project does not
// get the owner's passwords), read from the catalog.
std::string Request(const Run& run, const core::BlockSpec& b, const std::string& output) {
  std::string upstream = "[";
  for (size_t i = 0; i < b.upstream.size(); ++i) {
    const BlockRun& u = run.blocks.at(b.upstream[i]);
    upstream += (i ? "," : "") + std::string("{\"name\":") + core::JsonString(b.upstream[i]) +
                ",\"relation\":" + (u.relation.empty() ? "null" : core::JsonString(u.relation)) + "}";
  }
  upstream += "]";
  // (the catalog as the extension's owner: the run's own row and its project's)
  return *CatalogScalar(
      "SELECT jsonb_build_object('kind', $2, 'block', $3, 'path', NULLIF($4, ''), 'source', $5, "
      "'upstream', $6::jsonb, 'output', NULLIF($7, ''), 'output_unlogged', true, "
      "'variables', r.variables, 'execution_date', r.execution_date, 'run_id', r.run_id, 'pipeline', p.name, "
      "'interval_start_datetime', r.interval_start, 'interval_end_datetime', r.interval_end, "
      "'project_dir', pr.source_dir, 'io_config', coalesce((SELECT jsonb_object_agg(f.profile, f.settings) "
      "FROM pipeline.profiles f WHERE f.project = p.project AND pg_has_role(r.owner::oid, f.owner::oid, 'USAGE')), '{}'), "
      "'lowercase_columns', true, "
      "'configuration', coalesce(NULLIF($8, '')::jsonb, '{}'))::text "
      "FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) "
      "LEFT JOIN pipeline.projects pr ON pr.name = p.project WHERE r.run_id = $1::bigint",
      {Num(run.id), b.type == core::BlockType::kConditional ? "conditional" : core::BlockTypeName(b.type), b.name,
       b.file, b.python, upstream, output, b.configuration_json});
}

// Calls the runtime as the run's role and takes in its response: the block's error or failed
// @test becomes this attempt's error; prints and notes become log lines. Returns the response.
std::string Call(Run& run, const core::BlockSpec& b, const std::string& output, AttemptResult& result) {
  RequirePython(CurrentRole(), "block \"" + b.name + "\" is Python");
  std::string response = *SpiScalar("SELECT pipeline._python_block($1::jsonb)::text", {Request(run, b, output)});
  auto error = SpiQuery("SELECT e ->> 'message', coalesce(e ->> 'sqlstate', 'XX000'), e ->> 'detail', e ->> 'hint' "
                        "FROM (SELECT $1::jsonb -> 'error' AS e) x WHERE jsonb_typeof(e) = 'object'",
                        {response});
  for (const auto& line : SpiQuery("SELECT l FROM jsonb_array_elements_text($1::jsonb -> 'log') AS l", {response}))
    result.log.push_back({"info", line[0].value_or("")});
  if (!error.empty())
    throw Error(*error[0][1], error[0][0].value_or("the Python block failed"), error[0][2].value_or(""),
                error[0][3].value_or(""));
  for (const auto& test : SpiQuery("SELECT t ->> 'name', t ->> 'message', (t ->> 'passed')::boolean, t ->> 'line' "
                                   "FROM jsonb_array_elements($1::jsonb -> 'tests') AS t",
                                   {response})) {
    if (test[2] == SqlValue("t")) {
      result.log.push_back({"info", "test passed: " + test[0].value_or("")});
      continue;
    }
    std::string why = test[1] && !test[1]->empty() ? *test[1] : "@test " + test[0].value_or("") + " failed";
    throw Error(kTestFailed, "block \"" + b.name + "\" test failed: " + why,
                test[3] ? "In " + (b.file.empty() ? b.name : b.file) + ", line " + *test[3] + "." : "");
  }
  return response;
}

}  // namespace

void RunPythonBlock(Run& run, BlockRun& state, const core::BlockSpec& b, AttemptResult& result) {
  // Exporters publish from their own code; the others may return a DataFrame.
  const bool has_output = b.type != core::BlockType::kDataExporter;
  std::string output = has_output ? NewStagingName(run, b.name) : "";
  std::string response = Call(run, b, output, result);
  SqlValue rows = SpiScalar("SELECT $1::jsonb ->> 'rows'", {response});
  if (has_output && SpiScalar("SELECT to_regclass($1) IS NOT NULL", {output}) == SqlValue("t")) {
    state.relation = output;
    state.relid = RecordStaging(run, b.name, state.relation, 'r');
    result.rows_out = rows ? std::stoll(*rows) : -1;
    RunTests(run, b, state.relation, false, result);
  } else {
    state.relation.clear();
  }
  char seconds[160];
  std::snprintf(seconds, sizeof seconds, "ran Python %s",
                SpiScalar("SELECT format('(read %s s, run %s s, write %s s, tests %s s)', "
                          "round((s ->> 'read')::numeric, 2), round((s ->> 'run')::numeric, 2), "
                          "round((s ->> 'write')::numeric, 2), round((s ->> 'tests')::numeric, 2)) "
                          "FROM (SELECT $1::jsonb -> 'seconds' AS s) x",
                          {response}).value_or("").c_str());
  result.log.push_back({"info", seconds});
}

bool PythonCondition(Run& run, const core::BlockSpec& b, AttemptResult& result) {
  std::string response = Call(run, b, "", result);
  return SpiScalar("SELECT ($1::jsonb ->> 'result')::boolean", {response}) == SqlValue("t");
}

}  // namespace pgpipe::pg
