// Staging relations: see staging.hpp.
extern "C" {
#include "postgres.h"

#include "port.h"
}

#include <cstdio>

#include "core/error.hpp"
#include "core/sql_text.hpp"
#include "pg/boundary.hpp"
#include "pg/privilege.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/state.hpp"
#include "pg/spi.hpp"
#include "pg/subxact.hpp"

namespace pgpipe::pg {

using core::Error;

std::string RandomHex() {
  uint32 value = 0;
  bool ok = PgCall([&] { return pg_strong_random(&value, sizeof value); });
  if (!ok) throw Error(core::sqlstate::kInternalError, "could not generate a random staging name");
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", value);
  return buf;
}

namespace {

// The role's recorded staging schema, when it still exists and is still the role's.
SqlValue RecordedSchema(Oid role) {
  return CatalogScalar(
      "SELECT n.nspname FROM pipeline.staging_schemas s JOIN pg_catalog.pg_namespace n ON n.oid = s.schema_oid "
      "WHERE s.role = $1::oid::regrole AND n.nspowner = s.role",
      {Num(role)});
}

// Drops the recorded relations of `where_sql` (a condition on pipeline.staging s), each in its
// own subtransaction; returns how many could not be dropped.
int DropRecorded(const std::string& where_sql, const std::vector<SqlValue>& params) {
  auto rows = CatalogQuery(
      "SELECT s.relid, CASE WHEN c.oid IS NULL THEN NULL "
      "  WHEN c.relkind = 'v' THEN format('DROP VIEW %s', c.oid::regclass) "
      "  ELSE format('DROP TABLE %s', c.oid::regclass) END, s.run_id, s.block_name "
      "FROM pipeline.staging s LEFT JOIN pg_catalog.pg_class c ON c.oid = s.relid AND c.relkind = s.relkind "
      "  AND c.relowner = s.owner::oid "
      "  AND (c.relnamespace IN (SELECT schema_oid FROM pipeline.staging_schemas) "
      "       OR c.relnamespace = 'pipeline_staging'::regnamespace) "
      "WHERE " + where_sql + " ORDER BY s.relkind = 'v' DESC, s.created_at DESC, s.relid DESC",
      params);
  int kept = 0;
  for (const auto& row : rows) {
    const std::string relid = *row[0];
    auto error = InSubtransaction([&] {
      AsExtensionOwner([&] {
        if (row[1]) SpiExec(*row[1]);  // RESTRICT: the default
        SpiExec("DELETE FROM pipeline.staging WHERE relid = $1::oid", {relid});
        SpiExec("UPDATE pipeline.block_runs SET output_relation = NULL, output_oid = NULL WHERE output_oid = $1::oid",
                {relid});
      });
    });
    if (error) {
      ++kept;
      WriteLog(std::stoll(*row[2]), *row[3],
               {"warning", std::string("staging not dropped: ") + error->message()});
    }
  }
  return kept;
}

}  // namespace

std::string EnsureStagingSchema(unsigned int role) {
  if (SqlValue schema = RecordedSchema(role)) return core::QuoteIdent(*schema);
  std::string name = "pipeline_staging_" + Num(role) + "_" + RandomHex();
  AsExtensionOwner([&] {
    SpiExec("SELECT pg_advisory_xact_lock(pg_catalog.hashtext('pg_pipeline staging schema'), $1::oid::int)", {Num(role)});
    SpiExec("DELETE FROM pipeline.staging_schemas WHERE role = $1::oid::regrole", {Num(role)});
    SpiExec("CREATE SCHEMA " + core::QuoteIdent(name) + " AUTHORIZATION " + core::QuoteIdent(RoleName(role)));
    SpiExec("COMMENT ON SCHEMA " + core::QuoteIdent(name) +
            " IS 'pg_pipeline staging of one role: outputs of its runs'' loaders and transformers'");
    SpiExec("INSERT INTO pipeline.staging_schemas (role, schema_oid) VALUES ($1::oid::regrole, $2::regnamespace)",
            {Num(role), name});
  });
  return core::QuoteIdent(name);
}

std::string NewStagingName(const Run& run, const std::string& block) {
  SqlValue schema = RecordedSchema(run.owner);
  if (!schema) throw Error(core::sqlstate::kUndefinedObject, "role has no staging schema yet");
  std::string suffix = "_" + RandomHex();
  std::string name = "r" + Num(run.id) + "_" + block;
  if (name.size() + suffix.size() > 63) name.resize(63 - suffix.size());
  return core::QuoteIdent(*schema) + "." + core::QuoteIdent(name + suffix);
}

unsigned int RecordStaging(const Run& run, const std::string& block, const std::string& relation,
                           char relkind) {
  SqlValue relid = CatalogScalar(
      "INSERT INTO pipeline.staging (relid, run_id, block_name, owner, relkind) "
      "SELECT c.oid, $2::bigint, $3, c.relowner::regrole, c.relkind FROM pg_catalog.pg_class c "
      "WHERE c.oid = to_regclass($1) AND c.relowner = $4::oid AND c.relkind = $5::\"char\" "
      "  AND c.relnamespace = (SELECT schema_oid FROM pipeline.staging_schemas WHERE role = $4::oid::regrole) "
      "RETURNING relid",
      {relation, Num(run.id), block, Num(run.owner), std::string(1, relkind)});
  if (!relid)
    throw Error(core::sqlstate::kInsufficientPrivilege,
                "staging relation " + relation + " of block \"" + block + "\" is not the one this run created",
                "A staging relation must be new, of the run's role, in its staging schema.");
  return static_cast<unsigned int>(std::stoul(*relid));
}

bool StagingIntact(unsigned int relid, unsigned int owner, int64_t rows_known) {
  if (relid == 0) return false;
  auto rows = CatalogQuery(
      "SELECT c.relkind FROM pipeline.staging s JOIN pg_catalog.pg_class c ON c.oid = s.relid "
      "AND c.relkind = s.relkind AND c.relowner = s.owner::oid WHERE s.relid = $1::oid AND s.owner = $2::oid::regrole",
      {Num(relid), Num(owner)});
  if (rows.empty()) return false;
  // A table that had rows and has none was emptied by crash recovery (it is UNLOGGED). Asked as
  // the run's role, which owns it.
  if (rows_known > 0 && rows[0][0] == SqlValue("r"))
    return SpiScalar("SELECT EXISTS (SELECT FROM " + *SpiScalar("SELECT $1::oid::regclass::text", {Num(relid)}) + ")") ==
           SqlValue("t");
  return true;
}

void DropStagingRelation(unsigned int relid) { DropRecorded("s.relid = $1::oid", {Num(relid)}); }

void DropLeftoverStaging(int64_t run_id, const std::string& block) {
  DropRecorded("s.run_id = $1::bigint AND s.block_name = $2 "
               "AND NOT EXISTS (SELECT FROM pipeline.block_runs b WHERE b.output_oid = s.relid)",
               {Num(run_id), block});
}

void ForgetStaging(unsigned int relid) {
  AsExtensionOwner([&] { SpiExec("DELETE FROM pipeline.staging WHERE relid = $1::oid", {Num(relid)}); });
}

void DropRunStaging(const Run& run) {
  std::string reused = "{";
  for (const auto& [name, block] : run.blocks)
    if (block.relid != 0) reused += (reused.size() > 1 ? "," : "") + Num(block.relid);
  reused += "}";
  DropRecorded("s.run_id = $1::bigint OR s.relid = ANY ($2::oid[])", {Num(run.id), reused});
}

void DropExpiredStaging(int age_s, std::optional<unsigned int> owner) {
  DropRecorded(
      "s.run_id IN (SELECT run_id FROM pipeline.runs WHERE finished_at < now() - make_interval(secs => $1::int)) "
      "AND ($2::oid IS NULL OR s.owner = $2::oid::regrole) "
      // (a retry may still be reusing it)
      "AND NOT EXISTS (SELECT FROM pipeline.block_runs b JOIN pipeline.runs r USING (run_id) "
      "                WHERE b.output_oid = s.relid AND r.status IN ('queued', 'running'))",
      {Num(age_s), owner ? SqlValue(Num(*owner)) : std::nullopt});
}

void DropStagingOfRuns(const std::vector<int64_t>& run_ids) {
  std::string ids = "{";
  for (size_t i = 0; i < run_ids.size(); ++i) ids += (i ? "," : "") + Num(run_ids[i]);
  DropRecorded("s.run_id = ANY ($1::bigint[])", {ids + "}"});
}

}  // namespace pgpipe::pg
