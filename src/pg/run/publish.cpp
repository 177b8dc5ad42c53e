// Publishing: see publish.hpp.
extern "C" {
#include "postgres.h"
}

#include "pg/run/publish.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/error.hpp"
#include "core/sql_text.hpp"
#include "pg/run/compiled.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/tests.hpp"
#include "pg/spi.hpp"
#include "pg/subxact.hpp"

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

std::string TargetLabel(const core::TargetSpec& t) { return t.schema + "." + t.table; }

// "(a, b)", for messages.
std::string KeyLabel(const std::vector<std::string>& key) {
  std::string out;
  for (const auto& k : key) out += (out.empty() ? "" : ", ") + k;
  return "(" + out + ")";
}

// Every column of the key must be a column of the output.
void RequireKeyColumns(const std::string& source, const core::TargetSpec& t, const std::string& block) {
  std::vector<std::string> names = SpiColumnNames("SELECT * FROM " + source + " LIMIT 0");
  for (const auto& k : t.unique_key)
    if (std::find(names.begin(), names.end(), k) == names.end())
      throw Error(sqlstate::kUndefinedColumn,
                  "unique_key column \"" + k + "\" is not a column of the output of block \"" + block + "\"",
                  "The output's columns: " + core::IdentList(names) + ".", "Name columns the block returns in unique_key.");
}

// Gives a table the exporter creates the unique index its key needs.
void CreateKeyIndex(const std::string& table, const core::TargetSpec& t) {
  SpiExec("CREATE UNIQUE INDEX ON " + table + " (" + core::IdentList(t.unique_key) + ")");
}

// An existing target must have a unique index on exactly the key's columns (no more, no
// expression, no predicate, not deferrable): the one ON CONFLICT can use.
void RequireKeyIndex(const std::string& table, const core::TargetSpec& t) {
  std::string key;
  for (const auto& k : t.unique_key) key += (key.empty() ? "" : ", ") + core::QuoteLiteral(k);
  key = "ARRAY[" + key + "]::text[]";
  bool found = SpiScalar(
      "SELECT EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique "
      "AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL "
      "AND i.indnkeyatts = cardinality(" + key + ") "
      "AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_catalog.pg_attribute a "
      "     WHERE a.attrelid = i.indrelid AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) "
      "  = (SELECT array_agg(k ORDER BY k) FROM unnest(" + key + ") AS k))",
      {table}) == SqlValue("t");
  if (!found)
    throw Error(sqlstate::kInvalidColumnReference,
                "target " + TargetLabel(t) + " has no unique index on " + KeyLabel(t.unique_key) +
                    ": an upsert needs one to tell which rows are already there",
                "", "CREATE UNIQUE INDEX ON " + TargetLabel(t) + " " + KeyLabel(t.unique_key) +
                        "; or use if_exists: replace, which creates the table with one.");
}

// One column of the output that goes into a column of another type in an existing target:
// every value must come back unchanged from that type, else the publish fails naming the column
// and a value (Postgres would round a numeric, truncate a timestamp, or cast silently).
void RequireFit(const std::string& source, const SpiColumn& column, const std::string& target_type,
                const core::TargetSpec& t, const std::string& block) {
  const std::string c = core::QuoteIdent(column.name);
  const std::string stored = "(" + c + "::" + target_type + ")";
  const std::string where = "the output of block \"" + block + "\"";
  const std::string hint = "Cast the column in the block's SQL to what you mean, or change the type of column " +
                           column.name + " of " + TargetLabel(t) + ".";
  auto probe = [&](const std::string& changed) {
    std::vector<SqlRow> rows;
    auto error = InSubtransaction([&] {
      rows = SpiQuery("SELECT " + c + "::text, " + stored + "::text FROM " + source + " WHERE " + c +
                      " IS NOT NULL AND " + changed + " LIMIT 1");
    });
    return std::make_pair(error, rows);
  };
  // Compared by the source type's equality when it has one (1.50 and 1.5 are one numeric), else
  // by text.
  auto [error, rows] = probe("(" + stored + "::" + column.type + ") IS DISTINCT FROM " + c);
  if (error && error->sqlstate() == "42883")
    std::tie(error, rows) = probe("(" + stored + "::" + column.type + ")::text IS DISTINCT FROM " + c + "::text");
  if (error)
    throw Error(error->sqlstate(),
                "column \"" + column.name + "\" of " + where + " (" + column.type + ") does not fit column " +
                    column.name + " (" + target_type + ") of target " + TargetLabel(t) + ": " + error->message(),
                error->detail(), hint);
  if (!rows.empty())
    throw Error(sqlstate::kDatatypeMismatch,
                "value " + core::QuoteLiteral(rows[0][0].value_or("")) + " of column \"" + column.name + "\" of " +
                    where + " (" + column.type + ") would be stored as " +
                    (rows[0][1] ? core::QuoteLiteral(*rows[0][1]) : "NULL") + " in column " +
                    column.name + " (" + target_type + ") of target " + TargetLabel(t),
                "Appending and upserting keep the target's column types and never change a value silently.", hint);
}

// Inserts the output (`source`) into `table`, an existing target or one just created from the
// output: by column name, each value fitting the target's type, with ON CONFLICT on the key when
// there is one. Returns the rows written; logs what it did.
int64_t InsertRows(const std::string& table, const core::TargetSpec& t, const std::string& source,
                   const std::string& block, bool existing, AttemptResult& result) {
  std::vector<SpiColumn> columns = SpiColumns("SELECT * FROM " + source + " LIMIT 0");
  std::vector<std::string> names, values;
  std::map<std::string, std::string> target_types;
  if (existing)
    for (const auto& row : SpiQuery("SELECT attname, pg_catalog.format_type(atttypid, atttypmod) "
                                    "FROM pg_catalog.pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
                                    "AND NOT attisdropped", {table}))
      target_types[*row[0]] = *row[1];
  for (const auto& column : columns) {
    names.push_back(column.name);
    std::string value = core::QuoteIdent(column.name);
    if (existing) {
      auto it = target_types.find(column.name);
      if (it == target_types.end()) {
        std::string have;
        for (const auto& [name, type] : target_types) have += (have.empty() ? "" : ", ") + name;
        throw Error(sqlstate::kUndefinedColumn,
                    "column \"" + column.name + "\" of the output of block \"" + block + "\" is not a column of target " +
                        TargetLabel(t),
                    "The target's columns: " + have + ".",
                    "Leave it out of the block's SELECT, or add it: ALTER TABLE " + TargetLabel(t) + " ADD COLUMN ...");
      }
      if (it->second != column.type) {
        RequireFit(source, column, it->second, t, block);
        value += "::" + it->second;
      }
    }
    values.push_back(value);
  }
  std::string insert = "INSERT INTO " + table + " (" + core::IdentList(names) + ") SELECT ";
  for (size_t i = 0; i < values.size(); ++i) insert += (i ? ", " : "") + values[i];
  insert += " FROM " + source;
  if (t.unique_key.empty()) {
    int64_t n = static_cast<int64_t>(SpiExec(insert));
    result.log.push_back({"info", "appended " + Num(n) + " rows to " + TargetLabel(t)});
    return n;
  }
  std::string any_null;
  for (const auto& k : t.unique_key) any_null += (any_null.empty() ? "" : " OR ") + core::QuoteIdent(k) + " IS NULL";
  if (SpiScalar("SELECT EXISTS (SELECT FROM " + source + " WHERE " + any_null + ")") == SqlValue("t"))
    throw Error(sqlstate::kNotNullViolation,
                "the output of block \"" + block + "\" has rows whose unique_key " + KeyLabel(t.unique_key) +
                    " is NULL: " + Num(std::stoll(*SpiScalar("SELECT count(*) FROM " + source + " WHERE " + any_null))) +
                    " rows",
                "A NULL key matches no row, so each such row would be inserted again on every run.",
                "Filter them out, or add a not_null test on the key.");
  std::string set;
  for (const auto& n : names)
    if (std::find(t.unique_key.begin(), t.unique_key.end(), n) == t.unique_key.end())
      set += (set.empty() ? "" : ", ") + core::QuoteIdent(n) + " = EXCLUDED." + core::QuoteIdent(n);
  insert += " ON CONFLICT (" + core::IdentList(t.unique_key) + ") " +
            (t.on_conflict == "nothing" || set.empty() ? "DO NOTHING" : "DO UPDATE SET " + set);
  // (a row whose xmax is 0 was inserted; one updated by ON CONFLICT carries this transaction's)
  std::vector<SqlRow> counts;
  auto error = InSubtransaction([&] {
    counts = SpiQuery("WITH written AS (" + insert + " RETURNING (xmax = 0) AS inserted) "
                      "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written");
  });
  if (error && error->sqlstate() == "21000") {
    auto dup = SpiQuery("SELECT row(" + core::IdentList(t.unique_key) + ")::text, count(*) FROM " + source +
                        " GROUP BY " + core::IdentList(t.unique_key) + " HAVING count(*) > 1 LIMIT 1");
    throw Error(sqlstate::kCardinalityViolation,
                "the output of block \"" + block + "\" has more than one row for one unique_key " +
                    KeyLabel(t.unique_key) + (dup.empty() ? "" : ": " + dup[0][0].value_or("") + " appears " +
                                                                     dup[0][1].value_or("") + " times"),
                "An upsert cannot choose which of them wins.",
                "Keep one row per key (DISTINCT ON, or GROUP BY) in the block's SQL, or add a unique test on the key.");
  }
  if (error) throw *error;
  int64_t inserted = std::stoll(*counts[0][0]), updated = std::stoll(*counts[0][1]);
  result.log.push_back({"info", "upserted into " + TargetLabel(t) + " on " + KeyLabel(t.unique_key) + ": " +
                                    Num(inserted) + " rows inserted, " + Num(updated) + " updated" +
                                    (t.on_conflict == "nothing" ? " (on_conflict: nothing keeps rows already there)" : "")});
  return inserted + updated;
}

// replace_where: deletes the target's rows the condition matches, then inserts the output, every
// row of which must match it too (else a re-run would not replace what it inserted).
void ReplaceWhere(Run& run, const core::BlockSpec& block, const Publication& p, const std::string& source,
                  AttemptResult& result) {
  const core::TargetSpec& t = *block.target;
  const std::string where = Render(run, block, t.replace_where, "where of the target of block \"" + block.name + "\"");
  int64_t outside = std::stoll(*SpiScalar("SELECT count(*) FROM " + source + " AS pipeline_output WHERE NOT coalesce((" +
                                          where + "), false)"));
  if (outside > 0)
    throw Error(sqlstate::kCheckViolation,
                Num(outside) + " rows of the output of block \"" + block.name + "\" do not match the where of its target (" +
                    where + ")",
                "replace_where deletes the rows the condition matches before inserting: rows outside it would not be "
                "replaced by a re-run, and would pile up.",
                "Make the block's SQL produce only matching rows (say, filter on the same condition), or widen where.");
  const int64_t deleted = static_cast<int64_t>(SpiExec("DELETE FROM " + p.target + " WHERE " + where));
  core::TargetSpec as_append = t;
  as_append.if_exists = "append";
  AttemptResult inserted;
  result.rows_out = InsertRows(p.target, as_append, source, block.name, p.exists, inserted);
  result.log.push_back({"info", "replaced " + Num(deleted) + " rows of " + TargetLabel(t) + " where " + where + " with " +
                                    Num(result.rows_out) + " rows"});
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
  if (!block.rename_columns_json.empty())
    source = "(" + WithRenamedColumns(block, "SELECT * FROM " + source) + ") AS pipeline_renamed";
  if (!t.unique_key.empty()) RequireKeyColumns(source, t, block.name);
  Publication p = BeginPublish(t);
  if (t.if_exists == "append" || t.if_exists == "upsert" || t.if_exists == "replace_where") {
    // Into the table as it is: its columns, types and indexes stay.
    if (!p.exists) {
      SpiExec("CREATE TABLE " + p.target + " AS SELECT * FROM " + source + " WITH NO DATA");
      if (!t.unique_key.empty()) CreateKeyIndex(p.target, t);
    } else if (!t.unique_key.empty()) {
      RequireKeyIndex(p.target, t);
    }
    RunTests(run, block, source, false, result);
    if (t.if_exists == "replace_where") {
      ReplaceWhere(run, block, p, source, result);
      return;
    }
    result.rows_out = InsertRows(p.target, t, source, block.name, p.exists, result);
    return;
  }
  std::string into = p.fresh.empty() ? p.target : p.fresh;
  if (t.unique_key.empty()) {
    result.rows_out = static_cast<int64_t>(SpiExec("CREATE TABLE " + into + " AS SELECT * FROM " + source));
  } else {
    // A new table with the key's unique index, the rows going in as on_conflict says (Mage's
    // replace with unique constraints).
    SpiExec("CREATE TABLE " + into + " AS SELECT * FROM " + source + " WITH NO DATA");
    CreateKeyIndex(into, t);
    result.rows_out = InsertRows(into, t, source, block.name, false, result);
  }
  RunTests(run, block, into, false, result);
  FinishPublish(p, t);
  result.log.push_back({"info", std::string(p.fresh.empty() ? "created " : "replaced ") + t.schema + "." +
                                    t.table + " with " + Num(result.rows_out) + " rows"});
}

}  // namespace pgpipe::pg
