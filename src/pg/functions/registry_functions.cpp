// SQL functions of the registry: pipeline.register, validate, import_project, dag,
// create_project, drop_pipeline. Each acts as the calling role (registry.hpp checks what it owns).
extern "C" {
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
}

#include <algorithm>
#include <map>

#include "core/dag.hpp"
#include "core/error.hpp"
#include "core/mage_compile.hpp"
#include "core/mage_project.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/spec_json.hpp"
#include "pg/gucs.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog/registry.hpp"
#include "pg/catalog/schedules.hpp"
#include "pg/privilege.hpp"
#include "pg/python/runtime.hpp"
#include "pg/run/staging.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/spi.hpp"
#include "pg/catalog/profiles.hpp"
#include "pg/subxact.hpp"

using namespace pgpipe;
using core::Error;

namespace {

// One NOTICE naming the Mage keys the files had that mean nothing here.
void ReportIgnored(std::vector<std::string> keys) {
  if (keys.empty()) return;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string list;
  for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
  const char* l = list.c_str();
  pg::PgCall([&] {
    ereport(NOTICE, (errmsg("ignored Mage keys that pg_pipeline does not use: %s", l)));
  });
}

}  // namespace


// pipeline.register(yaml text, project text) returns text: the pipeline's name.
PGPIPE_FUNCTION(pipeline_register) {
  std::string yaml = pg::TextArg(fcinfo, 0);
  std::string project = pg::TextArg(fcinfo, 1);
  pg::SpiSession spi;
  std::vector<std::string> notices;
  std::string name = pg::RegisterPipeline(yaml, project, &notices);
  spi.Finish();
  ReportIgnored(notices);
  return pg::TextResult(name);
}

// pipeline.validate(yaml text) returns jsonb: the canonical spec, without storing anything.
PGPIPE_FUNCTION(pipeline_validate) {
  core::PipelineSpec spec = core::ParsePipelineYaml(pg::TextArg(fcinfo, 0), pg::PipelineYamlLimits());
  return pg::JsonbResult(core::SpecToJson(spec));
}

// pipeline.dag(name text, format text, project text) returns text: Mermaid or DOT.
PGPIPE_FUNCTION(pipeline_dag) {
  std::string name = pg::TextArg(fcinfo, 0);
  std::string format = pg::TextArg(fcinfo, 1);
  std::string project = pg::TextArg(fcinfo, 2);
  if (format != "mermaid" && format != "dot")
    throw Error(core::sqlstate::kInvalidParameterValue, "unknown DAG format \"" + format + "\"", "",
                "Use 'mermaid' or 'dot'.");
  pg::SpiSession spi;
  pg::StoredPipeline stored = pg::FindPipeline(project, name);
  spi.Finish();
  return pg::TextResult(format == "dot" ? core::RenderDot(stored.spec)
                                        : core::RenderMermaid(stored.spec));
}

namespace {

// The server process's environment, for io_config.yaml's {{ env_var('X') }}.
std::optional<std::string> ServerEnv(const std::string& name) {
  const char* value = getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// Imports one converted pipeline, its Python blocks compiled to native ones where `compiler`
// can, in a subtransaction of its own, and its schedules when asked; appends its rows
// (pipeline, blocks, charts, triggers) to `rows`, and when it was imported, the Mage keys it
// ignored to `ignored` and its NOTICE lines to `notices`.
// The shared blocks an import has stored so far: each one's definition, and the pipeline that
// stored it.
using SharedBodies = std::map<std::string, std::pair<std::string, std::string>>;

// A Mage block file used by several pipelines is one shared block while they use it alike; a
// pipeline whose use of it differs (its upstream, its configuration, what it compiled to) keeps
// its own copy, local to it, instead of changing the block under the pipelines imported before
// it (whose versions pin it). Says so in the block's row.
void KeepDifferingBlocksLocal(core::MagePipeline* p, const SharedBodies& stored, std::vector<core::ImportRow>* rows) {
  for (auto& block : p->spec.blocks) {
    if (!block.shared || block.reference_only) continue;
    auto found = stored.find(block.name);
    if (found == stored.end() || found->second.first == pg::SharedBodyJson(block)) continue;
    block.shared = false;
    for (auto& row : *rows)
      if (row.block == block.name && row.kind != "chart") {
        std::string note = "kept local to this pipeline: pipeline \"" + found->second.second +
                           "\" uses the same block file differently (upstream, configuration or compiled form)";
        row.reason = row.reason.empty() ? note : row.reason + "; " + note;
      }
  }
}

void ImportPipeline(const core::MagePipeline& converted, const std::string& project, bool schedules,
                    const core::MageCompiler& compiler, SharedBodies* shared, std::vector<core::ImportRow>* rows,
                    std::vector<std::string>* ignored_keys, std::vector<std::string>* notices) {
  core::MagePipeline p = converted;
  core::CompileMagePipeline(&p, compiler, pg::PipelineYamlLimits());
  core::ImportRow pipeline_row = p.pipeline_row;
  std::vector<core::ImportRow> block_rows = p.block_rows;
  bool imported = false;
  if (p.importable) {
    std::vector<std::string> ignored;
    KeepDifferingBlocksLocal(&p, *shared, &block_rows);
    std::optional<Error> error = pg::InSubtransaction([&] { pg::RegisterSpec(p.spec, p.yaml, project, &ignored); });
    if (!error)
      for (const auto& block : p.spec.blocks)
        if (block.shared && !block.reference_only && !shared->count(block.name))
          (*shared)[block.name] = {pg::SharedBodyJson(block), p.name};
    if (error) {
      pipeline_row.outcome = "refused";
      pipeline_row.reason = std::string(error->message()) + " (SQLSTATE " + error->sqlstate() + ")";
      for (auto& row : block_rows)
        if (row.outcome == "imported") {
          row.outcome = "refused";
          row.reason = "not imported: pipeline \"" + p.name + "\" is refused";
        }
    } else {
      imported = true;
      ignored_keys->insert(ignored_keys->end(), ignored.begin(), ignored.end());
      notices->insert(notices->end(), p.notices.begin(), p.notices.end());
    }
  }
  rows->push_back(pipeline_row);
  rows->insert(rows->end(), block_rows.begin(), block_rows.end());
  for (const auto& s : p.schedules) {
    if (!imported) {
      rows->push_back({p.name, s.name, "trigger", "", "skipped",
                       "schedule '" + s.written + "' not imported: its pipeline is not imported"});
    } else if (!schedules) {
      rows->push_back(core::ScheduleNotAsked(p.name, s));
    } else {
      int64_t job = 0;
      std::optional<Error> error = pg::InSubtransaction(
          [&] { job = pg::SchedulePipeline(project, p.name, s.cron, s.variables_json, "none"); });
      if (error)
        rows->push_back({p.name, s.name, "trigger", "", "refused",
                         "schedule '" + s.written + "': " + error->message() + " (SQLSTATE " + error->sqlstate() + ")"});
      else
        rows->push_back({p.name, s.name, "trigger", "", "imported",
                         "scheduled '" + s.cron + "'" + (s.cron != s.written ? " (Mage's " + s.written + ")" : "") +
                             " as pg_cron job " + std::to_string(job)});
    }
  }
  rows->insert(rows->end(), p.trigger_rows.begin(), p.trigger_rows.end());
}

// Stores io_config.yaml's profiles in `project` (merged into those already there, each in a
// subtransaction of its own); a profile refused turns its row to refused.
void ImportProfiles(const core::MageProject& mage, const std::string& project, std::vector<core::ImportRow>* rows) {
  for (core::ImportRow row : mage.profile_rows) {
    if (row.kind == "profile" && row.outcome == "imported") {
      for (const auto& profile : mage.profiles) {
        if (profile.name != row.block) continue;
        std::optional<Error> error =
            pg::InSubtransaction([&] { pg::SetProfile(project, profile.name, profile.settings_json, true); });
        if (error) {
          row.outcome = "refused";
          row.reason = std::string(error->message()) + " (SQLSTATE " + error->sqlstate() + ")";
        }
      }
    }
    rows->push_back(row);
  }
}

// Returns `rows` as the function's result set (empty strings as NULL).
Datum ReturnRows(FunctionCallInfo fcinfo, const std::vector<core::ImportRow>& rows) {
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::PgCall([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  for (const auto& row : rows) {
    const std::string* fields[] = {&row.pipeline, &row.block, &row.kind, &row.language, &row.outcome, &row.reason};
    Datum values[6];
    bool nulls[6];
    for (int i = 0; i < 6; ++i) {
      nulls[i] = fields[i]->empty();
      values[i] = nulls[i] ? (Datum)0 : pg::TextResult(*fields[i]);
    }
    pg::PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
  }
  return (Datum)0;
}

}  // namespace

// pipeline.import_project(dir text, project text, schedules boolean, native boolean) returns
// table (pipeline, block, kind, language, outcome, reason): pipeline by pipeline, each in a
// subtransaction, so one that cannot be imported stops no other; Python blocks compiled to
// native ones where they can be, unless native is false.
PGPIPE_FUNCTION(pipeline_import_project) {
  if (pg::ArgIsNull(fcinfo, 0))
    throw Error(core::sqlstate::kInvalidParameterValue, "project folder must not be NULL");
  bool allowed = pg::PgCall([] { return has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES); });
  if (!allowed)
    throw Error(core::sqlstate::kInsufficientPrivilege,
                "permission denied to import a project from the server's file system", "",
                "Only superusers and roles with the privileges of pg_read_server_files may "
                "import projects.");
  std::string dir = pg::TextArg(fcinfo, 0);
  const bool schedules = !pg::ArgIsNull(fcinfo, 2) && PG_GETARG_BOOL(2);
  const bool native = pg::ArgIsNull(fcinfo, 3) || PG_GETARG_BOOL(3);
  core::MageProject mage = core::ReadMageProject(dir, pg::PipelineYamlLimits(), ServerEnv);
  // (a Mage project folder is often not an identifier: magic-zoomcamp becomes magic_zoomcamp)
  std::string project = pg::ArgIsNull(fcinfo, 1) ? core::MageIdentifier(mage.name) : pg::TextArg(fcinfo, 1);

  pg::SpiSession spi;
  pg::EnsureProject(project, true, mage.dir);
  std::vector<core::ImportRow> rows;
  std::vector<std::string> ignored, charts;
  ImportProfiles(mage, project, &rows);
  // (after the profiles: an exporter compiles only when its profile means this database)
  core::MageCompiler compiler = pg::ImportCompiler(project, native);
  SharedBodies shared;
  for (const auto& p : mage.pipelines) ImportPipeline(p, project, schedules, compiler, &shared, &rows, &ignored, &charts);
  spi.Finish();
  ReportIgnored(ignored);
  for (const auto& line : charts) {
    const char* text = line.c_str();
    pg::PgCall([&] { ereport(NOTICE, (errmsg("%s", text))); });
  }
  return ReturnRows(fcinfo, rows);
}

// pipeline.create_project(name text) returns text: the new project, owned by the calling role.
PGPIPE_FUNCTION(pipeline_create_project) {
  std::string name = pg::TextArg(fcinfo, 0);
  pg::SpiSession spi;
  pg::CreateProject(name);
  spi.Finish();
  return pg::TextResult(name);
}

// pipeline.drop_pipeline(name text, project text) returns boolean: false when there was none
// (or it is another role's). Its schedule and its runs' staging go first.
PGPIPE_FUNCTION(pipeline_drop_pipeline) {
  std::string name = pg::TextArg(fcinfo, 0);
  std::string project = pg::TextArg(fcinfo, 1);
  pg::SpiSession spi;
  bool dropped = false;
  auto owner = pg::CatalogScalar("SELECT owner::oid FROM pipeline.pipelines WHERE project = $1 AND name = $2",
                                 {project, name});
  if (owner && pg::CanActAs(pg::CurrentRole(), static_cast<Oid>(std::stoul(*owner)))) {
    pg::StoredPipeline stored = pg::FindPipeline(project, name);
    pg::DropSchedule(stored.pipeline_id);
    std::vector<int64_t> runs;
    for (const auto& row : pg::CatalogQuery("SELECT run_id FROM pipeline.runs WHERE pipeline_id = $1::bigint",
                                            {std::to_string(stored.pipeline_id)}))
      runs.push_back(std::stoll(*row[0]));
    pg::DropStagingOfRuns(runs);
    dropped = pg::CatalogExec("DELETE FROM pipeline.pipelines WHERE pipeline_id = $1::bigint",
                              {std::to_string(stored.pipeline_id)}) > 0;
  }
  spi.Finish();
  return BoolGetDatum(dropped);
}
