// pipeline._on_drop_extension(): the event trigger that runs before DROP EXTENSION pg_pipeline
// (and DROP SCHEMA pipeline ... CASCADE). It removes what the extension made outside its own
// members, so the drop leaves nothing behind: the schedules' pg_cron jobs, the runs' staging
// relations (recorded by OID), and the roles' staging schemas. A staging schema that holds
// something its role put there itself is not dropped: the error names it (drop it, or its
// contents, first). All of it is rolled back if the DROP fails.
extern "C" {
#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
}

#include <cstring>

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog/schedules.hpp"
#include "pg/privilege.hpp"
#include "pg/run/staging.hpp"
#include "pg/spi.hpp"

using namespace pgpipe;

namespace {

// Whether the statement drops pg_pipeline (or its schema pipeline), as its owner.
bool DropsUs(Node* parsetree) {
  if (parsetree == nullptr || !IsA(parsetree, DropStmt)) return false;
  DropStmt* drop = castNode(DropStmt, parsetree);
  const char* ours = drop->removeType == OBJECT_EXTENSION ? "pg_pipeline"
                     : drop->removeType == OBJECT_SCHEMA  ? "pipeline"
                                                          : nullptr;
  if (ours == nullptr) return false;
  ListCell* lc;
  foreach (lc, drop->objects) {
    Node* object = static_cast<Node*>(lfirst(lc));
    if (IsA(object, String) && strcmp(strVal(object), ours) == 0) {
      Oid ext = get_extension_oid("pg_pipeline", true);
      return OidIsValid(ext) && pg_extension_ownercheck(ext, GetUserId());
    }
  }
  return false;
}

}  // namespace

// The event trigger function (see the file comment).
PGPIPE_FUNCTION(pipeline_on_drop_extension) {
  bool ours = pg::PgCall([&] {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo)) elog(ERROR, "pipeline._on_drop_extension is an event trigger");
    return DropsUs(reinterpret_cast<EventTriggerData*>(fcinfo->context)->parsetree);
  });
  if (!ours) PG_RETURN_VOID();
  pg::SpiSession spi;
  pg::DropAllScheduleJobs();
  std::vector<int64_t> runs;
  for (const auto& row : pg::CatalogQuery("SELECT DISTINCT run_id FROM pipeline.staging"))
    runs.push_back(std::stoll(*row[0]));
  pg::DropStagingOfRuns(runs);
  for (const auto& row : pg::CatalogQuery("SELECT schema_oid::regnamespace::text FROM pipeline.staging_schemas s "
                                          "WHERE EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.oid = s.schema_oid)")) {
    try {
      pg::CatalogExec("DROP SCHEMA " + *row[0]);
    } catch (const core::Error& e) {
      throw core::Error(e.sqlstate(), "cannot drop extension pg_pipeline: staging schema " + *row[0] +
                                          " holds objects pg_pipeline did not make",
                        e.detail(), "Drop those objects (or the schema) first, then drop the extension.");
    }
  }
  spi.Finish();
  PG_RETURN_VOID();
}
