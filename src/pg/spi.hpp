// SPI from C++: run catalog SQL with text parameters and get rows back as std::strings. Every
// SPI call goes through PgCall, so a Postgres error comes back as a core::Error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgpipe::pg {

using SqlValue = std::optional<std::string>;  // nullopt is SQL NULL
using SqlRow = std::vector<SqlValue>;

// An SPI connection for the duration of one C++ body. Call Finish() on the success path; on an
// error the transaction aborts and Postgres cleans the SPI stack itself (nothing to undo here).
class SpiSession {
 public:
  SpiSession();
  SpiSession(const SpiSession&) = delete;
  SpiSession& operator=(const SpiSession&) = delete;
  void Finish();

 private:
  bool finished_ = false;
};

// Runs `sql` with parameters $1..$n (all text; cast them in the SQL) and returns every row.
std::vector<SqlRow> SpiQuery(const std::string& sql, const std::vector<SqlValue>& params = {});

// Runs `sql` and returns the number of rows it processed.
uint64_t SpiExec(const std::string& sql, const std::vector<SqlValue>& params = {});

// The names and types of the columns `sql` returns. It runs the query: wrap it in LIMIT 0 when
// only its shape is wanted.
struct SpiColumn {
  std::string name;
  std::string type;  // format_type's spelling: "boolean", "character varying(10)"
};
std::vector<SpiColumn> SpiColumns(const std::string& sql);

// Just the names of SpiColumns.
std::vector<std::string> SpiColumnNames(const std::string& sql);

// The single value of a one-row, one-column query, or nullopt when there is no row or it is NULL.
SqlValue SpiScalar(const std::string& sql, const std::vector<SqlValue>& params = {});

}  // namespace pgpipe::pg
