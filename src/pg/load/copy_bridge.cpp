// COPY FROM a streaming HTTP source: see copy_bridge.hpp.
//
// Protocol, per load:
//   1. start the HttpSource (producer thread: curl -> inflate -> bounded queue);
//   2. read the header line ourselves (waiting on the source's eventfd and the latch), check it
//      against the declared columns and the target's, create the target if asked;
//   3. open the target, make DoCopy's checks (INSERT privilege per column, row-level security,
//      read-only and parallel mode), BeginCopyFrom with our callback and the header's column
//      order; the header bytes already read are fed back first, so COPY skips the header and
//      its line numbers match the file's;
//   4. CopyFrom pulls bytes through CopyReadCallback, which waits with WaitLatchOrSocket and
//      CHECK_FOR_INTERRUPTS, so cancel and statement_timeout stop a stalled transfer at once.
//      With na_values, the bytes pass through a core::CsvNaRewriter on the way (NA fields made
//      empty, which COPY reads as NULL); every other byte, and so every line number, is the file's.
// The callback has no user-data argument in PG15: the active stream is file-static, set only
// while CopyFrom runs and cleared on every exit.
//
// Steps 2 and 3 are shared with a load split across workers (copy_into.hpp): ReadHeader,
// PrepareTarget, and CopyFromCallback, the one function that runs COPY FROM a callback into a
// relation; each part of a split load runs it with its own callback (chunk_copy.cpp).
extern "C" {
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "commands/copy.h"
#include "commands/progress.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_func.h"
#include "parser/parser.h"
#include "utils/backend_status.h"
#include "parser/parse_relation.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/backend_progress.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/rls.h"
#include "utils/wait_event.h"
}

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>

#include "core/csv_header.hpp"
#include "core/csv_na.hpp"
#include "core/error.hpp"
#include "core/http_source.hpp"
#include "core/url.hpp"
#include "pg/boundary.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/load/copy_into.hpp"
#include "pg/gucs.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// The stream CopyFrom is reading, while it reads (see the file comment).
struct ActiveStream {
  core::HttpSource* source;
  const char* prefix;  // bytes read before COPY started (the header), fed to COPY first
  size_t prefix_len;
  size_t prefix_pos;
  int64 reported_downloaded;
  // na_values: the rewriter, its buffer (kNaReadBytes + MaxCarry()), and the rewritten bytes
  // in it that COPY has not taken yet
  core::CsvNaRewriter* na = nullptr;
  char* na_buf = nullptr;
  size_t na_pos = 0, na_len = 0;
};
constexpr size_t kNaReadBytes = 64 * 1024;
ActiveStream* g_active = nullptr;

// The source of the load in progress, from its start to its end (header reading included), for
// the exit callback; and whether that callback is registered.
core::HttpSource* g_open_source = nullptr;
bool g_exit_callback_registered = false;

// before_shmem_exit: a FATAL during a load exits the process without unwinding the frame that
// owns the source; stop its thread before libc and OpenSSL tear down under it.
void StopOpenSourceAtExit(int, Datum) {
  if (g_open_source != nullptr) {
    core::HttpSource* source = g_open_source;
    g_open_source = nullptr;
    source->Stop();  // noexcept in practice: cancels, joins; the thread never calls Postgres
  }
}

// Sleeps until the source has bytes or an error, the latch is set, or a second passes; serves
// interrupts (cancel, statement_timeout, termination). May longjmp: callers hold no C++ object.
void WaitForSource(int fd) {
  int rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT |
                                          WL_EXIT_ON_PM_DEATH,
                             fd, 1000L, PG_WAIT_EXTENSION);
  if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
  CHECK_FOR_INTERRUPTS();
}

// One Read from the source for the callback, with C++ errors captured instead of thrown.
int ReadForCopy(ActiveStream* s, char* buf, int max, CaughtError* caught, bool* failed,
                int64* downloaded, int64* download_size) {
  try {
    int n = s->source->Read(buf, max);
    core::FetchStats stats = s->source->Stats();
    *downloaded = stats.bytes_downloaded;
    *download_size = stats.content_length;
    return n;
  } catch (...) {
    CatchInto(caught);
    *failed = true;
    return 0;
  }
}

}  // namespace

}  // namespace pgpipe::pg

namespace pgpipe::pg {

namespace {

// The file's bytes as they come: the prefix first, then the source, waiting while it has none
// (serving interrupts); 0 at the end of the data. May longjmp.
int ReadRaw(ActiveStream* s, char* out, int max) {
  if (s->prefix_pos < s->prefix_len) {
    size_t n = std::min<size_t>(max, s->prefix_len - s->prefix_pos);
    memcpy(out, s->prefix + s->prefix_pos, n);
    s->prefix_pos += n;
    return static_cast<int>(n);
  }
  for (;;) {
    CaughtError caught;
    bool failed = false;
    int64 downloaded = 0, download_size = -1;
    int n = ReadForCopy(s, out, max, &caught, &failed, &downloaded, &download_size);
    if (failed) RaiseCaught(caught);
    if (downloaded != s->reported_downloaded) {
      const int index[2] = {kProgressBytesDownloaded, kProgressDownloadSize};
      const int64 value[2] = {downloaded, download_size};
      pgstat_progress_update_multi_param(2, index, value);
      s->reported_downloaded = downloaded;
    }
    if (n != core::HttpSource::kWouldBlock) return n;
    WaitForSource(s->source->ReadyFd());
  }
}

// The bytes rewritten for na_values: the file read behind the rewriter's carry room and
// rewritten to the buffer's front, handed to COPY as far as it asks; 0 at the end. May longjmp.
int ReadRewritten(ActiveStream* s, char* out, int max) {
  while (s->na_pos == s->na_len) {
    const size_t carry = s->na->MaxCarry();
    int n = ReadRaw(s, s->na_buf + carry, static_cast<int>(kNaReadBytes));
    CaughtError caught;
    bool failed = false;
    size_t written = 0;
    try {
      written = n == 0 ? s->na->Finish(s->na_buf) : s->na->Rewrite(s->na_buf + carry, n, s->na_buf);
    } catch (...) {
      CatchInto(&caught);
      failed = true;
    }
    if (failed) RaiseCaught(caught);
    s->na_pos = 0;
    s->na_len = written;
    if (n == 0 && written == 0) return 0;
  }
  size_t n = std::min<size_t>(max, s->na_len - s->na_pos);
  memcpy(out, s->na_buf + s->na_pos, n);
  s->na_pos += n;
  return static_cast<int>(n);
}

}  // namespace

}  // namespace pgpipe::pg

// COPY's data-source callback: at least one byte, or 0 at the end of the data.
extern "C" int CopyReadCallback(void* outbuf, int minread, int maxread) {
  using namespace pgpipe::pg;
  ActiveStream* s = g_active;
  if (s == nullptr) elog(ERROR, "pg_pipeline: COPY callback called with no active stream");
  char* out = static_cast<char*>(outbuf);
  return s->na != nullptr ? ReadRewritten(s, out, maxread) : ReadRaw(s, out, maxread);
}

namespace pgpipe::pg {

namespace {

std::vector<std::string> SplitPrefixes(const char* list) {
  std::vector<std::string> out;
  if (!list) return out;
  std::string all = list, item;
  for (char c : all + ",") {
    if (c == ',') {
      size_t a = item.find_first_not_of(' '), b = item.find_last_not_of(' ');
      if (a != std::string::npos) out.push_back(item.substr(a, b - a + 1));
      item.clear();
    } else {
      item += c;
    }
  }
  return out;
}

// Reads from the source until the first line is complete (or the data ends); returns every
// byte read, so COPY can be fed them again.
std::string ReadHeaderBytes(core::HttpSource& source) {
  std::string bytes;
  char buf[64 * 1024];
  while (bytes.find('\n') == std::string::npos) {
    int n = source.Read(buf, sizeof buf);
    if (n == 0) break;
    if (n == core::HttpSource::kWouldBlock) {
      int fd = source.ReadyFd();
      PgCall([fd] { WaitForSource(fd); });
      continue;
    }
    bytes.append(buf, n);
    if (bytes.size() > 1024 * 1024 && bytes.find('\n') == std::string::npos)
      throw Error(sqlstate::kBadCopyFileFormat, "the header line is longer than 1 MB");
  }
  return bytes;
}

std::string HeaderLine(const std::string& bytes) {
  std::string line = bytes.substr(0, bytes.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 byte order mark
  return line;
}

// The target's Oid, or InvalidOid when it does not exist.
Oid LookupTarget(const std::string& target) {
  const char* name = target.c_str();
  return PgCall([name] {
    RangeVar* rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
    return RangeVarGetRelid(rv, NoLock, true);
  });
}

std::string QuoteIdent(const std::string& name) {
  const char* n = name.c_str();
  return PgCall([n] { return quote_identifier(n); });
}

// Creates the target with the file's columns, typed as declared (text otherwise), or with
// `columns_sql` as its column definitions when given.
void CreateTarget(const std::string& target, const std::vector<std::string>& columns,
                  const core::SourceSpec& source, bool unlogged, const std::string& options,
                  const std::string& columns_sql = {}) {
  std::string sql = std::string("CREATE ") + (unlogged ? "UNLOGGED " : "") + "TABLE " + target + " (";
  for (size_t i = 0; i < columns.size() && columns_sql.empty(); ++i) {
    std::string type = "text";
    for (const auto& c : source.columns)
      if (c.name == columns[i]) type = c.pg_type;
    sql += (i ? ", " : "") + QuoteIdent(columns[i]) + " " + type;
  }
  sql += columns_sql + ")";
  if (!options.empty()) sql += " WITH (" + options + ")";
  SpiSession spi;
  SpiExec(sql);
  spi.Finish();
}

// A projection's table (projection.hpp) while it loads: its column definitions (the output's
// columns in order, a "*" standing for every column of the file, computed columns as stored
// generated columns named pgp_computed_<i>; then the file's columns the output does not
// select), and the statements that finish it after the load: computed columns made plain, the
// unselected columns dropped, every column renamed to its output name (through a temporary name,
// so that names may trade places).
std::string ProjectedColumns(const std::string& target, const std::vector<std::string>& file,
                             const core::SourceSpec& source, const Projection& projection,
                             std::vector<std::string>* finish) {
  auto type_of = [&](const std::string& column) {
    for (const auto& c : source.columns)
      if (c.name == column) return c.pg_type;
    return std::string("text");
  };
  std::vector<std::pair<std::string, std::string>> renames;  // (name while loading, output name)
  std::vector<std::string> computed;
  std::vector<bool> used(file.size(), false);
  std::string sql;
  auto add = [&](const std::string& definition) { sql += (sql.empty() ? "" : ", ") + definition; };
  auto add_file_column = [&](size_t i, const std::string& output) {
    used[i] = true;
    add(QuoteIdent(file[i]) + " " + type_of(file[i]));
    if (output != file[i]) renames.emplace_back(file[i], output);
  };
  bool in_star = false;
  for (const auto& c : projection.columns) {
    if (c.from_star) {
      if (!in_star)
        for (size_t i = 0; i < file.size(); ++i) add_file_column(i, file[i]);
      in_star = true;
      continue;
    }
    in_star = false;
    if (!c.column.empty()) {
      size_t i = 0;
      while (i < file.size() && file[i] != c.column) ++i;
      if (i == file.size())
        throw Error("42703", "column \"" + c.column + "\" does not exist", "The file has no such column.");
      if (used[i]) throw Error(sqlstate::kInternalError, "column \"" + c.column + "\" selected twice as a file column");
      add_file_column(i, c.name);
      continue;
    }
    std::string name = "pgp_computed_" + std::to_string(computed.size());
    computed.push_back(name);
    add(name + " " + c.type + " GENERATED ALWAYS AS (" + c.expression + ") STORED");
    renames.emplace_back(name, c.name);
  }
  for (size_t i = 0; i < file.size(); ++i)
    if (!used[i]) add(QuoteIdent(file[i]) + " " + type_of(file[i]));
  for (const auto& name : computed) finish->push_back("ALTER TABLE " + target + " ALTER COLUMN " + name + " DROP EXPRESSION");
  for (size_t i = 0; i < file.size(); ++i)
    if (!used[i]) finish->push_back("ALTER TABLE " + target + " DROP COLUMN " + QuoteIdent(file[i]));
  for (size_t i = 0; i < renames.size(); ++i)
    finish->push_back("ALTER TABLE " + target + " RENAME COLUMN " + QuoteIdent(renames[i].first) +
                      " TO pgp_rename_" + std::to_string(i));
  for (size_t i = 0; i < renames.size(); ++i)
    finish->push_back("ALTER TABLE " + target + " RENAME COLUMN pgp_rename_" + std::to_string(i) + " TO " +
                      QuoteIdent(renames[i].second));
  return sql;
}

// The target's insertable columns (not dropped, not generated), in table order.
std::vector<std::string> TargetColumns(Relation rel) {
  std::vector<std::string> names;
  TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (!att->attisdropped && !att->attgenerated) names.push_back(NameStr(att->attname));
  }
  return names;
}

// DoCopy's checks for COPY FROM, which the copy API leaves to its caller: INSERT privilege on
// the table or each column, no row-level security, not read-only, not parallel.
void CheckCopyAllowed(ParseState* pstate, Relation rel, List* attnames) {
  RangeTblEntry* rte = static_cast<RangeTblEntry*>(linitial(pstate->p_rtable));
  rte->requiredPerms = ACL_INSERT;
  ListCell* lc;
  foreach (lc, attnames) {
    AttrNumber attno = attnameAttNum(rel, strVal(lfirst(lc)), false);
    rte->insertedCols =
        bms_add_member(rte->insertedCols, attno - FirstLowInvalidHeapAttributeNumber);
  }
  ExecCheckRTPerms(pstate->p_rtable, true);
  if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("pipeline loads do not support tables with row-level security"),
                    errdetail("Table \"%s\" has row-level security enabled, as COPY FROM refuses.",
                              RelationGetRelationName(rel))));
  PreventCommandIfReadOnly("pipeline load (COPY FROM)");
  PreventCommandIfParallelMode("pipeline load (COPY FROM)");
}

// One condition over the target, parsed and analysed as DoCopy analyses COPY ... WHERE (its
// namespace item already added to `pstate`): coerced to boolean, simplified.
Node* TransformCondition(ParseState* pstate, const char* condition) {
  StringInfoData sql;
  initStringInfo(&sql);
  appendStringInfo(&sql, "SELECT 1 WHERE %s", condition);
  List* parsed = raw_parser(sql.data, RAW_PARSE_DEFAULT);
  if (list_length(parsed) != 1)
    ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("a load filter must be one condition")));
  SelectStmt* select = castNode(SelectStmt, castNode(RawStmt, linitial(parsed))->stmt);
  Node* where = transformExpr(pstate, select->whereClause, EXPR_KIND_COPY_WHERE);
  where = coerce_to_boolean(pstate, where, "WHERE");
  assign_expr_collations(pstate, where);
  return eval_const_expressions(nullptr, where);
}

// pipeline._count_row(bigint, integer), or InvalidOid when missing_ok and the catalog lacks it.
Oid CountRowFunction(bool missing_ok) {
  Oid argtypes[2] = {INT8OID, INT4OID};
  return LookupFuncName(list_make2(makeString(pstrdup("pipeline")), makeString(pstrdup("_count_row"))), 2, argtypes,
                        missing_ok);
}

// The per-row counting of a COPY (CopySpec::count_if): the counts of the COPY running now, kept
// only for calls that carry its token, a random number no SQL text holds.
int64 g_count_token = 0;
int64 g_counted[kMaxLoadCounts];

// COPY's WHERE, built the way DoCopy builds it (parsed against the target, coerced to boolean,
// simplified, in implicit-AND form), followed by one
//   CASE WHEN <condition i> THEN pipeline._count_row(token, i) ELSE true END
// per counted condition: ExecQual evaluates the list in order and stops at the first false
// item, so those are evaluated on exactly the rows COPY inserts, always pass, and call the
// function only for a row the condition holds for (few, in a test that passes). The function
// is STABLE, so COPY keeps its multi-row inserts (a volatile WHERE turns them off).
Node* CopyWhere(ParseState* pstate, ParseNamespaceItem* nsitem, const CopySpec& spec) {
  if (spec.where == nullptr && spec.count_if_n == 0) return nullptr;
  addNSItemToQuery(pstate, nsitem, false, true, true);
  List* quals = NIL;
  if (spec.where != nullptr) {
    Node* where = TransformCondition(pstate, spec.where);
    where = reinterpret_cast<Node*>(canonicalize_qual(reinterpret_cast<Expr*>(where), false));
    quals = make_ands_implicit(reinterpret_cast<Expr*>(where));
  }
  if (spec.count_if_n == 0) return reinterpret_cast<Node*>(quals);
  if (spec.count_if_n > kMaxLoadCounts)
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("a load counts at most %d conditions", kMaxLoadCounts)));
  Oid counter = CountRowFunction(false);
  int64 token = 0;
  while (token == 0)
    if (!pg_strong_random(&token, sizeof token)) elog(ERROR, "pg_pipeline: no random bytes for a load's counts");
  for (int i = 0; i < spec.count_if_n; ++i) {
    List* args = list_make2(makeConst(INT8OID, -1, InvalidOid, sizeof(int64), Int64GetDatum(token), false, FLOAT8PASSBYVAL),
                            makeConst(INT4OID, -1, InvalidOid, sizeof(int32), Int32GetDatum(i), false, true));
    CaseWhen* when = makeNode(CaseWhen);
    when->expr = reinterpret_cast<Expr*>(TransformCondition(pstate, spec.count_if[i]));
    when->result = reinterpret_cast<Expr*>(makeFuncExpr(counter, BOOLOID, args, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
    when->location = -1;
    CaseExpr* counted = makeNode(CaseExpr);
    counted->casetype = BOOLOID;
    counted->casecollid = InvalidOid;
    counted->arg = nullptr;
    counted->args = list_make1(when);
    counted->defresult = reinterpret_cast<Expr*>(makeBoolConst(true, false));
    counted->location = -1;
    quals = lappend(quals, counted);
  }
  memset(g_counted, 0, sizeof g_counted);
  g_count_token = token;
  return reinterpret_cast<Node*>(quals);
}

// The COPY options of a source, as DefElems. Runs inside the guard of its caller: it takes only
// C strings that live outside, and builds no C++ object.
List* CopyOptions(const char* header, const core::SourceSpec* s) {
  List* options = NIL;
  const char* pairs[][2] = {{"format", "csv"},
                            {"header", header},
                            {"delimiter", s->delimiter.c_str()},
                            {"quote", s->quote.c_str()},
                            {"escape", s->escape.empty() ? nullptr : s->escape.c_str()},
                            {"null", s->null_string.c_str()},
                            {"encoding", s->encoding.c_str()}};
  for (const auto& pair : pairs)
    if (pair[1] != nullptr)
      options = lappend(options, makeDefElem(pstrdup(pair[0]), (Node*)makeString(pstrdup(pair[1])), -1));
  return options;
}

}  // namespace

CopyCounts CopyFromCallback(Relation rel, const CopySpec& spec, copy_data_source_cb callback,
                            void (*began)(CopyFromState)) {
  List* attnames = NIL;
  for (const auto& name : *spec.columns) attnames = lappend(attnames, makeString(pstrdup(name.c_str())));
  ParseState* pstate = make_parsestate(nullptr);
  ParseNamespaceItem* nsitem =
      addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, nullptr, false, false);
  CheckCopyAllowed(pstate, rel, attnames);
  g_count_token = 0;
  Node* where = CopyWhere(pstate, nsitem, spec);
  CopyFromState cstate = BeginCopyFrom(pstate, rel, where, nullptr, false, callback, attnames,
                                       CopyOptions(spec.header ? "true" : "false", spec.source));
  if (began != nullptr) began(cstate);
  CopyCounts counts;
  counts.rows = CopyFrom(cstate);
  counts.excluded = MyBEEntry ? MyBEEntry->st_progress_param[PROGRESS_COPY_TUPLES_EXCLUDED] : 0;
  for (int i = 0; i < spec.count_if_n; ++i) counts.counted[i] = g_counted[i];
  g_count_token = 0;
  EndCopyFrom(cstate);
  free_parsestate(pstate);
  return counts;
}

std::string ReadHeader(core::HttpSource& source, const core::SourceSpec& spec,
                       std::vector<std::string>* columns) {
  std::string prefix = ReadHeaderBytes(source);
  if (prefix.empty()) throw Error(sqlstate::kBadCopyFileFormat, "the file is empty: it has no header line");
  *columns = core::SplitCsvLine(HeaderLine(prefix), spec.delimiter[0], spec.quote[0]);
  return prefix;
}

namespace {

// The declared columns this file must have (core::FitDeclared); with optional columns (a
// compiled Mage loader), a header column nobody declared fails the load, by name.
std::vector<std::string> DeclaredFor(const core::SourceSpec& source, const std::vector<std::string>& header) {
  std::vector<std::string> declared;
  for (const auto& c : source.columns) declared.push_back(c.name);
  if (!source.header) return declared;
  core::DeclaredFit fit = core::FitDeclared(header, declared, source.optional_columns);
  if (!fit.undeclared.empty())
    throw Error(sqlstate::kBadCopyFileFormat, "column \"" + fit.undeclared[0] + "\" of the file has no declared type", "",
                "Declare it under columns (Mage: dtype) with its type, and list it in optional_columns if some "
                "files lack it.");
  return fit.required;
}

}  // namespace

bool CountableWith(const LoadRequest& request, const std::vector<std::string>& columns) {
  for (const auto& c : request.count_if_columns)
    if (std::find(columns.begin(), columns.end(), c) == columns.end()) return false;
  return true;
}

bool LoadCountingAvailable() {
  return PgCall([] {
    Oid counter = CountRowFunction(true);
    return OidIsValid(counter) && pg_proc_aclcheck(counter, GetUserId(), ACL_EXECUTE) == ACLCHECK_OK;
  });
}

bool EncodingHidesAscii(const std::string& encoding) {
  const char* name = encoding.c_str();
  int id = PgCall([name] { return pg_char_to_encoding(name); });
  return id < 0 || PG_ENCODING_IS_CLIENT_ONLY(id);
}

PreparedTarget PrepareTarget(const LoadRequest& request, const std::vector<std::string>& header) {
  const core::SourceSpec& source = request.source;
  std::vector<std::string> declared = DeclaredFor(source, header);
  PreparedTarget prepared;
  prepared.relid = LookupTarget(request.target);
  if (OidIsValid(prepared.relid) && request.must_be_new)
    throw Error("42P07", "relation " + request.target + " already exists",
                "A run's loader creates its relation new and never writes into one it did not create.");
  if (!OidIsValid(prepared.relid)) {
    if (!request.create)
      throw Error(sqlstate::kUndefinedTable,
                  "target table " + request.target + " does not exist", "",
                  "Create it first, or pass create: true with the columns' types.");
    const std::vector<std::string>& columns = source.header ? header : declared;
    if (columns.empty())
      throw Error(sqlstate::kInvalidParameterValue,
                  "cannot create " + request.target + ": no header and no columns to take its columns from");
    core::HeaderCheck check = core::CheckHeader(columns, columns, declared);
    if (!check.ok())
      throw Error(sqlstate::kBadCopyFileFormat, "the file's header does not match the declared columns",
                  check.Detail());
    std::string projected;
    if (!request.projection.columns.empty())
      projected = ProjectedColumns(request.target, columns, source, request.projection, &prepared.finish);
    CreateTarget(request.target, columns, source, request.unlogged, request.options, projected);
    prepared.relid = LookupTarget(request.target);
    prepared.created = true;
  }
  const Oid relid = prepared.relid;
  // (the lock taken here is the transaction's until it ends: COPY opens the table again)
  Relation rel = PgCall([relid] { return table_open(relid, RowExclusiveLock); });
  std::vector<std::string> target_columns = TargetColumns(rel);
  PgCall([rel] { table_close(rel, NoLock); });
  if (!source.header) {
    prepared.columns = target_columns;
    return prepared;
  }
  core::HeaderCheck check = core::CheckHeader(header, target_columns, declared);
  if (!check.ok())
    throw Error(sqlstate::kBadCopyFileFormat,
                "the file's header does not match table " + request.target, check.Detail(),
                "Make the columns of the file and of the table agree, or load into a new table.");
  prepared.columns = check.columns;
  return prepared;
}

core::FetchOptions FetchOptionsFor(const core::SourceSpec& source) {
  core::FetchOptions opts;
  opts.url = source.url;
  opts.compression = source.compression;
  opts.connect_timeout_ms = source.connect_timeout_s > 0
                                ? static_cast<long>(source.connect_timeout_s * 1000)
                                : guc.connect_timeout_ms;
  opts.low_speed_limit = guc.low_speed_limit;
  opts.low_speed_time_s = guc.low_speed_time_s;
  opts.timeout_ms = static_cast<long>(source.timeout_s * 1000);
  opts.max_redirects = guc.max_redirects;
  // The administrator's limits (superuser-set GUCs, 0 = none); a source's own may only lower them.
  auto tighter = [](int64_t own, int64_t admin) { return own > 0 && (admin == 0 || own < admin) ? own : admin; };
  opts.max_bytes = tighter(source.max_bytes, static_cast<int64_t>(guc.max_download_mb) * 1024 * 1024);
  opts.max_decompressed_bytes =
      tighter(source.max_decompressed_bytes, static_cast<int64_t>(guc.max_decompressed_mb) * 1024 * 1024);
  bool is_superuser = PgCall([] { return superuser(); });
  if (!is_superuser) {
    opts.allowed_prefixes = SplitPrefixes(guc.allowed_url_prefixes);
    // No prefix listed: nothing is explicitly allowed, so only public addresses may be reached
    // (audit L3, SSRF). A listed prefix is a superuser's explicit consent, and the URL and every
    // redirect must match one, so the addresses behind it are not checked.
    opts.public_addresses_only = opts.allowed_prefixes.empty();
  }
  return opts;
}

OpenSourceGuard::OpenSourceGuard(core::HttpSource* source) {
  if (!g_exit_callback_registered) {
    PgCall([] { before_shmem_exit(StopOpenSourceAtExit, 0); });
    g_exit_callback_registered = true;
  }
  g_open_source = source;
}

OpenSourceGuard::~OpenSourceGuard() { g_open_source = nullptr; }

std::string NaNote(const LoadResult& loaded) {
  if (loaded.na_fields == 0) return "";
  return std::to_string(loaded.na_fields) + " field(s) of the file read as NULL (na_values)";
}

LoadResult LoadCsv(const LoadRequest& request) {
  const core::SourceSpec& source = request.source;
  const auto started = std::chrono::steady_clock::now();
  const std::string shown_url = core::RedactUrl(source.url);
  LoadResult result;
  // The download's own error, kept before the source is gone: its retry class and Retry-After
  // do not survive the round trip through COPY's ereport.
  std::optional<Error> stream_failure;
  struct KeepFailure {
    const core::HttpSource* stream;
    std::optional<Error>* out;
    ~KeepFailure() {
      if (std::uncaught_exceptions() > 0) *out = stream->Failure();
    }
  };
  try {
    core::HttpSource stream(FetchOptionsFor(source));
    KeepFailure keep{&stream, &stream_failure};
    OpenSourceGuard open(&stream);
    stream.Start();
    std::string prefix;
    std::vector<std::string> header;
    if (source.header) prefix = ReadHeader(stream, source, &header);
    PreparedTarget target = PrepareTarget(request, header);
    result.created = target.created;
    result.finish = target.finish;

    ActiveStream active = {&stream, prefix.data(), prefix.size(), 0, -1};
    std::optional<core::CsvNaRewriter> na;
    std::vector<char> na_buf;
    if (!source.na_values.empty()) {
      if (EncodingHidesAscii(source.encoding))
        throw Error(sqlstate::kFeatureNotSupported,
                    "na_values cannot be read in encoding " + source.encoding +
                        ": its multibyte characters may hold bytes that look like quotes and delimiters",
                    "", "Convert the file to UTF8 first, or leave na_values out.");
      const char quote = source.quote[0];
      na.emplace(source.na_values,
                 core::CsvDialect{source.delimiter[0], quote, source.escape.empty() ? quote : source.escape[0]},
                 source.header);
      na_buf.resize(kNaReadBytes + na->MaxCarry());
      active.na = &*na;
      active.na_buf = na_buf.data();
    }
    struct ClearActive {
      ~ClearActive() { g_active = nullptr; }
    } clear_active;
    // COPY reads the file's columns in header order (with no header, in table order); the
    // header bytes already read are fed again, and COPY skips them itself.
    CopySpec spec;
    spec.source = &source;
    spec.columns = &target.columns;
    spec.where = request.where.empty() ? nullptr : request.where.c_str();
    spec.header = source.header;
    std::vector<const char*> count_if;
    if (CountableWith(request, target.columns))
      for (const auto& c : request.count_if) count_if.push_back(c.c_str());
    spec.count_if = count_if.data();
    spec.count_if_n = static_cast<int>(count_if.size());
    const Oid relid = target.relid;
    g_active = &active;
    // Everything from opening the relation to closing it runs under one guard; the frames
    // below it (COPY, the callback) hold no C++ objects.
    CopyCounts counts = PgCall([&] {
      Relation rel = table_open(relid, RowExclusiveLock);
      CopyCounts c = CopyFromCallback(rel, spec, CopyReadCallback, nullptr);
      table_close(rel, NoLock);
      return c;
    });
    result.rows = counts.rows;
    result.rows_excluded = counts.excluded;
    result.counted.assign(counts.counted, counts.counted + spec.count_if_n);
    core::FetchStats stats = stream.Stats();
    result.bytes_downloaded = stats.bytes_downloaded;
    result.bytes_decompressed = stats.bytes_decompressed;
    if (na) result.na_fields = na->Replaced();
  } catch (const Error& e) {
    Error failed = e.WithContext("loading \"" + shown_url + "\" into " + request.target);
    if (stream_failure && e.retry_class() == core::RetryClass::kUnknown)
      failed.SetRetry(stream_failure->retry_class(), stream_failure->retry_after_s());
    throw failed;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace pgpipe::pg

// pipeline._count_row(token, i): true, and counts one row into count i of the running COPY
// when the token is that COPY's (CopyWhere). A call with any other token counts nothing: SQL
// that calls it cannot change a load's counts.
extern "C" {
PG_FUNCTION_INFO_V1(pipeline_count_row);
Datum pipeline_count_row(PG_FUNCTION_ARGS) {
  using pgpipe::pg::g_count_token;
  using pgpipe::pg::g_counted;
  if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1) && g_count_token != 0 && PG_GETARG_INT64(0) == g_count_token) {
    int32 i = PG_GETARG_INT32(1);
    if (i >= 0 && i < pgpipe::pg::kMaxLoadCounts) ++g_counted[i];
  }
  PG_RETURN_BOOL(true);
}
}
