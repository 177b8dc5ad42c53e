// Publishing: see publish.hpp.
extern "C" {
#include "postgres.h"
}

#include "pg/run/publish.hpp"

#include "core/error.hpp"
#include "core/sql_text.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/tests.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// The relation an exporter publishes from: its own SQL, else its single upstream's output.
std::string ExportSource(Run& run, const core::BlockSpec& block) {
  if (!block.sql.empty())
    return "(" + Render(run, block, block.sql, "sql of block \"" + block.name + "\"") +
           ") AS pipeline_source";
  return run.blocks.at(block.upstream.at(0)).relation;
}

// Creates the target's schema; a refusal names the schema, not just the database.
void CreateSchema(const core::TargetSpec& t) {
  try {
    SpiExec("CREATE SCHEMA " + core::QuoteIdent(t.schema));
  } catch (const Error& e) {
    if (e.sqlstate() != sqlstate::kInsufficientPrivilege) throw;
    throw Error(e.sqlstate(), "cannot create schema \"" + t.schema + "\" for target " + t.schema + "." + t.table +
                                  ": " + e.message(),
                "", "Create the schema first (and grant this role CREATE on it), or publish into an existing schema.");
  }
}

}  // namespace

Publication BeginPublish(const core::TargetSpec& t) {
  Publication p;
  p.target = core::QualifiedName(t.schema, t.table);
  // (two-key advisory locks under pg_pipeline's own first key, apart from one-key user locks)
  SpiExec("SELECT pg_advisory_xact_lock(pg_catalog.hashtext('pg_pipeline schema'), pg_catalog.hashtext($1))", {t.schema});
  if (SpiScalar("SELECT to_regnamespace($1) IS NULL", {core::QuoteIdent(t.schema)}) == SqlValue("t")) CreateSchema(t);
  SpiExec("SELECT pg_advisory_xact_lock(pg_catalog.hashtext('pg_pipeline export'), pg_catalog.hashtext($1))", {p.target});
  p.exists = SpiScalar("SELECT to_regclass($1) IS NOT NULL", {p.target}) == SqlValue("t");
  if (t.if_exists == "fail" && p.exists)
    throw Error(sqlstate::kDuplicateObject,
                "target " + t.schema + "." + t.table + " already exists (if_exists: fail)", "",
                "Use if_exists: replace or append, or drop the table.");
  // (a name nobody can guess, so nobody can have made it first)
  if (t.if_exists == "replace" && p.exists)
    p.fresh = core::QualifiedName(t.schema, t.table.substr(0, 40) + "_pgp_new_" + RandomHex());
  return p;
}

void FinishPublish(const Publication& p, const core::TargetSpec& t) {
  if (p.fresh.empty()) return;
  try {
    SpiExec("DROP TABLE " + p.target);
  } catch (const Error& e) {
    if (e.sqlstate() != "2BP01") throw;
    throw Error(e.sqlstate(), "cannot replace " + t.schema + "." + t.table + ": other objects depend on it",
                e.detail(), "Drop the dependent objects, or use if_exists: append.");
  }
  SpiExec("ALTER TABLE " + p.fresh + " RENAME TO " + core::QuoteIdent(t.table));
}

void CheckPublishable(const core::TargetSpec& t) {
  if (t.if_exists == "fail" &&
      SpiScalar("SELECT to_regclass($1) IS NOT NULL", {core::QualifiedName(t.schema, t.table)}) == SqlValue("t"))
    throw Error(sqlstate::kDuplicateObject,
                "target " + t.schema + "." + t.table + " already exists (if_exists: fail)", "",
                "Use if_exists: replace or append, or drop the table.");
}

void AdoptStaged(const Publication& p, const core::TargetSpec& t, unsigned int relid) {
  const std::string name_of =
      "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c "
      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid";
  SqlValue staged = SpiScalar(name_of, {Num(relid)});
  if (!staged) throw Error(sqlstate::kUndefinedTable, "the loaded table of target " + p.target + " is gone");
  // (a split load's table was kept from autovacuum until now: parallel_load.hpp)
  SpiExec("ALTER TABLE " + *staged + " RESET (autovacuum_enabled, toast.autovacuum_enabled)");
  SpiExec("ALTER TABLE " + *staged + " SET SCHEMA " + core::QuoteIdent(t.schema));
  std::string moved = *SpiScalar(name_of, {Num(relid)});
  if (p.exists && t.if_exists == "replace") {
    Publication swap = p;
    swap.fresh = moved;
    FinishPublish(swap, t);
    return;
  }
  SpiExec("ALTER TABLE " + moved + " RENAME TO " + core::QuoteIdent(t.table));
}

void Export(Run& run, const core::BlockSpec& block, AttemptResult& result) {
  const core::TargetSpec& t = *block.target;
  std::string source = ExportSource(run, block);
  Publication p = BeginPublish(t);
  if (t.if_exists == "append") {
    if (!p.exists) SpiExec("CREATE TABLE " + p.target + " AS SELECT * FROM " + source + " WITH NO DATA");
    std::vector<std::string> columns = SpiColumnNames("SELECT * FROM " + source + " LIMIT 0");
    RunTests(run, block, source, false, result);
    std::string list = core::IdentList(columns);
    result.rows_out = static_cast<int64_t>(
        SpiExec("INSERT INTO " + p.target + " (" + list + ") SELECT " + list + " FROM " + source));
    result.log.push_back({"info", "appended " + Num(result.rows_out) + " rows to " + t.schema + "." + t.table});
    return;
  }
  std::string into = p.fresh.empty() ? p.target : p.fresh;
  result.rows_out = static_cast<int64_t>(SpiExec("CREATE TABLE " + into + " AS SELECT * FROM " + source));
  RunTests(run, block, into, false, result);
  FinishPublish(p, t);
  result.log.push_back({"info", std::string(p.fresh.empty() ? "created " : "replaced ") + t.schema + "." +
                                    t.table + " with " + Num(result.rows_out) + " rows"});
}

}  // namespace pgpipe::pg
