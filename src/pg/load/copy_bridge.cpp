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
// The callback has no user-data argument in PG15: the active stream is file-static, set only
// while CopyFrom runs and cleared on every exit.
extern "C" {
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "commands/copy.h"
#include "commands/progress.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
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

#include <chrono>
#include <cstring>
#include <exception>
#include <optional>

#include "core/csv_header.hpp"
#include "core/error.hpp"
#include "core/http_source.hpp"
#include "core/url.hpp"
#include "pg/boundary.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/gucs.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

// pg_stat_progress_copy parameter slots COPY leaves unused, where loads publish download bytes.
constexpr int kProgressBytesDownloaded = 10;
constexpr int kProgressDownloadSize = 11;

namespace {

// The stream CopyFrom is reading, while it reads (see the file comment).
struct ActiveStream {
  core::HttpSource* source;
  const char* prefix;  // bytes read before COPY started (the header), fed to COPY first
  size_t prefix_len;
  size_t prefix_pos;
  int64 reported_downloaded;
};
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

// Makes `source` the open one until the guard goes (the load ended, by any way but exit).
struct OpenSourceGuard {
  explicit OpenSourceGuard(core::HttpSource* source) {
    if (!g_exit_callback_registered) {
      PgCall([] { before_shmem_exit(StopOpenSourceAtExit, 0); });
      g_exit_callback_registered = true;
    }
    g_open_source = source;
  }
  ~OpenSourceGuard() { g_open_source = nullptr; }
};

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

// COPY's data-source callback: at least one byte, or 0 at the end of the data.
extern "C" int CopyReadCallback(void* outbuf, int minread, int maxread) {
  using namespace pgpipe::pg;
  ActiveStream* s = g_active;
  if (s == nullptr) elog(ERROR, "pg_pipeline: COPY callback called with no active stream");
  if (s->prefix_pos < s->prefix_len) {
    size_t n = std::min<size_t>(maxread, s->prefix_len - s->prefix_pos);
    memcpy(outbuf, s->prefix + s->prefix_pos, n);
    s->prefix_pos += n;
    return static_cast<int>(n);
  }
  for (;;) {
    CaughtError caught;
    bool failed = false;
    int64 downloaded = 0, download_size = -1;
    int n = ReadForCopy(s, static_cast<char*>(outbuf), maxread, &caught, &failed, &downloaded,
                        &download_size);
    if (failed) RaiseCaught(caught);
    if (downloaded != s->reported_downloaded) {
      const int index[2] = {kProgressBytesDownloaded, kProgressDownloadSize};
      const int64 value[2] = {downloaded, download_size};
      pgstat_progress_update_multi_param(2, index, value);
      s->reported_downloaded = downloaded;
    }
    if (n != pgpipe::core::HttpSource::kWouldBlock) return n;
    WaitForSource(s->source->ReadyFd());
  }
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

// Creates the target with the file's columns, typed as declared (text otherwise).
void CreateTarget(const std::string& target, const std::vector<std::string>& columns,
                  const core::SourceSpec& source, bool unlogged) {
  std::string sql = std::string("CREATE ") + (unlogged ? "UNLOGGED " : "") + "TABLE " + target + " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string type = "text";
    for (const auto& c : source.columns)
      if (c.name == columns[i]) type = c.pg_type;
    sql += (i ? ", " : "") + QuoteIdent(columns[i]) + " " + type;
  }
  SpiSession spi;
  SpiExec(sql + ")");
  spi.Finish();
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

// A WHERE condition as COPY takes it, built the way DoCopy builds COPY ... WHERE: parsed
// against the target, coerced to boolean, simplified, in implicit-AND form.
Node* TransformWhere(ParseState* pstate, ParseNamespaceItem* nsitem, const char* condition) {
  StringInfoData sql;
  initStringInfo(&sql);
  appendStringInfo(&sql, "SELECT 1 WHERE %s", condition);
  List* parsed = raw_parser(sql.data, RAW_PARSE_DEFAULT);
  if (list_length(parsed) != 1)
    ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("a load filter must be one condition")));
  SelectStmt* select = castNode(SelectStmt, castNode(RawStmt, linitial(parsed))->stmt);
  addNSItemToQuery(pstate, nsitem, false, true, true);
  Node* where = transformExpr(pstate, select->whereClause, EXPR_KIND_COPY_WHERE);
  where = coerce_to_boolean(pstate, where, "WHERE");
  assign_expr_collations(pstate, where);
  where = eval_const_expressions(nullptr, where);
  where = reinterpret_cast<Node*>(canonicalize_qual(reinterpret_cast<Expr*>(where), false));
  return reinterpret_cast<Node*>(make_ands_implicit(reinterpret_cast<Expr*>(where)));
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
    if (source.header) {
      prefix = ReadHeaderBytes(stream);
      if (prefix.empty())
        throw Error(sqlstate::kBadCopyFileFormat, "the file is empty: it has no header line");
      header = core::SplitCsvLine(HeaderLine(prefix), source.delimiter[0], source.quote[0]);
    }
    std::vector<std::string> declared;
    for (const auto& c : source.columns) declared.push_back(c.name);

    Oid relid = LookupTarget(request.target);
    if (OidIsValid(relid) && request.must_be_new)
      throw Error("42P07", "relation " + request.target + " already exists",
                  "A run's loader creates its relation new and never writes into one it did not create.");
    if (!OidIsValid(relid)) {
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
      CreateTarget(request.target, columns, source, request.unlogged);
      relid = LookupTarget(request.target);
      result.created = true;
    }

    ActiveStream active = {&stream, prefix.data(), prefix.size(), 0, -1};
    struct ClearActive {
      ~ClearActive() { g_active = nullptr; }
    } clear_active;
    // COPY reads the file's columns in header order; with no header, in table order.
    const std::vector<std::string>* header_ptr = &header;
    const core::SourceSpec* source_ptr = &source;
    std::vector<std::string> target_columns;
    // Everything from opening the relation to closing it runs under one guard; the frames
    // below it (COPY, the callback) hold no C++ objects.
    Relation rel = PgCall([&] { return table_open(relid, RowExclusiveLock); });
    target_columns = TargetColumns(rel);
    if (source.header) {
      core::HeaderCheck check = core::CheckHeader(header, target_columns, declared);
      if (!check.ok())
        throw Error(sqlstate::kBadCopyFileFormat,
                    "the file's header does not match table " + request.target, check.Detail(),
                    "Make the columns of the file and of the table agree, or load into a new table.");
      header = check.columns;
    } else {
      header = target_columns;
    }
    g_active = &active;
    const char* header_option = source.header ? "true" : "false";
    const char* where_text = request.where.empty() ? nullptr : request.where.c_str();
    int64 excluded = 0;
    result.rows = PgCall([&] {
      List* attnames = NIL;
      for (const auto& name : *header_ptr) attnames = lappend(attnames, makeString(pstrdup(name.c_str())));
      ParseState* pstate = make_parsestate(nullptr);
      ParseNamespaceItem* nsitem =
          addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, nullptr, false, false);
      CheckCopyAllowed(pstate, rel, attnames);
      Node* where = where_text ? TransformWhere(pstate, nsitem, where_text) : nullptr;
      CopyFromState cstate = BeginCopyFrom(pstate, rel, where, nullptr, false, CopyReadCallback,
                                           attnames, CopyOptions(header_option, source_ptr));
      uint64 rows = CopyFrom(cstate);
      excluded = MyBEEntry ? MyBEEntry->st_progress_param[PROGRESS_COPY_TUPLES_EXCLUDED] : 0;
      EndCopyFrom(cstate);
      table_close(rel, NoLock);
      free_parsestate(pstate);
      return rows;
    });
    result.rows_excluded = static_cast<uint64_t>(excluded);
    core::FetchStats stats = stream.Stats();
    result.bytes_downloaded = stats.bytes_downloaded;
    result.bytes_decompressed = stats.bytes_decompressed;
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
