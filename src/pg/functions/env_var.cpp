// pipeline.env_var(name): Mage's env_var() for templates. The server's environment can hold
// credentials, so only roles that may read server files may read it.
extern "C" {
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
}

#include <cstdlib>

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"

using namespace pgpipe;

PGPIPE_FUNCTION(pipeline_env_var) {
  std::string name = pg::TextArg(fcinfo, 0);
  bool allowed = pg::PgCall([] { return has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES); });
  if (!allowed)
    throw core::Error(core::sqlstate::kInsufficientPrivilege,
                      "permission denied to read environment variable \"" + name + "\"", "",
                      "Only superusers and members of pg_read_server_files may read the server's "
                      "environment; use pipeline.secret(name) for credentials.");
  const char* value = std::getenv(name.c_str());
  if (value == nullptr)
    throw core::Error(core::sqlstate::kUndefinedObject,
                      "environment variable \"" + name + "\" is not set in the server");
  return pg::TextResult(value);
}
