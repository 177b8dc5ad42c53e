// The server side of Python blocks: where the runtime's Python packages are installed, and two
// SQL functions that move a DataFrame's rows at COPY speed, since PL/Python has no COPY API:
//
//   pipeline._copy_in(target regclass, data text, header boolean DEFAULT true,
//                     null_string text DEFAULT '') RETURNS bigint
//       COPY FROM one chunk of CSV text into target (INSERT privilege, no row-level security,
//       read-write transaction: the checks COPY itself makes). With header, the first line names
//       the columns the chunk fills; without, the chunk has every column in table order.
//   pipeline._copy_out(relation regclass, null_string text DEFAULT '') RETURNS SETOF text
//       The relation's rows as CSV in chunks of about 4 MB ending on row boundaries, the header
//       first; read through SPI as the caller, so privileges and row-level security apply.
//   pipeline._python_path() RETURNS text
//       <sharedir>/extension/pg_pipeline/python, the directory put on PL/Python's sys.path.
//
// CSV conventions, both ways: comma, double quote doubled inside quotes, NULL is the unquoted
// null_string; a value equal to it, empty, or holding a comma, quote, CR or LF is quoted.
// The SQL declarations are in python/install.sql.
#pragma once

#include <string>

namespace pgpipe::pg {

// The directory of the Python runtime (pg_pipeline_runtime and the mage_ai compatibility
// package), under this server's share directory.
std::string PythonDir();

}  // namespace pgpipe::pg
