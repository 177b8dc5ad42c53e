// SQL functions that run pipelines: pipeline.run.
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/jsonb.h"
}

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/run_worker.hpp"
#include "pg/spi.hpp"

using namespace pgpipe;

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
    throw core::Error(core::sqlstate::kInvalidParameterValue,
                      std::string(what) + " must be a JSON object", "",
                      "Pass variables as '{\"year\": 2021, \"month\": 1}'.");
  return out.text;
}

// The worker sees committed catalog rows only: a pipeline registered (or changed) by the caller's
// own open transaction would be missing there, or run in its previous version. Say so now.
void CheckCommitted(const std::string& project, const std::string& name) {
  pg::SpiSession spi;
  pg::SqlValue xmin = pg::SpiScalar(
      "SELECT v.xmin::text FROM pipeline.pipelines p JOIN pipeline.pipeline_versions v USING (pipeline_id) "
      "WHERE p.project = $1 AND p.name = $2 ORDER BY v.version DESC LIMIT 1",
      {project, name});
  spi.Finish();
  if (!xmin)
    throw core::Error(core::sqlstate::kUndefinedObject,
                      "pipeline \"" + name + "\" does not exist in project \"" + project + "\"", "",
                      "Register it with pipeline.register(yaml).");
  TransactionId xid = static_cast<TransactionId>(std::stoul(*xmin));
  if (pg::PgCall([xid] { return TransactionIdIsCurrentTransactionId(xid); }))
    throw core::Error("25000",
                      "pipeline \"" + name + "\" was registered in this transaction, which has not committed",
                      "Runs execute in a background worker, which sees committed pipelines only.",
                      "Commit, then run it.");
}

}  // namespace

// pipeline.run(name text, variables jsonb, project text) returns bigint: the run id.
PGPIPE_FUNCTION(pipeline_run) {
  if (pg::ArgIsNull(fcinfo, 0))
    throw core::Error(core::sqlstate::kInvalidParameterValue, "pipeline name must not be NULL");
  std::string name = pg::TextArg(fcinfo, 0);
  std::string variables = JsonObjectArg(fcinfo, 1, "variables");
  std::string project = pg::ArgIsNull(fcinfo, 2) ? "default" : pg::TextArg(fcinfo, 2);
  CheckCommitted(project, name);
  return Int64GetDatum(pg::RunInWorker(project, name, variables));
}
