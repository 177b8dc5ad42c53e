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

#include "core/dag.hpp"
#include "core/error.hpp"
#include "core/mage_project.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/spec_json.hpp"
#include "pg/gucs.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog/registry.hpp"
#include "pg/catalog/schedules.hpp"
#include "pg/privilege.hpp"
#include "pg/run/staging.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/spi.hpp"

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

// pipeline.import_project(dir text, project text) returns setof text: the pipelines registered.
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
  core::MageProject project = core::ReadMageProject(dir);
  if (!pg::ArgIsNull(fcinfo, 1)) project.name = pg::TextArg(fcinfo, 1);

  pg::SpiSession spi;
  pg::EnsureProject(project.name, true, dir, project.io_config_json);
  std::vector<std::string> names, notices;
  for (const auto& pipeline : project.pipelines) {
    try {
      names.push_back(pg::RegisterPipeline(pipeline.yaml, project.name, &notices));
    } catch (const Error& e) {
      throw e.WithContext("importing \"" + pipeline.metadata_path + "\"");
    }
  }
  spi.Finish();
  ReportIgnored(notices);

  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::PgCall([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  for (const auto& name : names) {
    Datum value = pg::TextResult(name);
    pg::PgCall([&] {
      bool isnull = false;
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
    });
  }
  return (Datum)0;
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
