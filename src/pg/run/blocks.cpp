// One block with its retries: see blocks.hpp.
extern "C" {
#include "postgres.h"

#include "utils/timeout.h"
}

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/http_source.hpp"
#include "core/retry_class.hpp"
#include "core/sql_text.hpp"
#include "pg/boundary.hpp"
#include "pg/gucs.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/load/parallel_load.hpp"
#include "pg/run/blocks.hpp"
#include "pg/run/compiled.hpp"
#include "pg/run/publish.hpp"
#include "pg/run/python_block.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/state.hpp"
#include "pg/run/tests.hpp"
#include "pg/spi.hpp"
#include "pg/txn.hpp"
#include "pg/wait.hpp"

namespace pgpipe::pg {

using core::BlockSpec;
using core::BlockState;
using core::BlockType;
using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// The rows of every upstream output that were counted, or -1 when none was.
int64_t RowsIn(const Run& run, const BlockSpec& b) {
  int64_t rows = 0;
  bool known = false;
  for (const auto& up : b.upstream) {
    int64_t n = run.blocks.at(up).rows_out;
    if (n >= 0) {
      rows += n;
      known = true;
    }
  }
  return known ? rows : -1;
}

// Evaluates a boolean condition: a query (its first value) or an expression.
bool EvaluateCondition(Run& run, const BlockSpec& block) {
  // A query becomes a scalar subquery, an expression stays one: both read as "SELECT (...)".
  std::string sql = Render(run, block, block.sql, "sql of block \"" + block.name + "\"");
  return SpiScalar("SELECT (" + sql + ")::boolean") == SqlValue("t");
}

// Whether the sensor's URL answers with success now. Only the fetch's own failures mean "not
// yet"; an interrupt while waiting (a cancel) is raised as it is.
bool ProbeUrl(const std::string& url) {
  core::SourceSpec probe;  // the loader's limits and allowed prefixes apply to sensors too
  probe.url = url;
  probe.compression = "none";
  probe.timeout_s = 30;
  core::HttpSource source(FetchOptionsFor(probe));
  char buf[1024];
  try {
    source.Start();
  } catch (const Error&) {
    return false;
  }
  for (;;) {
    int n;
    try {
      n = source.Read(buf, sizeof buf);
    } catch (const Error&) {
      return false;
    }
    if (n != core::HttpSource::kWouldBlock) return true;  // any body byte, or its end
    WaitOnLatch(1000, source.ReadyFd());
  }
}

// A loader's output: a new UNLOGGED table in the run owner's staging schema.
void Load(Run& run, BlockRun& state, const BlockSpec& b, AttemptResult& result) {
  state.relation = NewStagingName(run, b.name);
  if (b.source) {
    // One file, or several loaded in order into the one table (the first creates it).
    const std::vector<std::string> urls = b.source->urls.empty() ? std::vector<std::string>{b.source->url} : b.source->urls;
    result.rows_out = result.bytes = 0;
    for (size_t i = 0; i < urls.size(); ++i) {
      LoadRequest request;
      request.source = *b.source;
      request.source.url = Render(run, b, urls[i], "url of block \"" + b.name + "\"");
      request.target = state.relation;
      request.create = request.must_be_new = i == 0;
      request.unlogged = true;
      LoadResult loaded = LoadCsv(request);
      result.rows_out += static_cast<int64_t>(loaded.rows);
      result.bytes += loaded.bytes_downloaded;
      char line[512];
      std::snprintf(line, sizeof line, "loaded %lld rows in %.2f s (%.1f MB downloaded, %.1f MB of CSV)%s",
                    static_cast<long long>(loaded.rows), loaded.seconds, loaded.bytes_downloaded / 1e6,
                    loaded.bytes_decompressed / 1e6,
                    urls.size() > 1 ? (" from file " + std::to_string(i + 1) + " of " + std::to_string(urls.size())).c_str()
                                    : "");
      result.log.push_back({"info", line});
      if (std::string na = NaNote(loaded); !na.empty()) result.log.push_back({"info", na});
    }
    RenameColumnsOf(b, state.relation);
  } else {
    std::string sql = WithRenamedColumns(b, Render(run, b, b.sql, "sql of block \"" + b.name + "\""));
    result.rows_out = static_cast<int64_t>(SpiExec("CREATE UNLOGGED TABLE " + state.relation + " AS " + sql));
    result.log.push_back({"info", "loaded " + Num(result.rows_out) + " rows"});
  }
  state.relid = RecordStaging(run, b.name, state.relation, 'r');
  RunTests(run, b, state.relation, false, result);
}

// A loader's load split across workers (parallel_load.hpp): the new UNLOGGED staging table is
// created and loaded in transactions of their own, then tested in one more; it is dropped
// when any of that fails, so a failed attempt leaves nothing behind.
AttemptResult LoadInParallel(Run& run, const std::string& name, int workers) {
  BlockRun& state = run.blocks.at(name);
  const BlockSpec& b = run.Spec(name);
  AttemptResult result;
  result.rows_in = RowsIn(run, b);
  ParallelLoadRequest request;
  InTransaction([&] {
    DropLeftoverStaging(run.id, name);
    state.relation = NewStagingName(run, name);
    request.load.source = *b.source;
    request.load.source.url = Render(run, b, b.source->url, "url of block \"" + name + "\"");
  });
  request.load.target = state.relation;
  request.load.create = request.load.must_be_new = request.load.unlogged = true;
  request.workers = workers;
  request.run_id = run.id;
  request.record = [&](unsigned int) { state.relid = RecordStaging(run, name, state.relation, 'r'); };
  request.drop = [](unsigned int relid) { DropStagingRelation(relid); };
  state.relid = 0;
  LoadResult loaded;
  try {
    loaded = LoadCsvParallel(request);
  } catch (...) {
    state.relid = 0;  // (it dropped the relation it had recorded)
    throw;
  }
  result.rows_out = static_cast<int64_t>(loaded.rows);
  result.bytes = loaded.bytes_downloaded;
  char line[512];
  std::snprintf(line, sizeof line, "loaded %lld rows in %.2f s (%.1f MB downloaded, %.1f MB of CSV), %s",
                static_cast<long long>(loaded.rows), loaded.seconds, loaded.bytes_downloaded / 1e6,
                loaded.bytes_decompressed / 1e6, SplitNote(loaded, workers).c_str());
  result.log.push_back({"info", line});
  try {
    InTransaction([&] { RunTests(run, b, state.relation, false, result); });
  } catch (...) {
    const unsigned int relid = loaded.relid;
    state.relid = 0;
    try {
      InTransaction([&] { DropStagingRelation(relid); });
    } catch (const Error&) {
      // (recorded: dropped with the run's staging, or by retention)
    }
    throw;
  }
  return result;
}

// A transformer's output: a view, or an UNLOGGED table when asked or read more than once.
void Transform(Run& run, BlockRun& state, const BlockSpec& b, AttemptResult& result) {
  state.relation = NewStagingName(run, b.name);
  std::string sql = WithRenamedColumns(b, Render(run, b, b.sql, "sql of block \"" + b.name + "\""));
  bool table = b.materialize == "table" || run.consumers[b.name] > 1;
  if (table)
    result.rows_out = static_cast<int64_t>(SpiExec("CREATE UNLOGGED TABLE " + state.relation + " AS " + sql));
  else
    SpiExec("CREATE VIEW " + state.relation + " AS " + sql);
  state.relid = RecordStaging(run, b.name, state.relation, table ? 'r' : 'v');
  int skipped = 0;
  for (auto& line : PrintedLines(run, b, &skipped)) result.log.push_back(line);
  RunTests(run, b, state.relation, !table && !b.tests.empty(), result);
  if (result.rows_out >= 0 && result.rows_in >= 0)
    result.log.push_back({"info", Num(result.rows_in) + " rows in, " + Num(result.rows_out) + " out (" +
                                      Num(result.rows_in - result.rows_out) + " dropped)"});
}

// One attempt at a loader, transformer, exporter or conditional, in the current transaction.
AttemptResult ExecuteBlock(Run& run, const std::string& name) {
  BlockRun& state = run.blocks.at(name);
  const BlockSpec& b = run.Spec(name);
  AttemptResult result;
  result.rows_in = RowsIn(run, b);
  if (b.language == "python" && b.type != BlockType::kConditional) {
    RunPythonBlock(run, state, b, result);
    return result;
  }
  switch (b.type) {
    case BlockType::kDataLoader:
      Load(run, state, b, result);
      break;
    case BlockType::kTransformer:
      Transform(run, state, b, result);
      break;
    case BlockType::kDataExporter:
      Export(run, b, result);
      state.relation = core::QualifiedName(b.target->schema, b.target->table);
      break;
    case BlockType::kConditional:
      state.said_false = b.language == "python" ? !PythonCondition(run, b, result) : !EvaluateCondition(run, b);
      result.log.push_back({"info", std::string("condition is ") +
                                        (state.said_false ? "false: downstream blocks are skipped" : "true")});
      break;
    case BlockType::kSensor:
    case BlockType::kCallback:
      break;  // RunSensor and RunCallback: they span several transactions
    case BlockType::kCustom:
      break;  // (Python only: above)
  }
  return result;
}

// Sensor: polls until its condition holds or its timeout passes; each poll commits on its own.
AttemptResult RunSensor(Run& run, const BlockSpec& b) {
  double interval = b.interval_s > 0 ? b.interval_s : 10;
  double timeout = b.timeout_s > 0 ? b.timeout_s : 600;
  auto started = std::chrono::steady_clock::now();
  AttemptResult result;
  for (int poll = 1;; ++poll) {
    bool ready = false;
    InTransaction([&] {
      if (b.language == "python")
        ready = PythonCondition(run, b, result);
      else if (!b.sensor_url.empty())
        ready = ProbeUrl(Render(run, b, b.sensor_url, "url of block \"" + b.name + "\""));
      else
        ready = EvaluateCondition(run, b);
    });
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (ready) {
      result.log.push_back({"info", "condition met after " + Num(poll) + " poll" + (poll == 1 ? "" : "s")});
      return result;
    }
    if (waited + interval > timeout) {
      char after[64], detail[96];
      std::snprintf(after, sizeof after, "%g s", timeout);
      std::snprintf(detail, sizeof detail, "It polled %d times in %.1f s.", poll, waited);
      throw Error("55000", "sensor \"" + b.name + "\" timed out: its condition was not met within " + after,
                  detail, "Raise its timeout, or check what it waits for.");
    }
    Sleep(interval);
  }
}

// Callback: on_success when every upstream succeeded (or the run did, for a pipeline-level
// callback), on_failure otherwise.
AttemptResult RunCallback(Run& run, const BlockSpec& b, bool success) {
  AttemptResult result;
  const std::string& sql = success ? b.on_success : b.on_failure;
  const char* which = success ? "on_success" : "on_failure";
  if (sql.empty()) {
    result.log.push_back({"info", std::string("no ") + which + " action"});
    return result;
  }
  InTransaction([&] { SpiExec(Render(run, b, sql, std::string(which) + " of block \"" + b.name + "\"")); });
  result.log.push_back({"info", std::string("ran ") + which});
  return result;
}

// Arms the block's timeout: SPI statements in a worker are not under statement_timeout.
void ArmTimeout(const BlockSpec& b) {
  if (b.timeout_s <= 0) return;
  int ms = static_cast<int>(std::ceil(b.timeout_s * 1000));
  PgCall([ms] { enable_timeout_after(STATEMENT_TIMEOUT, ms); });
}

// One attempt of any block, with the block's timeout armed over its transaction (over all of
// them, for a load split across workers).
AttemptResult Attempt(Run& run, const std::string& name, bool callback_success) {
  const BlockSpec& b = run.Spec(name);
  if (b.type == BlockType::kSensor) return RunSensor(run, b);
  if (b.type == BlockType::kCallback) return RunCallback(run, b, callback_success);
  std::string not_split;
  if (b.type == BlockType::kDataLoader && b.source) {
    int workers = LoadWorkers(*b.source, &not_split);
    if (workers > 1) {
      ArmTimeout(b);
      AttemptResult result = LoadInParallel(run, name, workers);
      PgCall([] { disable_timeout(STATEMENT_TIMEOUT, false); });
      return result;
    }
  }
  AttemptResult result;
  InTransaction([&] {
    ArmTimeout(b);
    result = ExecuteBlock(run, name);
    PgCall([] { disable_timeout(STATEMENT_TIMEOUT, false); });
  });
  if (!not_split.empty()) result.log.insert(result.log.begin(), {"info", not_split});
  return result;
}

}  // namespace

int LoadWorkers(const core::SourceSpec& source, std::string* why_not) {
  int asked = source.parallel > 0 ? source.parallel : guc.load_workers;
  if (asked <= 1) return 1;
  std::string why = WhyNotSplit(source);
  if (why.empty()) return asked;
  if (why_not != nullptr)
    *why_not = "loaded with one COPY, not split across " + std::to_string(asked) + " load workers: " + why;
  return 1;
}

std::string SplitNote(const LoadResult& loaded, int asked) {
  if (loaded.workers == 0)
    return "by this worker alone (" +
           std::string(loaded.bytes_decompressed <= static_cast<int64_t>(guc.load_chunk_kb) * 1024
                           ? "the file fits in one chunk"
                           : "no worker slot was free for its " + std::to_string(asked) + " load workers") +
           ")";
  std::string note = "split across " + std::to_string(loaded.workers) + " load workers";
  if (loaded.workers < asked) note += " (of " + std::to_string(asked) + " asked: no more worker slots were free)";
  return note;
}

std::string WhyNotRetried(const Error& error, const core::RetrySpec& retry, int attempt) {
  if (StopRequested())
    return g_shutdown_requested ? "not retried: the worker was told to exit (a server shutdown or pg_terminate_backend)"
           : g_run_timed_out    ? "not retried: the run timed out"
                                : "not retried: cancelled";
  if (error.sqlstate() == kTestFailed) return "not retried: a failing test is not transient";
  if (core::ClassifyForRetry(error) == core::RetryClass::kPermanent) return "not retried: permanent";
  if (attempt > retry.retries) return retry.retries > 0 ? "no retries left" : "";
  return "";
}

bool RunBlock(Run& run, const std::string& name, Error* failure, bool callback_success) {
  BlockRun& state = run.blocks.at(name);
  const BlockSpec& b = run.Spec(name);
  for (int attempt = state.attempts_done + 1;; ++attempt) {
    InTransaction([&] {
      BeginAttempt(run.id, name, state.state, attempt);
      if (auto line = CompiledLine(b); line && attempt == 1) WriteLog(run.id, name, *line);
    });
    state.state = BlockState::kRunning;
    ReportActivity("pg_pipeline run " + Num(run.id) + ": block " + name);
    AttemptResult result;
    std::optional<Error> error;
    try {
      result = Attempt(run, name, callback_success);
    } catch (const std::exception& caught) {
      // Anything C++ throws fails the attempt the same way; nothing escapes past the block.
      Error e = AsError(caught);
      PgCall([] { disable_timeout(STATEMENT_TIMEOUT, false); });
      if (g_run_timed_out) e = Error(sqlstate::kQueryCanceled, "cancelled: the run timed out (settings.timeout)");
      if (e.sqlstate() == sqlstate::kQueryCanceled && b.timeout_s > 0 && !StopRequested()) {
        char after[64];
        std::snprintf(after, sizeof after, "%g s", b.timeout_s);
        e = Error(e.sqlstate(), "block \"" + name + "\" timed out after " + after, "",
                  "Raise its timeout: key, or make it faster.", e.context());
      }
      error = e;
    }
    if (!error) {
      InTransaction([&] {
        BlockChange done;
        done.rows_in = result.rows_in;
        done.rows_out = result.rows_out;
        done.bytes = result.bytes;
        done.relation = state.relation;
        done.relid = state.relid;
        if (b.type == BlockType::kConditional) done.condition = !state.said_false;
        done.warnings = result.warnings;
        MoveBlock(run.id, name, core::BlockEvent::kSucceed, done);
        EndAttempt(run.id, name, attempt, "succeeded");
        for (const auto& line : result.log) WriteLog(run.id, name, line);
      });
      state.state = BlockState::kSucceeded;
      state.rows_out = result.rows_out;
      return true;
    }
    const bool stopped = StopRequested();
    std::string note = WhyNotRetried(*error, b.retry, attempt);
    // (a server's Retry-After is honoured, within the block's max_delay when it has one)
    double after = error->retry_after_s();
    if (b.retry.max_delay_s > 0) after = std::min(after, b.retry.max_delay_s);
    double delay = std::max(RetryDelay(b.retry, attempt), after);
    bool retry = note.empty() && attempt <= b.retry.retries;
    if (retry) {
      char wait[64];
      std::snprintf(wait, sizeof wait, "retried in %.1f s", delay);
      note = wait;
    }
    InTransaction([&] {
      EndAttempt(run.id, name, attempt, stopped ? "cancelled" : "failed", &*error, note);
      if (retry) {
        NoteRetry(run.id, name, *error, delay);
      } else {
        BlockChange why;
        why.error = error->message();
        why.sqlstate = error->sqlstate();
        why.detail = DetailOf(*error);
        MoveBlock(run.id, name, stopped ? core::BlockEvent::kCancel : core::BlockEvent::kFail, why);
      }
      std::string line = "attempt " + Num(attempt) + " failed: " + error->message();
      if (retry) {
        char wait[64];
        std::snprintf(wait, sizeof wait, "; retrying in %.1f s", delay);
        line += wait;
      } else if (!note.empty()) {
        line += "; " + note;
      }
      WriteLog(run.id, name, {"error", line});
    });
    if (!retry) {
      state.state = stopped ? BlockState::kCancelled : BlockState::kFailed;
      *failure = NamingBlock(*error, name);
      return false;
    }
    Sleep(delay);
  }
}

}  // namespace pgpipe::pg
