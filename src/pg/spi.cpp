// SPI from C++: see spi.hpp.
extern "C" {
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

#include "pg/boundary.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

namespace {

// The result of one SPI statement as palloc'd C strings (NULL for SQL NULL), row-major.
struct RawResult {
  uint64 rows;
  int columns;
  char** cells;
};

// Runs the statement and copies the result out as C strings, all under one guard.
RawResult RunRaw(const std::string& sql, const std::vector<SqlValue>& params) {
  const int nargs = static_cast<int>(params.size());
  std::vector<Oid> types(nargs + 1, TEXTOID);
  std::vector<Datum> values(nargs + 1, 0);
  std::vector<char> nulls(nargs + 1, ' ');
  for (int i = 0; i < nargs; ++i)
    if (!params[i]) nulls[i] = 'n';
  const char* query = sql.c_str();
  return PgCall([&]() -> RawResult {
    for (int i = 0; i < nargs; ++i)
      if (params[i]) values[i] = CStringGetTextDatum(params[i]->c_str());
    int rc = SPI_execute_with_args(query, nargs, types.data(), values.data(), nulls.data(),
                                   false, 0);
    if (rc < 0) elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
    RawResult out = {SPI_processed, 0, nullptr};
    if (SPI_tuptable == nullptr || SPI_processed == 0) return out;
    TupleDesc desc = SPI_tuptable->tupdesc;
    out.columns = desc->natts;
    out.cells = static_cast<char**>(palloc(sizeof(char*) * out.rows * out.columns));
    for (uint64 r = 0; r < out.rows; ++r)
      for (int c = 0; c < out.columns; ++c)
        out.cells[r * out.columns + c] = SPI_getvalue(SPI_tuptable->vals[r], desc, c + 1);
    return out;
  });
}

}  // namespace

SpiSession::SpiSession() {
  PgCall([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  });
}

void SpiSession::Finish() {
  if (finished_) return;
  finished_ = true;
  PgCall([] { SPI_finish(); });
}

std::vector<SqlRow> SpiQuery(const std::string& sql, const std::vector<SqlValue>& params) {
  RawResult raw = RunRaw(sql, params);
  std::vector<SqlRow> rows;
  rows.reserve(raw.cells ? raw.rows : 0);
  if (raw.cells) {
    for (uint64 r = 0; r < raw.rows; ++r) {
      SqlRow row;
      for (int c = 0; c < raw.columns; ++c) {
        char* cell = raw.cells[r * raw.columns + c];
        row.push_back(cell ? SqlValue(cell) : std::nullopt);
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

uint64_t SpiExec(const std::string& sql, const std::vector<SqlValue>& params) {
  return RunRaw(sql, params).rows;
}

std::vector<SpiColumn> SpiColumns(const std::string& sql) {
  const char* query = sql.c_str();
  struct Raw {
    int count;
    char** names;
    char** types;
  };
  Raw raw = PgCall([&]() -> Raw {
    int rc = SPI_execute(query, false, 0);
    if (rc < 0) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    if (SPI_tuptable == nullptr) return Raw{0, nullptr, nullptr};
    TupleDesc desc = SPI_tuptable->tupdesc;
    Raw out = {desc->natts, static_cast<char**>(palloc(sizeof(char*) * (desc->natts + 1))),
               static_cast<char**>(palloc(sizeof(char*) * (desc->natts + 1)))};
    for (int i = 0; i < desc->natts; ++i) {
      Form_pg_attribute att = TupleDescAttr(desc, i);
      out.names[i] = SPI_fname(desc, i + 1);
      out.types[i] = format_type_with_typemod(att->atttypid, att->atttypmod);
    }
    return out;
  });
  std::vector<SpiColumn> columns;
  for (int i = 0; i < raw.count; ++i) columns.push_back({raw.names[i], raw.types[i]});
  return columns;
}

std::vector<std::string> SpiColumnNames(const std::string& sql) {
  std::vector<std::string> names;
  for (const auto& c : SpiColumns(sql)) names.push_back(c.name);
  return names;
}

SqlValue SpiScalar(const std::string& sql, const std::vector<SqlValue>& params) {
  auto rows = SpiQuery(sql, params);
  if (rows.empty() || rows[0].empty()) return std::nullopt;
  return rows[0][0];
}

}  // namespace pgpipe::pg
