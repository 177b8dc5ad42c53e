// The server side of Python blocks: where the runtime's Python packages are installed, and the
// SQL functions that move a DataFrame's rows at COPY speed, since PL/Python has no COPY API.
// Their declarations are in python/install.sql.
//
//   pipeline._copy_in(target regclass, data text, header boolean DEFAULT true,
//                     null_string text DEFAULT '') RETURNS bigint
//       COPY FROM one chunk of CSV text into target. With header, the first line names the
//       columns the chunk fills; without, the chunk has every column in table order.
//   pipeline._copy_out(relation regclass, null_string text DEFAULT '') RETURNS SETOF text
//       The relation's rows as CSV in chunks of about 4 MB ending on row boundaries, the header
//       first. CSV both ways: comma, double quote doubled inside quotes, NULL is the unquoted
//       null_string; a value equal to it, empty, or holding a comma, quote, CR or LF is quoted.
//   pipeline._copy_in_columns(target regclass, rows bigint, names text[], kinds text[],
//                             data bytea[], nulls bytea[]) RETURNS bigint
//       COPY FROM column buffers (what numpy holds), in COPY's binary format when every target
//       column has exactly the buffer's type, else as CSV for COPY to parse with the target
//       columns' input functions. Per column: its kind, its values, and one
//       byte per row, 1 for NULL (or an empty bytea when none is NULL). Kinds and values,
//       little-endian: i int64, f float64, b bool (1 byte), t timestamp and z timestamptz
//       (int64 microseconds since 1970-01-01, UTC for z), s text (the rows' strings in the
//       server's encoding, separated by NUL bytes, "" for a NULL).
//   pipeline._copy_out_columns(relation regclass) RETURNS SETOF bytea
//       The relation's rows as column chunks: u32 rows, u32 columns, then per column u8 kind,
//       u8 has_nulls, [rows NULL bytes if has_nulls], values: rows x 8 bytes (i, f, t, z),
//       rows x 1 byte (b), or u64 length + NUL-separated strings (s). smallint, integer and
//       bigint travel as i; real, double precision and numeric as f; boolean as b; timestamp
//       and date as t; timestamptz as z; every other type as its output function's text.
//   pipeline._python_path() RETURNS text
//       <sharedir>/extension/pg_pipeline/python, the directory put on PL/Python's sys.path.
//
// COPY FROM checks what COPY itself checks: INSERT privilege, no row-level security, a
// read-write transaction. Reading goes through SPI as the caller, so privileges and row-level
// security apply.
#pragma once

#include <string>

namespace pgpipe::pg {

// The directory of the Python runtime (pg_pipeline_runtime and the mage_ai compatibility
// package), under this server's share directory.
std::string PythonDir();

}  // namespace pgpipe::pg
