// COPY in and out for Python blocks, and where their runtime lives: see python_bridge.hpp.
//
// _copy_in hands one text argument to BeginCopyFrom through COPY's data-source callback. In PG15
// that callback has no user-data argument, so the chunk being read is file-static, set only
// while CopyFrom runs and cleared on every exit (as copy_bridge.cpp does for HTTP).
//
// _copy_out is a value-per-call set-returning function. The first call opens an SPI cursor over
// SELECT * FROM the relation; its portal outlives each call's SPI connection, as PL/pgSQL's
// cursors do, and is found again by name. Each call formats rows with the types' output
// functions into one text value of about kChunkBytes, built in place as a varlena so it is
// never copied, and closes the cursor after the last row. PG15's COPY TO cannot write to a
// callback, hence the formatting here.
extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "commands/copy.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/rls.h"
}

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/csv_header.hpp"
#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"
#include "pg/python_bridge.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

constexpr int kChunkBytes = 4 * 1024 * 1024;  // _copy_out's text values, roughly
constexpr long kMaxFetch = 10000;              // rows per SPI fetch, at most

// The CSV chunk CopyFrom is reading, while it reads (see the file comment).
struct InputChunk {
  const char* data;
  size_t len;
  size_t pos;
};
InputChunk* g_chunk = nullptr;

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

}  // namespace

}  // namespace pgpipe::pg

// COPY's data-source callback over the file-static chunk: up to maxread bytes, 0 at its end.
extern "C" int PythonChunkRead(void* outbuf, int minread, int maxread) {
  pgpipe::pg::InputChunk* c = pgpipe::pg::g_chunk;
  if (c == nullptr) elog(ERROR, "pg_pipeline: COPY callback called with no chunk to read");
  size_t n = std::min<size_t>(static_cast<size_t>(maxread), c->len - c->pos);
  memcpy(outbuf, c->data + c->pos, n);
  c->pos += n;
  return static_cast<int>(n);
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
  PreventCommandIfReadOnly("pipeline._copy_in (COPY FROM)");
  PreventCommandIfParallelMode("pipeline._copy_in (COPY FROM)");
}

// COPY FROM the file-static chunk into relid: the named columns (all, in table order, when
// ncolumns is 0). Plain C under one guard: it may longjmp and holds no C++ object.
uint64 CopyChunkIn(Oid relid, const char* const* names, int ncolumns, bool header,
                   const char* null_string) {
  Relation rel = table_open(relid, RowExclusiveLock);
  List* attnames = NIL;
  for (int i = 0; i < ncolumns; ++i) attnames = lappend(attnames, makeString(pstrdup(names[i])));
  ParseState* pstate = make_parsestate(nullptr);
  addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, nullptr, false, false);
  CheckInsertAllowed(pstate, rel, attnames);
  List* options = NIL;
  auto add = [&options](const char* name, const char* value) {
    options = lappend(options, makeDefElem(pstrdup(name), (Node*)makeString(pstrdup(value)), -1));
  };
  add("format", "csv");
  add("header", header ? "true" : "false");
  add("null", null_string);
  add("encoding", GetDatabaseEncodingName());  // the text argument is in the server's encoding
  CopyFromState cstate =
      BeginCopyFrom(pstate, rel, nullptr, nullptr, false, PythonChunkRead, attnames, options);
  uint64 rows = CopyFrom(cstate);
  EndCopyFrom(cstate);
  table_close(rel, NoLock);
  free_parsestate(pstate);
  return rows;
}

// What _copy_out keeps between calls, in the multi-call memory context.
struct CopyOutState {
  char* portal_name;  // the SPI cursor over the relation
  int natts;
  char** names;        // column names, for the header
  FmgrInfo* out_funcs;  // each column's output function
  char* null_string;
  bool header_sent;
  bool done;
  double row_bytes;  // average formatted row size so far, to size fetches
};

// Appends one CSV field: quoted when empty, equal to the NULL string, or holding , " CR LF.
void AppendCsvField(StringInfo buf, const char* value, const char* null_string) {
  bool quote = value[0] == '\0' || strcmp(value, null_string) == 0 || strpbrk(value, ",\"\r\n");
  if (!quote) {
    appendStringInfoString(buf, value);
    return;
  }
  appendStringInfoCharMacro(buf, '"');
  for (const char* p = value; *p; ++p) {
    if (*p == '"') appendStringInfoCharMacro(buf, '"');
    appendStringInfoCharMacro(buf, *p);
  }
  appendStringInfoCharMacro(buf, '"');
}

// First call of _copy_out: opens the cursor as the caller and looks up the output functions.
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
  state->natts = desc->natts;
  state->names = static_cast<char**>(MemoryContextAlloc(multi, sizeof(char*) * (desc->natts + 1)));
  state->out_funcs = static_cast<FmgrInfo*>(MemoryContextAlloc(multi, sizeof(FmgrInfo) * (desc->natts + 1)));
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    Oid func;
    bool is_varlena;
    getTypeOutputInfo(att->atttypid, &func, &is_varlena);
    fmgr_info_cxt(func, &state->out_funcs[i], multi);
    state->names[i] = MemoryContextStrdup(multi, NameStr(att->attname));
  }
  SPI_finish();
  return state;
}

// Formats rows into buf until it holds about kChunkBytes; marks the state done at the end.
void FillChunk(CopyOutState* state, StringInfo buf) {
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  Portal portal = SPI_cursor_find(state->portal_name);
  if (portal == nullptr) elog(ERROR, "pg_pipeline: the cursor of _copy_out is gone");
  // Output functions allocate; this context (freed by SPI_finish) is reset after each batch.
  MemoryContext rows_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_pipeline copy out",
                                                 ALLOCSET_DEFAULT_SIZES);
  Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * (state->natts + 1)));
  bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * (state->natts + 1)));
  int start_len = buf->len;
  uint64 rows = 0;
  while (buf->len < kChunkBytes) {
    CHECK_FOR_INTERRUPTS();
    long want = 100;
    if (state->row_bytes > 0)
      want = std::clamp(static_cast<long>((kChunkBytes - buf->len) / state->row_bytes) + 1, 1L, kMaxFetch);
    SPI_cursor_fetch(portal, true, want);
    uint64 got = SPI_processed;
    TupleDesc desc = SPI_tuptable->tupdesc;
    MemoryContext old = MemoryContextSwitchTo(rows_cxt);
    for (uint64 r = 0; r < got; ++r) {
      heap_deform_tuple(SPI_tuptable->vals[r], desc, values, nulls);
      for (int c = 0; c < state->natts; ++c) {
        if (c > 0) appendStringInfoCharMacro(buf, ',');
        if (nulls[c])
          appendStringInfoString(buf, state->null_string);
        else
          AppendCsvField(buf, OutputFunctionCall(&state->out_funcs[c], values[c]), state->null_string);
      }
      appendStringInfoCharMacro(buf, '\n');
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(rows_cxt);
    SPI_freetuptable(SPI_tuptable);
    rows += got;
    if (rows > 0) state->row_bytes = static_cast<double>(buf->len - start_len) / rows;
    if (static_cast<long>(got) < want) {
      SPI_cursor_close(portal);
      state->done = true;
      break;
    }
  }
  SPI_finish();
}

// One call of _copy_out: the next chunk, or the end of the set.
Datum CopyOutNext(FunctionCallInfo fcinfo) {
  if (SRF_IS_FIRSTCALL()) {
    FuncCallContext* funcctx = SRF_FIRSTCALL_INIT();
    const char* null_string = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
    funcctx->user_fctx = StartCopyOut(funcctx, PG_GETARG_OID(0), null_string);
  }
  FuncCallContext* funcctx = SRF_PERCALL_SETUP();
  CopyOutState* state = static_cast<CopyOutState*>(funcctx->user_fctx);
  if (state->done && state->header_sent) SRF_RETURN_DONE(funcctx);
  // The chunk is built in the caller's per-call context, as a varlena whose header is set last.
  StringInfoData buf;
  initStringInfo(&buf);
  appendBinaryStringInfo(&buf, "\0\0\0\0", VARHDRSZ);
  if (!state->header_sent) {
    for (int c = 0; c < state->natts; ++c) {
      if (c > 0) appendStringInfoCharMacro(&buf, ',');
      AppendCsvField(&buf, state->names[c], state->null_string);
    }
    appendStringInfoCharMacro(&buf, '\n');
    state->header_sent = true;
  }
  if (!state->done) FillChunk(state, &buf);
  if (buf.len == VARHDRSZ) SRF_RETURN_DONE(funcctx);
  SET_VARSIZE(buf.data, buf.len);
  SRF_RETURN_NEXT(funcctx, PointerGetDatum(buf.data));
}

}  // namespace

std::string PythonDir() {
  char share[MAXPGPATH];
  get_share_path(my_exec_path, share);  // path arithmetic only: it cannot ereport
  return std::string(share) + "/extension/pg_pipeline/python";
}

}  // namespace pgpipe::pg

using namespace pgpipe;

// pipeline._copy_in(target regclass, data text, header boolean, null_string text) returns bigint:
// the rows COPY inserted from one CSV chunk.
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

  pg::InputChunk chunk = {bytes, len, 0};
  struct ClearChunk {
    ~ClearChunk() { pg::g_chunk = nullptr; }
  } clear_chunk;
  pg::g_chunk = &chunk;
  const char* const* name_list = names.data();
  const int ncolumns = static_cast<int>(names.size());
  const char* null_cstr = null_string.c_str();
  uint64 rows = pg::PgCall([=] { return pg::CopyChunkIn(relid, name_list, ncolumns, header, null_cstr); });
  return Int64GetDatum(static_cast<int64>(rows));
}

// pipeline._copy_out(relation regclass, null_string text) returns setof text: the relation as CSV.
PGPIPE_FUNCTION(pipeline_copy_out) {
  if (pg::ArgIsNull(fcinfo, 0))
    throw core::Error(core::sqlstate::kInvalidParameterValue, "relation must not be NULL");
  return pg::PgCall([fcinfo] { return pg::CopyOutNext(fcinfo); });
}

// pipeline._python_path() returns text: the directory PL/Python imports the runtime from.
PGPIPE_FUNCTION(pipeline_python_path) {
  return pg::TextResult(pg::PythonDir());
}
