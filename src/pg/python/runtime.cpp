// Python blocks in a database: see runtime.hpp.
extern "C" {
#include "postgres.h"

#include "commands/extension.h"
#include "miscadmin.h"
}

#include "pg/python/runtime.hpp"

#include "core/error.hpp"
#include "pg/privilege.hpp"
#include "pg/spi.hpp"
#include "pg/subxact.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

constexpr const char* kEnableHint =
    "As a superuser: install Debian's postgresql-plpython3-15 and python3-pandas, then SELECT "
    "pipeline.enable_python(); (or CREATE EXTENSION plpython3u before CREATE EXTENSION pg_pipeline).";

// What pipeline._python_block does (python/install.sql says more): import the runtime once per
// process, from the directory the extension installs it in, and run one block.
constexpr const char* kPythonBlockSql = R"sql(
CREATE OR REPLACE FUNCTION pipeline._python_block(request jsonb) RETURNS jsonb LANGUAGE plpython3u VOLATILE
AS $python$
runner = GD.get('pg_pipeline_runner')
if runner is None:
    import sys
    path = plpy.execute('SELECT pipeline._python_path() AS path')[0]['path']
    if path not in sys.path:
        sys.path.insert(0, path)
    from pg_pipeline_runtime import runner
    GD['pg_pipeline_runner'] = runner
return runner.run_block(plpy, request)
$python$)sql";

// What pipeline._compile_block does: the compiler (python/pg_pipeline_runtime/compile.py) on one
// request. It reads the block's text with Python's ast and never runs it; standard library only.
constexpr const char* kCompileBlockSql = R"sql(
CREATE OR REPLACE FUNCTION pipeline._compile_block(request jsonb) RETURNS jsonb LANGUAGE plpython3u VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $python$
compiler = GD.get('pg_pipeline_compiler')
if compiler is None:
    import sys
    path = plpy.execute('SELECT pipeline._python_path() AS path')[0]['path']
    if path not in sys.path:
        sys.path.insert(0, path)
    from pg_pipeline_runtime import compile as compiler
    GD['pg_pipeline_compiler'] = compiler
return compiler.compile_block_json(request)
$python$)sql";

bool FunctionExists(const char* signature) {
  return SpiScalar("SELECT to_regprocedure($1) IS NOT NULL", {std::string(signature)}) == SqlValue("t");
}

bool PythonBlockExists() {
  return SpiScalar("SELECT to_regprocedure('pipeline._python_block(jsonb)') IS NOT NULL") == SqlValue("t");
}

}  // namespace

void RequirePython(Oid role, const std::string& what) {
  if (!PythonBlockExists())
    throw Error(sqlstate::kFeatureNotSupported,
                what + ", and this database cannot run Python blocks: PL/Python is not enabled", "",
                kEnableHint);
  bool allowed = SpiScalar("SELECT rolsuper OR pg_has_role(oid, $2, 'USAGE') FROM pg_catalog.pg_roles "
                           "WHERE oid = $1::oid",
                           {std::to_string(role), kPythonRole}) == SqlValue("t");
  if (!allowed)
    throw Error(sqlstate::kInsufficientPrivilege,
                what + ", and role \"" + RoleName(role) + "\" may not run Python",
                "Python blocks run as the server's operating-system user, so only superusers and "
                "members of pipeline_python may register or run them.",
                std::string("A superuser can GRANT pipeline_python TO \"") + RoleName(role) + "\";");
}

bool EnablePython() {
  if (!PgCall([] { return superuser(); }))
    throw Error(sqlstate::kInsufficientPrivilege, "only a superuser may enable Python blocks", "",
                "Python blocks run as the server's operating-system user.");
  const bool inside_create_extension = PgCall([] { return creating_extension; });
  return AsExtensionOwner([&] {
    if (SpiScalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'plpython3u')") != SqlValue("t")) {
      if (SpiScalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'plpython3u')") !=
          SqlValue("t"))
        throw Error(sqlstate::kFeatureNotSupported, "PL/Python (plpython3u) is not installed on this server", "",
                    kEnableHint);
      // (Postgres does not run CREATE EXTENSION inside another's script)
      if (inside_create_extension) return false;
      SpiExec("CREATE EXTENSION plpython3u");
    }
    // Each executable by pipeline_python only. Made inside CREATE or ALTER EXTENSION it is a
    // member already; made later, it joins, so that DROP EXTENSION drops it and pg_dump leaves it
    // to the extension's script.
    for (const auto& [signature, sql] : {std::pair<const char*, const char*>{"pipeline._python_block(jsonb)", kPythonBlockSql},
                                         {"pipeline._compile_block(jsonb)", kCompileBlockSql}}) {
      const bool existed = FunctionExists(signature);
      SpiExec(sql);
      SpiExec(std::string("REVOKE ALL ON FUNCTION ") + signature + " FROM PUBLIC");
      SpiExec(std::string("GRANT EXECUTE ON FUNCTION ") + signature + " TO " + kPythonRole);
      if (!inside_create_extension && !existed) SpiExec(std::string("ALTER EXTENSION pg_pipeline ADD FUNCTION ") + signature);
    }
    return true;
  });
}

core::MageCompiler ImportCompiler(const std::string& project, bool native) {
  core::MageCompiler compiler;
  const Oid role = CurrentRole();
  if (!native) {
    compiler.unavailable = "native => false: every Python block stays Python";
  } else if (!FunctionExists("pipeline._compile_block(jsonb)")) {
    compiler.unavailable = "not compiled: PL/Python is not enabled in this database (pipeline.enable_python()), "
                           "and the compiler runs in it";
  } else if (SpiScalar("SELECT has_function_privilege($1::oid, 'pipeline._compile_block(jsonb)', 'EXECUTE')",
                       {std::to_string(role)}) != SqlValue("t")) {
    // (the compiler only reads the files, but it is Python: who may not run Python imports the
    // blocks as Python, and registering them then says why not)
    compiler.unavailable = "not compiled: role \"" + RoleName(role) + "\" may not run Python (" + kPythonRole + ")";
  } else {
    // As the runtime's request: the project's profiles as the importing role reads them.
    compiler.io_config_json =
        SpiScalar("SELECT coalesce(jsonb_object_agg(profile, settings), '{}')::text FROM pipeline.profiles "
                  "WHERE project = $1",
                  {project})
            .value_or("{}");
    compiler.compile = [](const std::string& request, std::string* error) -> std::optional<std::string> {
      SqlValue answer;
      std::optional<Error> failed =
          InSubtransaction([&] { answer = SpiScalar("SELECT pipeline._compile_block($1::jsonb)::text", {request}); });
      if (failed) {
        *error = failed->message();
        return std::nullopt;
      }
      if (!answer) {
        *error = "it answered NULL";
        return std::nullopt;
      }
      return *answer;
    };
  }
  return compiler;
}

}  // namespace pgpipe::pg
