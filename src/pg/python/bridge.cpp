// COPY in and out for Python blocks, and where their runtime lives: see bridge.hpp.
//
// Into tables: _copy_in (CSV text) and _copy_in_columns (numpy buffers) both feed BeginCopyFrom
// through COPY's data-source callback. In PG15 that callback has no user-data argument, so the
// source being read is file-static, set only while CopyFrom runs and cleared on every exit (as
// copy_bridge.cpp does for HTTP). Column buffers become COPY's binary format when every target
// column has exactly the buffer's type (bigint for int64, double precision, boolean, timestamp,
// timestamptz, text or varchar; the tables the runtime creates), and CSV otherwise, so that
// COPY's input functions load an int64 column into integer or numeric as well. Either way COPY
// makes its checks and fires triggers.
//
// Out of tables: _copy_out (CSV text) and _copy_out_columns (column buffers) are value-per-call
// set-returning functions over one SPI cursor. The first call opens it on SELECT * FROM the
// relation as the caller; its portal outlives each call's SPI connection, as PL/pgSQL's cursors
// do, and is found again by name. Each call fetches rows into one chunk and returns it; the
// last closes the cursor. (PG15's COPY TO cannot write to a callback.)
extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "common/shortest_dec.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"
}

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/csv_header.hpp"
#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/python/bridge.hpp"

#ifdef WORDS_BIGENDIAN
#error "the column buffers of Python blocks are little-endian (numpy's on this platform)"
#endif

namespace pgpipe::pg {

namespace {

constexpr int kChunkBytes = 4 * 1024 * 1024;  // the size _copy_out* aim at per chunk
constexpr uint32 kChunkRows = 32768;          // rows per _copy_out_columns chunk, at most
constexpr long kMaxFetch = 10000;             // rows per SPI fetch, at most
constexpr int64 kUnixEpochUsecs =             // 1970-01-01 in Postgres's microseconds (< 0):
    static_cast<int64>(UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;  // unix + this = pg

// Column kinds of _copy_in_columns and _copy_out_columns (bridge.hpp).
constexpr char kInt64 = 'i', kFloat64 = 'f', kBool = 'b', kTimestamp = 't', kTimestampTz = 'z',
               kText = 's';

// A source of bytes for COPY FROM: fill writes up to max bytes to out, 0 at the end.
struct CopySource {
  int (*fill)(CopySource* self, char* out, int max);
};
CopySource* g_source = nullptr;  // the source CopyFrom is reading, while it reads

// _copy_in's source: one CSV text.
struct TextSource {
  CopySource base;
  const char* data;
  size_t len;
  size_t pos;
};

// Copies the next bytes of the text.
int FillFromText(CopySource* self, char* out, int max) {
  TextSource* s = reinterpret_cast<TextSource*>(self);
  size_t n = std::min<size_t>(static_cast<size_t>(max), s->len - s->pos);
  memcpy(out, s->data + s->pos, n);
  s->pos += n;
  return static_cast<int>(n);
}

// One column of _copy_in_columns: its kind, values, and NULL flags (nullptr: none are NULL).
struct InColumn {
  char kind;
  const char* data;
  size_t len;
  const char* nulls;
  size_t text_pos;  // text: where the next row's string starts in data
};

// _copy_in_columns' source: the columns' rows formatted as CSV or binary, a batch at a time.
struct ColumnsSource {
  CopySource base;
  InColumn* columns;
  int ncolumns;
  int64 nrows;
  int64 row;
  bool binary;             // COPY's binary format, else CSV
  bool trailer_sent;       // binary: the end-of-data marker went out
  StringInfoData pending;  // formatted rows not yet handed to COPY
  int pending_pos;
};

// The first CSV record of data (a quoted field may hold line breaks), without its terminator.
std::string FirstRecord(const char* data, size_t len) {
  bool quoted = false;
  size_t i = 0;
  for (; i < len; ++i) {
    char c = data[i];
    if (c == '"') quoted = !quoted;  // a doubled quote toggles twice
    else if (!quoted && (c == '\n' || c == '\r')) break;
  }
  return std::string(data, i);
}

// Whether a CSV field must be quoted: empty, equal to null_string, or holding , " CR LF. Reads
// only len bytes (strings of _copy_in_columns are not NUL-terminated).
bool NeedsQuotes(const char* value, size_t len, const char* null_string) {
  if (len == 0 || (len == strlen(null_string) && memcmp(value, null_string, len) == 0)) return true;
  for (size_t i = 0; i < len; ++i) {
    char c = value[i];
    if (c == ',' || c == '"' || c == '\r' || c == '\n') return true;
  }
  return false;
}

// Appends one CSV field, quoted when it must be.
void AppendCsvField(StringInfo buf, const char* value, size_t len, const char* null_string) {
  if (!NeedsQuotes(value, len, null_string)) {
    appendBinaryStringInfo(buf, value, static_cast<int>(len));
    return;
  }
  appendStringInfoCharMacro(buf, '"');
  for (size_t i = 0; i < len; ++i) {
    if (value[i] == '"') appendStringInfoCharMacro(buf, '"');
    appendStringInfoCharMacro(buf, value[i]);
  }
  appendStringInfoCharMacro(buf, '"');
}

// Appends microseconds since 1970 as an ISO timestamp, "+00" after it when with_zone.
void AppendTimestamp(StringInfo buf, int64 usecs, bool with_zone) {
  struct pg_tm tm;
  fsec_t fsec;
  if (timestamp2tm(usecs + kUnixEpochUsecs, nullptr, &tm, &fsec, nullptr, nullptr) != 0)
    ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
  char text[MAXDATELEN + 1];
  EncodeDateTime(&tm, fsec, with_zone, 0, nullptr, USE_ISO_DATES, text);
  appendStringInfoString(buf, text);
}

// Appends one row of the columns as a CSV line (NULL is an empty unquoted field).
void FormatRow(ColumnsSource* s, int64 row) {
  StringInfo buf = &s->pending;
  char text[64];
  for (int c = 0; c < s->ncolumns; ++c) {
    InColumn* col = &s->columns[c];
    if (c > 0) appendStringInfoCharMacro(buf, ',');
    const char* string = nullptr;
    size_t string_len = 0;
    if (col->kind == kText) {  // every row has a string, "" for NULL: step over it first
      if (col->text_pos > col->len)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("column %d has fewer strings than rows", c + 1)));
      string = col->data + col->text_pos;
      const void* end = memchr(string, '\0', col->len - col->text_pos);
      string_len = end ? static_cast<const char*>(end) - string : col->len - col->text_pos;
      col->text_pos += string_len + 1;
    }
    if (col->nulls != nullptr && col->nulls[row]) continue;
    switch (col->kind) {
      case kInt64: {
        int64 v;
        memcpy(&v, col->data + 8 * row, 8);
        appendBinaryStringInfo(buf, text, pg_lltoa(v, text));
        break;
      }
      case kFloat64: {
        double v;
        memcpy(&v, col->data + 8 * row, 8);
        if (std::isnan(v))
          appendStringInfoString(buf, "NaN");
        else if (std::isinf(v))
          appendStringInfoString(buf, v > 0 ? "Infinity" : "-Infinity");
        else
          appendBinaryStringInfo(buf, text, double_to_shortest_decimal_buf(v, text));
        break;
      }
      case kBool:
        appendStringInfoCharMacro(buf, col->data[row] ? 't' : 'f');
        break;
      case kTimestamp:
      case kTimestampTz: {
        int64 v;
        memcpy(&v, col->data + 8 * row, 8);
        AppendTimestamp(buf, v, col->kind == kTimestampTz);
        break;
      }
      default:
        AppendCsvField(buf, string, string_len, "");
    }
  }
  appendStringInfoCharMacro(buf, '\n');
}

// Appends one row of the columns in COPY's binary format (big-endian, -1 length for NULL),
// writing straight into the buffer once it has room for the whole row.
void FormatBinaryRow(ColumnsSource* s, int64 row) {
  StringInfo buf = &s->pending;
  enlargeStringInfo(buf, 2 + 12 * s->ncolumns);  // fixed-width fields; strings make their own room
  char* p = buf->data + buf->len;
  auto put16 = [&p](uint16 v) { v = pg_hton16(v); memcpy(p, &v, 2); p += 2; };
  auto put32 = [&p](uint32 v) { v = pg_hton32(v); memcpy(p, &v, 4); p += 4; };
  put16(static_cast<uint16>(s->ncolumns));
  for (int c = 0; c < s->ncolumns; ++c) {
    InColumn* col = &s->columns[c];
    const char* string = nullptr;
    uint32 string_len = 0;
    if (col->kind == kText) {  // as in FormatRow
      if (col->text_pos > col->len)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("column %d has fewer strings than rows", c + 1)));
      string = col->data + col->text_pos;
      const void* end = memchr(string, '\0', col->len - col->text_pos);
      string_len = static_cast<uint32>(end ? static_cast<const char*>(end) - string : col->len - col->text_pos);
      col->text_pos += string_len + 1;
    }
    if (col->nulls != nullptr && col->nulls[row]) {
      put32(static_cast<uint32>(-1));
    } else if (col->kind == kText) {
      buf->len = static_cast<int>(p - buf->data);
      enlargeStringInfo(buf, 4 + static_cast<int>(string_len) + 12 * (s->ncolumns - c));
      p = buf->data + buf->len;
      put32(string_len);
      memcpy(p, string, string_len);
      p += string_len;
    } else if (col->kind == kBool) {
      put32(1);
      *p++ = col->data[row] ? 1 : 0;
    } else {
      uint64 v;
      memcpy(&v, col->data + 8 * row, 8);
      if (col->kind == kTimestamp || col->kind == kTimestampTz)
        v = static_cast<uint64>(static_cast<int64>(v) + kUnixEpochUsecs);
      put32(8);
      v = pg_hton64(v);
      memcpy(p, &v, 8);
      p += 8;
    }
  }
  buf->len = static_cast<int>(p - buf->data);
  buf->data[buf->len] = '\0';
}

// Hands COPY the next formatted bytes, formatting a batch of rows when none are pending.
int FillFromColumns(CopySource* self, char* out, int max) {
  ColumnsSource* s = reinterpret_cast<ColumnsSource*>(self);
  if (s->pending_pos >= s->pending.len) {
    resetStringInfo(&s->pending);
    s->pending_pos = 0;
    if (s->binary && s->row == 0)  // signature, flags, no header extension
      appendBinaryStringInfo(&s->pending, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
    while (s->row < s->nrows && s->pending.len < 64 * 1024) {
      if (s->binary)
        FormatBinaryRow(s, s->row++);
      else
        FormatRow(s, s->row++);
    }
    if (s->binary && s->row == s->nrows && !s->trailer_sent) {
      appendBinaryStringInfo(&s->pending, "\377\377", 2);
      s->trailer_sent = true;
    }
    if (s->pending.len == 0) return 0;
  }
  int n = std::min(max, s->pending.len - s->pending_pos);
  memcpy(out, s->pending.data + s->pending_pos, n);
  s->pending_pos += n;
  return n;
}

}  // namespace

}  // namespace pgpipe::pg

// COPY's data-source callback: reads from the file-static source.
extern "C" int PythonCopyRead(void* outbuf, int minread, int maxread) {
  pgpipe::pg::CopySource* s = pgpipe::pg::g_source;
  if (s == nullptr) elog(ERROR, "pg_pipeline: COPY callback called with no source to read");
  return s->fill(s, static_cast<char*>(outbuf), maxread);
}

namespace pgpipe::pg {

namespace {

// DoCopy's checks for COPY FROM, which the copy API leaves to its caller: INSERT privilege on
// the table or on each column loaded, no row-level security, not read-only, not parallel.
void CheckInsertAllowed(ParseState* pstate, Relation rel, List* attnames) {
  RangeTblEntry* rte = static_cast<RangeTblEntry*>(linitial(pstate->p_rtable));
  rte->requiredPerms = ACL_INSERT;
  ListCell* lc;
  foreach (lc, CopyGetAttnums(RelationGetDescr(rel), rel, attnames)) {
    AttrNumber attno = static_cast<AttrNumber>(lfirst_int(lc));
    rte->insertedCols = bms_add_member(rte->insertedCols, attno - FirstLowInvalidHeapAttributeNumber);
  }
  ExecCheckRTPerms(pstate->p_rtable, true);
  if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("Python block outputs do not support tables with row-level security"),
                    errdetail("Table \"%s\" has row-level security enabled, as COPY FROM refuses.",
                              RelationGetRelationName(rel))));
  PreventCommandIfReadOnly("COPY FROM");
  PreventCommandIfParallelMode("COPY FROM");
}

// COPY FROM source into relid, CSV (binary when null_string is NULL): the named columns (all, in
// table order, when names is NIL). Plain C under one guard: it may longjmp and holds no C++ object.
uint64 CopyInto(Oid relid, List* names, bool header, const char* null_string, CopySource* source) {
  Relation rel = table_open(relid, RowExclusiveLock);
  ParseState* pstate = make_parsestate(nullptr);
  addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, nullptr, false, false);
  CheckInsertAllowed(pstate, rel, names);
  List* options = NIL;
  auto add = [&options](const char* name, const char* value) {
    options = lappend(options, makeDefElem(pstrdup(name), (Node*)makeString(pstrdup(value)), -1));
  };
  if (null_string == nullptr) {
    add("format", "binary");
  } else {
    add("format", "csv");
    add("header", header ? "true" : "false");
    add("null", null_string);
    add("encoding", GetDatabaseEncodingName());  // our text is in the server's encoding
  }
  CopySource* outer = g_source;  // a COPY of ours under this one (from a trigger), if any
  g_source = source;
  CopyFromState cstate =
      BeginCopyFrom(pstate, rel, nullptr, nullptr, false, PythonCopyRead, names, options);
  uint64 rows = CopyFrom(cstate);
  g_source = outer;
  EndCopyFrom(cstate);
  table_close(rel, NoLock);
  free_parsestate(pstate);
  return rows;
}

// _copy_in_columns' arguments as a source over them (arrays deconstructed in the current
// memory context); refuses buffers that do not hold nrows values.
ColumnsSource* ColumnsFromArgs(FunctionCallInfo fcinfo, int64 nrows, List** names) {
  Datum *name_d, *kind_d, *data_d, *null_d;
  bool *name_n, *kind_n, *data_n, *null_n;
  int n, nkinds, ndata, nnulls;
  deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT, &name_d, &name_n, &n);
  deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, -1, false, TYPALIGN_INT, &kind_d, &kind_n, &nkinds);
  deconstruct_array(PG_GETARG_ARRAYTYPE_P(4), BYTEAOID, -1, false, TYPALIGN_INT, &data_d, &data_n, &ndata);
  deconstruct_array(PG_GETARG_ARRAYTYPE_P(5), BYTEAOID, -1, false, TYPALIGN_INT, &null_d, &null_n, &nnulls);
  if (n == 0 || nkinds != n || ndata != n || nnulls != n)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("names, kinds, data and nulls must have one element per column, and at least one")));
  ColumnsSource* s = static_cast<ColumnsSource*>(palloc0(sizeof(ColumnsSource)));
  s->base.fill = FillFromColumns;
  s->columns = static_cast<InColumn*>(palloc0(sizeof(InColumn) * (n + 1)));
  s->ncolumns = n;
  s->nrows = nrows;
  initStringInfo(&s->pending);
  for (int c = 0; c < n; ++c) {
    if (name_n[c] || kind_n[c] || data_n[c])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("column %d has a NULL name, kind or data", c + 1)));
    const char* name = TextDatumGetCString(name_d[c]);
    const char* kind = TextDatumGetCString(kind_d[c]);
    bytea* data = DatumGetByteaPP(data_d[c]);
    InColumn* col = &s->columns[c];
    col->kind = kind[0];
    col->data = VARDATA_ANY(data);
    col->len = VARSIZE_ANY_EXHDR(data);
    size_t width = col->kind == kBool ? 1 : 8;
    bool fits = col->kind == kText ||
                (strchr("ifbtz", col->kind) != nullptr && col->len == width * static_cast<size_t>(nrows));
    if (strlen(kind) != 1 || !fits)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("column \"%s\" has kind \"%s\" and %zu bytes for %lld rows", name, kind,
                             col->len, static_cast<long long>(nrows))));
    if (!null_n[c]) {
      bytea* nulls = DatumGetByteaPP(null_d[c]);
      if (VARSIZE_ANY_EXHDR(nulls) == static_cast<size_t>(nrows))
        col->nulls = VARDATA_ANY(nulls);
      else if (VARSIZE_ANY_EXHDR(nulls) != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("column \"%s\" has NULL flags for %zu rows, not %lld", name,
                               VARSIZE_ANY_EXHDR(nulls), static_cast<long long>(nrows))));
    }
    *names = lappend(*names, makeString(const_cast<char*>(name)));
  }
  return s;
}

// Whether the buffers can go to relid in COPY's binary format: every named column's (base) type
// is exactly its buffer's, and text needs no conversion (binary COPY converts text from the
// client encoding, and our strings are in the server's).
bool BinaryFits(Oid relid, List* names, ColumnsSource* s) {
  int client = pg_get_client_encoding();
  bool text_ok = client == GetDatabaseEncoding() || client == PG_SQL_ASCII;
  Relation rel = table_open(relid, RowExclusiveLock);
  bool fits = true;
  for (int c = 0; c < s->ncolumns && fits; ++c) {
    AttrNumber attno = attnameAttNum(rel, strVal(list_nth(names, c)), false);
    if (attno <= 0) {  // a system column or none: let COPY report it
      fits = false;
      break;
    }
    Oid type = getBaseType(TupleDescAttr(RelationGetDescr(rel), attno - 1)->atttypid);
    switch (s->columns[c].kind) {
      case kInt64: fits = type == INT8OID; break;
      case kFloat64: fits = type == FLOAT8OID; break;
      case kBool: fits = type == BOOLOID; break;
      case kTimestamp: fits = type == TIMESTAMPOID; break;
      case kTimestampTz: fits = type == TIMESTAMPTZOID; break;
      default: fits = text_ok && (type == TEXTOID || type == VARCHAROID);
    }
  }
  table_close(rel, NoLock);  // the lock stays until the transaction ends
  return fits;
}

// _copy_in_columns under one guard: decodes the arguments and copies the rows in.
uint64 CopyColumnsIn(FunctionCallInfo fcinfo) {
  Oid relid = PG_GETARG_OID(0);
  int64 nrows = PG_GETARG_INT64(1);
  if (nrows < 0) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("rows must not be negative")));
  List* names = NIL;
  ColumnsSource* source = ColumnsFromArgs(fcinfo, nrows, &names);
  source->binary = BinaryFits(relid, names, source);
  return CopyInto(relid, names, false, source->binary ? nullptr : "", &source->base);
}

// ---- out of tables: the cursor shared by _copy_out and _copy_out_columns ----

// What _copy_out* keep between calls, in the multi-call memory context.
struct CopyOutState {
  char* portal_name;  // the SPI cursor over the relation
  int natts;
  char** names;         // column names
  Oid* types;           // base types
  char* kinds;          // _copy_out_columns' kind per column
  FmgrInfo* out_funcs;  // each column's output function
  char* null_string;    // _copy_out's NULL
  StringInfoData* column_nulls;  // _copy_out_columns' per-column buffers, reused by each call
  StringInfoData* column_data;
  bool started;         // the header or first chunk went out
  bool done;            // the cursor is exhausted and closed
  double row_bytes;     // average formatted row size so far, to size fetches
};

// The kind a column of base type `type` travels as in _copy_out_columns.
char KindOfType(Oid type) {
  switch (type) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
      return kInt64;
    case FLOAT4OID:
    case FLOAT8OID:
    case NUMERICOID:
      return kFloat64;
    case BOOLOID:
      return kBool;
    case TIMESTAMPOID:
    case DATEOID:
      return kTimestamp;
    case TIMESTAMPTZOID:
      return kTimestampTz;
    default:
      return kText;
  }
}

// First call of _copy_out*: opens the cursor as the caller and looks up the output functions.
CopyOutState* StartCopyOut(FuncCallContext* funcctx, Oid relid, const char* null_string) {
  MemoryContext multi = funcctx->multi_call_memory_ctx;
  char* relname = get_rel_name(relid);
  if (relname == nullptr)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
  const char* query = psprintf("SELECT * FROM %s",
                               quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname));
  CopyOutState* state = static_cast<CopyOutState*>(MemoryContextAllocZero(multi, sizeof(CopyOutState)));
  state->null_string = MemoryContextStrdup(multi, null_string);
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  SPIPlanPtr plan = SPI_prepare(query, 0, nullptr);
  if (plan == nullptr) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
  Portal portal = SPI_cursor_open(nullptr, plan, nullptr, nullptr, false);
  state->portal_name = MemoryContextStrdup(multi, portal->name);
  TupleDesc desc = portal->tupDesc;
  int n = state->natts = desc->natts;
  state->names = static_cast<char**>(MemoryContextAlloc(multi, sizeof(char*) * (n + 1)));
  state->types = static_cast<Oid*>(MemoryContextAlloc(multi, sizeof(Oid) * (n + 1)));
  state->kinds = static_cast<char*>(MemoryContextAlloc(multi, n + 1));
  state->out_funcs = static_cast<FmgrInfo*>(MemoryContextAlloc(multi, sizeof(FmgrInfo) * (n + 1)));
  for (int i = 0; i < n; ++i) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    Oid func;
    bool is_varlena;
    getTypeOutputInfo(att->atttypid, &func, &is_varlena);
    fmgr_info_cxt(func, &state->out_funcs[i], multi);
    state->names[i] = MemoryContextStrdup(multi, NameStr(att->attname));
    state->types[i] = getBaseType(att->atttypid);
    state->kinds[i] = KindOfType(state->types[i]);
  }
  SPI_finish();
  return state;
}

// Where fetched rows go: a row callback, whether the chunk is full, its size so far in bytes,
// and how many more rows it takes at most.
struct RowSink {
  void (*row)(RowSink* self, CopyOutState* state, Datum* values, bool* nulls);
  bool (*full)(RowSink* self);
  int64 (*bytes)(RowSink* self);
  long (*room)(RowSink* self);
};

// Fetches rows into sink until it is full or the cursor ends (then closes it and marks done).
void FetchInto(CopyOutState* state, RowSink* sink) {
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  Portal portal = SPI_cursor_find(state->portal_name);
  if (portal == nullptr) elog(ERROR, "pg_pipeline: the cursor of _copy_out is gone");
  // Output functions allocate; this context (freed by SPI_finish) is reset after each batch.
  MemoryContext rows_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_pipeline copy out",
                                                 ALLOCSET_DEFAULT_SIZES);
  Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * (state->natts + 1)));
  bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * (state->natts + 1)));
  int64 start_bytes = sink->bytes(sink);
  uint64 rows = 0;
  while (!sink->full(sink)) {
    CHECK_FOR_INTERRUPTS();
    long want = 100;
    if (state->row_bytes > 0)
      want = std::clamp(static_cast<long>((kChunkBytes - sink->bytes(sink)) / state->row_bytes) + 1, 1L, kMaxFetch);
    want = std::min(want, sink->room(sink));
    SPI_cursor_fetch(portal, true, want);
    uint64 got = SPI_processed;
    TupleDesc desc = SPI_tuptable->tupdesc;
    MemoryContext old = MemoryContextSwitchTo(rows_cxt);
    for (uint64 r = 0; r < got; ++r) {
      heap_deform_tuple(SPI_tuptable->vals[r], desc, values, nulls);
      sink->row(sink, state, values, nulls);
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(rows_cxt);
    SPI_freetuptable(SPI_tuptable);
    rows += got;
    if (rows > 0) state->row_bytes = static_cast<double>(sink->bytes(sink) - start_bytes) / rows;
    if (static_cast<long>(got) < want) {
      SPI_cursor_close(portal);
      state->done = true;
      break;
    }
  }
  SPI_finish();
}

// _copy_out's sink: CSV lines in one text value.
struct CsvSink {
  RowSink base;
  StringInfoData buf;
};

// Appends a row as a CSV line.
void CsvRow(RowSink* self, CopyOutState* state, Datum* values, bool* nulls) {
  StringInfo buf = &reinterpret_cast<CsvSink*>(self)->buf;
  for (int c = 0; c < state->natts; ++c) {
    if (c > 0) appendStringInfoCharMacro(buf, ',');
    if (nulls[c]) {
      appendStringInfoString(buf, state->null_string);
    } else {
      char* text = OutputFunctionCall(&state->out_funcs[c], values[c]);
      AppendCsvField(buf, text, strlen(text), state->null_string);
    }
  }
  appendStringInfoCharMacro(buf, '\n');
}

bool CsvFull(RowSink* self) { return reinterpret_cast<CsvSink*>(self)->buf.len >= kChunkBytes; }
int64 CsvBytes(RowSink* self) { return reinterpret_cast<CsvSink*>(self)->buf.len; }
long CsvRoom(RowSink* self) { return kMaxFetch; }

// One call of _copy_out: the next CSV chunk (the header first), or the end of the set.
Datum CopyOutNext(FunctionCallInfo fcinfo) {
  if (SRF_IS_FIRSTCALL()) {
    FuncCallContext* funcctx = SRF_FIRSTCALL_INIT();
    const char* null_string = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
    funcctx->user_fctx = StartCopyOut(funcctx, PG_GETARG_OID(0), null_string);
  }
  FuncCallContext* funcctx = SRF_PERCALL_SETUP();
  CopyOutState* state = static_cast<CopyOutState*>(funcctx->user_fctx);
  if (state->done && state->started) SRF_RETURN_DONE(funcctx);
  // The chunk is built in the caller's per-call context, as a varlena whose header is set last.
  CsvSink sink = {{CsvRow, CsvFull, CsvBytes, CsvRoom}, {}};
  initStringInfo(&sink.buf);
  enlargeStringInfo(&sink.buf, kChunkBytes + 64 * 1024);  // growing it by doubling is costly
  appendBinaryStringInfo(&sink.buf, "\0\0\0\0", VARHDRSZ);
  if (!state->started) {
    for (int c = 0; c < state->natts; ++c) {
      if (c > 0) appendStringInfoCharMacro(&sink.buf, ',');
      AppendCsvField(&sink.buf, state->names[c], strlen(state->names[c]), state->null_string);
    }
    appendStringInfoCharMacro(&sink.buf, '\n');
    state->started = true;
  }
  if (!state->done) FetchInto(state, &sink.base);
  if (sink.buf.len == VARHDRSZ) SRF_RETURN_DONE(funcctx);
  SET_VARSIZE(sink.buf.data, sink.buf.len);
  SRF_RETURN_NEXT(funcctx, PointerGetDatum(sink.buf.data));
}

// _copy_out_columns' sink: per column, NULL flags and values, assembled into a chunk at the end.
struct ColumnsSink {
  RowSink base;
  uint32 rows;
  int ncolumns;
  StringInfoData* nulls;
  StringInfoData* data;
  int64 bytes;
};

// Appends a row to each column's buffers.
void ColumnsRow(RowSink* self, CopyOutState* state, Datum* values, bool* nulls) {
  ColumnsSink* s = reinterpret_cast<ColumnsSink*>(self);
  for (int c = 0; c < state->natts; ++c) {
    StringInfo data = &s->data[c];
    int before = data->len;
    appendStringInfoCharMacro(&s->nulls[c], nulls[c] ? 1 : 0);
    char kind = state->kinds[c];
    if (kind == kText) {
      if (s->rows > 0) appendStringInfoCharMacro(data, '\0');
      if (!nulls[c]) appendStringInfoString(data, OutputFunctionCall(&state->out_funcs[c], values[c]));
    } else if (kind == kBool) {
      appendStringInfoCharMacro(data, !nulls[c] && DatumGetBool(values[c]) ? 1 : 0);
    } else {
      int64 i = 0;
      double f = 0;
      if (!nulls[c]) {
        Datum v = values[c];
        switch (state->types[c]) {
          case INT2OID: i = DatumGetInt16(v); break;
          case INT4OID: i = DatumGetInt32(v); break;
          case INT8OID: i = DatumGetInt64(v); break;
          case FLOAT8OID: f = DatumGetFloat8(v); break;
          case FLOAT4OID: {  // as its shortest decimal reads, like the CSV path (0.1, not 0.100000001)
            char text[32];
            float_to_shortest_decimal_buf(DatumGetFloat4(v), text);
            f = strtod(text, nullptr);
            break;
          }
          case NUMERICOID: f = DatumGetFloat8(DirectFunctionCall1(numeric_float8, v)); break;
          case DATEOID: {
            DateADT d = DatumGetDateADT(v);
            if (DATE_NOT_FINITE(d))
              ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
                              errmsg("column \"%s\" holds an infinite date, which pandas cannot hold", state->names[c])));
            i = static_cast<int64>(d) * USECS_PER_DAY - kUnixEpochUsecs;
            break;
          }
          default: {  // timestamp, timestamptz: microseconds since 2000
            Timestamp t = DatumGetTimestamp(v);
            if (TIMESTAMP_NOT_FINITE(t))
              ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
                              errmsg("column \"%s\" holds an infinite timestamp, which pandas cannot hold", state->names[c])));
            i = t - kUnixEpochUsecs;
          }
        }
      }
      if (kind == kFloat64)
        appendBinaryStringInfo(data, reinterpret_cast<const char*>(&f), 8);
      else
        appendBinaryStringInfo(data, reinterpret_cast<const char*>(&i), 8);
    }
    s->bytes += data->len - before + 1;
  }
  s->rows++;
}

bool ColumnsFull(RowSink* self) {
  ColumnsSink* s = reinterpret_cast<ColumnsSink*>(self);
  return s->rows >= kChunkRows || s->bytes >= kChunkBytes;
}

long ColumnsRoom(RowSink* self) { return kChunkRows - reinterpret_cast<ColumnsSink*>(self)->rows; }
int64 ColumnsBytes(RowSink* self) { return reinterpret_cast<ColumnsSink*>(self)->bytes; }

// One call of _copy_out_columns: the next chunk of up to kChunkRows rows, or the end of the set.
// Chunk: u32 rows, u32 columns, then per column: u8 kind, u8 has_nulls, [rows NULL flags],
// values (rows x 8 bytes; rows x 1 for bool; u64 length + NUL-separated strings for text).
Datum CopyOutColumnsNext(FunctionCallInfo fcinfo) {
  if (SRF_IS_FIRSTCALL()) {
    FuncCallContext* funcctx = SRF_FIRSTCALL_INIT();
    funcctx->user_fctx = StartCopyOut(funcctx, PG_GETARG_OID(0), "");
  }
  FuncCallContext* funcctx = SRF_PERCALL_SETUP();
  CopyOutState* state = static_cast<CopyOutState*>(funcctx->user_fctx);
  if (state->done) SRF_RETURN_DONE(funcctx);
  int n = state->natts;
  if (state->column_data == nullptr) {  // sized once for a whole chunk: growing them is costly
    MemoryContext old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
    state->column_nulls = static_cast<StringInfoData*>(palloc(sizeof(StringInfoData) * (n + 1)));
    state->column_data = static_cast<StringInfoData*>(palloc(sizeof(StringInfoData) * (n + 1)));
    for (int c = 0; c < n; ++c) {
      initStringInfo(&state->column_nulls[c]);
      enlargeStringInfo(&state->column_nulls[c], kChunkRows);
      initStringInfo(&state->column_data[c]);
      if (state->kinds[c] != kText) enlargeStringInfo(&state->column_data[c], 8 * kChunkRows);
    }
    MemoryContextSwitchTo(old);
  }
  for (int c = 0; c < n; ++c) {
    resetStringInfo(&state->column_nulls[c]);
    resetStringInfo(&state->column_data[c]);
  }
  ColumnsSink sink = {{ColumnsRow, ColumnsFull, ColumnsBytes, ColumnsRoom}, 0, n, state->column_nulls,
                      state->column_data, 0};
  FetchInto(state, &sink.base);
  if (sink.rows == 0) SRF_RETURN_DONE(funcctx);
  // The chunk, allocated once at its final size in the caller's per-call context.
  size_t size = VARHDRSZ + 8;
  for (int c = 0; c < n; ++c) size += 2 + 8 + sink.nulls[c].len + sink.data[c].len;
  char* chunk = static_cast<char*>(palloc(size));
  char* p = chunk + VARHDRSZ;
  uint32 header[2] = {sink.rows, static_cast<uint32>(n)};
  memcpy(p, header, sizeof header);
  p += sizeof header;
  for (int c = 0; c < n; ++c) {
    bool has_nulls = memchr(sink.nulls[c].data, 1, sink.nulls[c].len) != nullptr;
    *p++ = state->kinds[c];
    *p++ = has_nulls ? 1 : 0;
    if (has_nulls) {
      memcpy(p, sink.nulls[c].data, sink.nulls[c].len);
      p += sink.nulls[c].len;
    }
    if (state->kinds[c] == kText) {
      uint64 len = sink.data[c].len;
      memcpy(p, &len, 8);
      p += 8;
    }
    memcpy(p, sink.data[c].data, sink.data[c].len);
    p += sink.data[c].len;
  }
  SET_VARSIZE(chunk, p - chunk);
  SRF_RETURN_NEXT(funcctx, PointerGetDatum(chunk));
}

}  // namespace

std::string PythonDir() {
  char share[MAXPGPATH];
  get_share_path(my_exec_path, share);  // path arithmetic only: it cannot ereport
  return std::string(share) + "/extension/pg_pipeline/python";
}

}  // namespace pgpipe::pg

using namespace pgpipe;

// pipeline._copy_in(target regclass, data text, header boolean, null_string text) returns
// bigint: the rows COPY inserted from one CSV chunk.
PGPIPE_FUNCTION(pipeline_copy_in) {
  if (pg::ArgIsNull(fcinfo, 0) || pg::ArgIsNull(fcinfo, 1))
    throw core::Error(core::sqlstate::kInvalidParameterValue, "target and data must not be NULL");
  const Oid relid = PG_GETARG_OID(0);
  const bool header = pg::ArgIsNull(fcinfo, 2) ? true : PG_GETARG_BOOL(2);
  const std::string null_string = pg::TextArg(fcinfo, 3);
  text* data = pg::PgCall([fcinfo] { return PG_GETARG_TEXT_PP(1); });
  const char* bytes = VARDATA_ANY(data);
  const size_t len = VARSIZE_ANY_EXHDR(data);
  if (len == 0) return Int64GetDatum(0);
  std::vector<std::string> columns;
  if (header) columns = core::SplitCsvLine(pg::FirstRecord(bytes, len), ',', '"');
  std::vector<const char*> names;
  for (const auto& c : columns) names.push_back(c.c_str());

  pg::TextSource source = {{pg::FillFromText}, bytes, len, 0};
  struct ClearSource {
    ~ClearSource() { pg::g_source = nullptr; }
  } clear_source;
  const char* const* name_list = names.data();
  const int ncolumns = static_cast<int>(names.size());
  const char* null_cstr = null_string.c_str();
  uint64 rows = pg::PgCall([&] {
    List* attnames = NIL;
    for (int i = 0; i < ncolumns; ++i) attnames = lappend(attnames, makeString(pstrdup(name_list[i])));
    return pg::CopyInto(relid, attnames, header, null_cstr, &source.base);
  });
  return Int64GetDatum(static_cast<int64>(rows));
}

// pipeline._copy_in_columns(target regclass, rows bigint, names text[], kinds text[],
// data bytea[], nulls bytea[]) returns bigint: the rows COPY inserted from column buffers.
PGPIPE_FUNCTION(pipeline_copy_in_columns) {
  for (int i = 0; i < 6; ++i)
    if (pg::ArgIsNull(fcinfo, i))
      throw core::Error(core::sqlstate::kInvalidParameterValue, "no argument of _copy_in_columns may be NULL");
  struct ClearSource {
    ~ClearSource() { pg::g_source = nullptr; }
  } clear_source;
  uint64 rows = pg::PgCall([fcinfo] { return pg::CopyColumnsIn(fcinfo); });
  return Int64GetDatum(static_cast<int64>(rows));
}

// pipeline._copy_out(relation regclass, null_string text) returns setof text: the relation as CSV.
PGPIPE_FUNCTION(pipeline_copy_out) {
  if (pg::ArgIsNull(fcinfo, 0))
    throw core::Error(core::sqlstate::kInvalidParameterValue, "relation must not be NULL");
  return pg::PgCall([fcinfo] { return pg::CopyOutNext(fcinfo); });
}

// pipeline._copy_out_columns(relation regclass) returns setof bytea: the relation as column
// chunks.
PGPIPE_FUNCTION(pipeline_copy_out_columns) {
  if (pg::ArgIsNull(fcinfo, 0))
    throw core::Error(core::sqlstate::kInvalidParameterValue, "relation must not be NULL");
  return pg::PgCall([fcinfo] { return pg::CopyOutColumnsNext(fcinfo); });
}

// pipeline._python_path() returns text: the directory PL/Python imports the runtime from.
PGPIPE_FUNCTION(pipeline_python_path) {
  return pg::TextResult(pg::PythonDir());
}
