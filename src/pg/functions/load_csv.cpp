// pipeline.load_csv(url, target, options): the HTTP loader on its own, as a SQL function.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"
}

#include "core/error.hpp"
#include "core/pipeline_yaml.hpp"
#include "pg/gucs.hpp"
#include "pg/boundary.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/fmgr_args.hpp"

using namespace pgpipe;

// pipeline.load_csv(url text, target text, options jsonb) returns bigint: the rows loaded.
PGPIPE_FUNCTION(pipeline_load_csv) {
  pg::LoadRequest request;
  std::string options_json = "{}";
  if (!pg::ArgIsNull(fcinfo, 2)) {
    const char* json = pg::PgCall([&] {
      Jsonb* options = PG_GETARG_JSONB_P(2);
      return JsonbToCString(nullptr, &options->root, VARSIZE(options));
    });
    options_json = json;
  }
  if (pg::ArgIsNull(fcinfo, 0) || pg::ArgIsNull(fcinfo, 1))
    throw core::Error(core::sqlstate::kInvalidParameterValue,
                      std::string(pg::ArgIsNull(fcinfo, 0) ? "url" : "target") + " must not be NULL");
  request.source = core::ParseLoadOptionsJson(options_json, pg::PipelineYamlLimits());
  request.source.url = pg::TextArg(fcinfo, 0);
  request.target = pg::TextArg(fcinfo, 1);
  request.create = request.source.create;
  pg::LoadResult result = pg::LoadCsv(request);
  return Int64GetDatum(static_cast<int64>(result.rows));
}
