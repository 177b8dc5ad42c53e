// SQL functions of Python blocks: pipeline.enable_python. (The functions the runtime calls,
// _copy_in_columns and the like, are in pg/python/bridge.cpp.)
extern "C" {
#include "postgres.h"

#include "fmgr.h"
}

#include "pg/boundary.hpp"
#include "pg/python/runtime.hpp"
#include "pg/spi.hpp"

using namespace pgpipe;

// pipeline.enable_python() returns boolean: true once this database can run Python blocks
// (false inside CREATE EXTENSION when plpython3u is not there yet). Superusers only.
PGPIPE_FUNCTION(pipeline_enable_python) {
  pg::SpiSession spi;
  bool enabled = pg::EnablePython();
  spi.Finish();
  return BoolGetDatum(enabled);
}
