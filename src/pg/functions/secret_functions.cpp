// SQL functions of secrets: pipeline.set_secret and drop_secret write the calling role's own
// secrets (pipeline.secret, in SQL, reads them through row-level security).
extern "C" {
#include "postgres.h"

#include "fmgr.h"
}

#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/privilege.hpp"
#include "pg/spi.hpp"

using namespace pgpipe;

// pipeline.set_secret(name text, value text): stores or replaces the caller's secret.
PGPIPE_FUNCTION(pipeline_set_secret) {
  std::string name = pg::TextArg(fcinfo, 0);
  std::string value = pg::TextArg(fcinfo, 1);
  pg::SpiSession spi;
  pg::CatalogExec("INSERT INTO pipeline.secrets (owner, name, value) VALUES ($1::oid::regrole, $2, $3) "
                  "ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value",
                  {std::to_string(pg::CurrentRole()), name, value});
  spi.Finish();
  PG_RETURN_VOID();
}

// pipeline.drop_secret(name text) returns boolean: false when the caller had no such secret.
PGPIPE_FUNCTION(pipeline_drop_secret) {
  std::string name = pg::TextArg(fcinfo, 0);
  pg::SpiSession spi;
  bool dropped = pg::CatalogExec("DELETE FROM pipeline.secrets WHERE owner = $1::oid::regrole AND name = $2",
                                 {std::to_string(pg::CurrentRole()), name}) > 0;
  spi.Finish();
  return BoolGetDatum(dropped);
}
