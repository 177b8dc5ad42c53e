// SQL functions of connection profiles: pipeline.set_profile and drop_profile, for the owner of
// a project (profiles.hpp says what a profile is and who reads it).
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"
}

#include "pg/boundary.hpp"
#include "pg/catalog/profiles.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/spi.hpp"

using namespace pgpipe;

// pipeline.set_profile(project text, profile text, settings jsonb): stores or replaces a profile.
PGPIPE_FUNCTION(pipeline_set_profile) {
  std::string project = pg::TextArg(fcinfo, 0);
  std::string profile = pg::TextArg(fcinfo, 1);
  std::string settings = pg::PgCall([&]() -> const char* {
    Jsonb* value = PG_GETARG_JSONB_P(2);
    return JsonbToCString(nullptr, &value->root, VARSIZE(value));
  });
  pg::SpiSession spi;
  pg::SetProfile(project, profile, settings);
  spi.Finish();
  PG_RETURN_VOID();
}

// pipeline.drop_profile(project text, profile text) returns boolean: false when there was none.
PGPIPE_FUNCTION(pipeline_drop_profile) {
  std::string project = pg::TextArg(fcinfo, 0);
  std::string profile = pg::TextArg(fcinfo, 1);
  pg::SpiSession spi;
  bool dropped = pg::DropProfile(project, profile);
  spi.Finish();
  return BoolGetDatum(dropped);
}
