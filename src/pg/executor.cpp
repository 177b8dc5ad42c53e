// The executor: see executor.hpp for the run and block state machines.
extern "C" {
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "postmaster/bgworker.h"
#include "utils/timeout.h"
#include "utils/wait_event.h"
}

#include <chrono>
#include <cstring>
#include <functional>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "core/dag.hpp"
#include "core/error.hpp"
#include "core/http_source.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/render.hpp"
#include "core/spec_json.hpp"
#include "core/sql_text.hpp"
#include "core/test_plan.hpp"
#include "core/url.hpp"
#include "core/webhook.hpp"
#include "core/validate.hpp"
#include "pg/catalog.hpp"
#include "pg/copy_bridge.hpp"
#include "pg/executor.hpp"
#include "pg/gucs.hpp"
#include "pg/run_worker.hpp"
#include "pg/shmem.hpp"
#include "pg/spi.hpp"
#include "pg/txn.hpp"

namespace pgpipe::pg {

volatile bool g_cancel_requested = false;

namespace {

using core::BlockSpec;
using core::BlockType;
using core::Error;
namespace sqlstate = core::sqlstate;

constexpr const char* kTestFailed = "23514";  // check_violation: the data breaks a test (P0004 would escape PL/pgSQL handlers)

struct BlockState {
  const BlockSpec* spec = nullptr;
  std::string status = "pending";
  std::string relation;  // quoted name of the block's output relation
  int64_t rows_out = -1;
  int attempts_done = 0;    // attempts recorded before this worker (a resumed run)
  bool said_false = false;  // a conditional that evaluated false
};

struct Run {
  int64_t id = 0;
  std::string project;
  core::PipelineSpec spec;
  std::string variables_select;
  std::map<std::string, BlockState> blocks;
  std::map<std::string, int> consumers;
};

struct LogLine {
  std::string level;
  std::string message;
};

struct AttemptResult {
  int64_t rows_in = -1;
  int64_t rows_out = -1;
  int64_t bytes = -1;
  std::vector<LogLine> log;
};

std::string Num(int64_t n) { return std::to_string(n); }
int64_t ToInt(const SqlValue& v) { return v ? std::stoll(*v) : 0; }

// The staging relation of `block` in run `run_id`, quoted: pipeline_staging."r12_block".
std::string StagingName(int64_t run_id, const std::string& block) {
  std::string name = "r" + Num(run_id) + "_" + block;
  if (name.size() > 63) {
    // Keep truncated names distinct: the cut name plus a hash of the whole one.
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "_%08zx", std::hash<std::string>{}(name) & 0xffffffffu);
    name = name.substr(0, 63 - std::strlen(suffix)) + suffix;
  }
  return "pipeline_staging." + core::QuoteIdent(name);
}

// Any C++ exception as our Error: ours as it is, anything else (bad_alloc, a library's) as XX000.
Error AsError(const std::exception& caught) {
  const Error* ours = dynamic_cast<const Error*>(&caught);
  return ours ? *ours : Error(sqlstate::kInternalError, std::string("internal error: ") + caught.what());
}

// Seconds to wait before attempt `attempt` + 1 under `retry`.
double RetryDelay(const core::RetrySpec& retry, int attempt) {
  double delay = retry.delay_s * (retry.exponential_backoff ? std::pow(2.0, attempt - 1) : 1.0);
  return retry.max_delay_s > 0 ? std::min(delay, retry.max_delay_s) : delay;
}

// An error's detail and context, for block_runs.error_detail.
std::string DetailOf(const Error& error) {
  std::string detail = error.detail();
  if (!error.context().empty()) detail += (detail.empty() ? "" : "\n") + error.context();
  return detail;
}

// The run's error for a failure of `block`: it names the block (test failures and timeouts
// already do).
Error NamingBlock(const Error& error, const std::string& block) {
  if (std::string(error.message()).rfind("block \"" + block + "\"", 0) == 0) return error;
  return Error(error.sqlstate(), "block \"" + block + "\" failed: " + error.message(), error.detail(),
               error.hint(), error.context());
}

// Drops a staging relation, whichever kind it is, if it exists; anything outside schema
// pipeline_staging is left alone (output_relation is a user-writable column).
void DropRelation(const std::string& relation) {
  SqlValue drop = SpiScalar(
      "SELECT format('DROP %s %s CASCADE', CASE relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, "
      "oid::regclass) FROM pg_class WHERE oid = to_regclass($1) "
      "AND relnamespace = 'pipeline_staging'::regnamespace AND relkind IN ('r', 'v')",
      {relation});
  if (drop) SpiExec(*drop);
}

void WriteLog(int64_t run_id, const std::string& block, const LogLine& line) {
  SpiExec("INSERT INTO pipeline.run_log (run_id, block_name, level, message) "
          "VALUES ($1::bigint, NULLIF($2, ''), $3, $4)",
          {Num(run_id), block, line.level, line.message});
}

// Sleeps, serving interrupts; a cancel request ends the sleep with an error.
void Sleep(double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_cancel_requested) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return;
    long wait_ms = static_cast<long>(std::min<long long>(left, 1000));
    PgCall([wait_ms] {
      int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms,
                         PG_WAIT_EXTENSION);
      if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
    });
  }
  throw Error(sqlstate::kQueryCanceled, "run cancelled");
}

void ReportActivity(const std::string& what) {
  const char* text = what.c_str();
  PgCall([text] { pgstat_report_activity(STATE_RUNNING, text); });
}

// Renders a template of `block` with the run's variables and the outputs of its upstream.
std::string Render(Run& run, const BlockSpec& block, const std::string& text,
                   const std::string& what, const std::string& self = {}) {
  auto relation_of = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "self" && !self.empty()) return self;
    auto it = run.blocks.find(name);
    if (it != run.blocks.end() && it->first != block.name) return it->second.relation;
    return std::nullopt;
  };
  core::RenderPlan plan = core::PlanRender(text, what, relation_of, run.variables_select);
  std::vector<std::optional<std::string>> values;
  if (!plan.eval_sql.empty()) {
    std::vector<SqlRow> rows;
    try {
      rows = SpiQuery(plan.eval_sql);
    } catch (const Error& e) {
      if (auto name = core::MissingVariable(e.message()))
        throw Error(sqlstate::kUndefinedParameter,
                    "a template in " + what + " uses \"" + *name +
                        "\", which is not a variable of this run",
                    "", "Define it under variables: in the pipeline file, or pass it: "
                        "pipeline.run('" + run.spec.name + "', '{\"" + *name + "\": ...}').");
      throw e.WithContext("evaluating the templates of " + what);
    }
    if (!rows.empty()) values.assign(rows[0].begin(), rows[0].end());
  }
  return core::FinishRender(plan, values);
}

// Runs the tests of `block` on `self`; counts the output too when `count_rows`. Throws 23514
// naming the first failing test.
void RunTests(Run& run, const BlockSpec& block_in, const std::string& self, bool count_rows,
              AttemptResult& result) {
  // Variables and block outputs in test SQL are rendered first; {{ self }} stays, so the plan
  // can still fold "SELECT count(*) = 0 FROM {{ self }} WHERE ..." into its scan.
  BlockSpec block = block_in;
  for (size_t i = 0; i < block.tests.size(); ++i)
    if (!block.tests[i].sql.empty())
      block.tests[i].sql = Render(run, block_in, block.tests[i].sql,
                                  "test " + Num(static_cast<int64_t>(i + 1)) + " of block \"" + block.name + "\"",
                                  "{{ self }}");
  for (size_t i = 0; i < block.tests.size(); ++i)
    if (block.tests[i].message.find("{{") != std::string::npos)
      block.tests[i].message = Render(run, block_in, block.tests[i].message,
                                      "message of test " + Num(static_cast<int64_t>(i + 1)) +
                                          " of block \"" + block.name + "\"");
  core::TestPlan plan = core::PlanTests(block, self, count_rows);
  std::vector<int64_t> counts;
  if (!plan.count_sql.empty()) {
    auto rows = SpiQuery(plan.count_sql);
    for (const auto& v : rows.at(0)) counts.push_back(ToInt(v));
    result.rows_out = counts.at(0);
  }
  int index = 0;
  for (const auto& planned : plan.tests) {
    ++index;
    int64_t offending = 0;
    std::optional<bool> boolean;
    if (planned.row_count) {
      offending = counts.at(0);
    } else if (planned.count_column >= 0) {
      offending = counts.at(planned.count_column);
    } else {
      std::string sql = Render(run, block, planned.own_sql,
                               "test " + Num(index) + " of block \"" + block.name + "\"", self);
      auto rows = SpiQuery(sql);
      if (rows.size() == 1 && rows[0].size() == 1 && rows[0][0] &&
          (*rows[0][0] == "t" || *rows[0][0] == "f") && planned.test->kind == "assert") {
        boolean = *rows[0][0] == "t";
      } else if (planned.test->kind == "unique") {
        offending = rows.empty() ? 0 : ToInt(rows[0][0]);
      } else {
        offending = static_cast<int64_t>(rows.size());  // dbt style: the offending rows
      }
    }
    if (auto failure = core::JudgeTest(planned, offending, boolean))
      throw Error(kTestFailed, "block \"" + block.name + "\" test failed: " + *failure);
    result.log.push_back({"info", "test passed: " + core::TestLabel(*planned.test)});
  }
}

// The relation an exporter publishes from: its own SQL, else its single upstream's output.
std::string ExportSource(Run& run, const BlockSpec& block) {
  if (!block.sql.empty())
    return "(" + Render(run, block, block.sql, "sql of block \"" + block.name + "\"") +
           ") AS pipeline_source";
  return run.blocks.at(block.upstream.at(0)).relation;
}

// Publishes in the current transaction: replace builds the new table and swaps it in, append
// inserts, fail refuses an existing table. Tests run before the publish is committed.
void Export(Run& run, const BlockSpec& block, AttemptResult& result) {
  const core::TargetSpec& t = *block.target;
  std::string source = ExportSource(run, block);
  std::string target = core::QualifiedName(t.schema, t.table);
  // Runs publishing to one target take turns (two appends must not both create it, two
  // replaces must not both swap); the lock ends with this transaction.
  SpiExec("SELECT pg_advisory_xact_lock(hashtext('pg_pipeline schema ' || $1))", {t.schema});
  SpiExec("SELECT pg_advisory_xact_lock(hashtext('pg_pipeline export ' || $1))", {target});
  SpiExec("CREATE SCHEMA IF NOT EXISTS " + core::QuoteIdent(t.schema));
  bool exists = SpiScalar("SELECT to_regclass($1) IS NOT NULL", {target}) == SqlValue("t");
  if (t.if_exists == "fail" && exists)
    throw Error(sqlstate::kDuplicateObject,
                "target " + t.schema + "." + t.table + " already exists (if_exists: fail)", "",
                "Use if_exists: replace or append, or drop the table.");
  if (t.if_exists == "append") {
    if (!exists) SpiExec("CREATE TABLE " + target + " AS SELECT * FROM " + source + " WITH NO DATA");
    std::vector<std::string> columns = SpiColumnNames("SELECT * FROM " + source + " LIMIT 0");
    RunTests(run, block, source, false, result);
    std::string list = core::IdentList(columns);
    result.rows_out = static_cast<int64_t>(
        SpiExec("INSERT INTO " + target + " (" + list + ") SELECT " + list + " FROM " + source));
    result.log.push_back({"info", "appended " + Num(result.rows_out) + " rows to " + t.schema + "." + t.table});
    return;
  }
  if (t.if_exists == "fail" || !exists) {
    result.rows_out = static_cast<int64_t>(SpiExec("CREATE TABLE " + target + " AS SELECT * FROM " + source));
    RunTests(run, block, target, false, result);
    result.log.push_back({"info", "created " + t.schema + "." + t.table + " with " + Num(result.rows_out) + " rows"});
    return;
  }
  // replace: the new table is built beside the old one and renamed over it at commit.
  std::string fresh_name = t.table.substr(0, 40) + "_pgp_new_" + Num(run.id);
  std::string fresh = core::QualifiedName(t.schema, fresh_name);
  SpiExec("DROP TABLE IF EXISTS " + fresh);
  result.rows_out = static_cast<int64_t>(SpiExec("CREATE TABLE " + fresh + " AS SELECT * FROM " + source));
  RunTests(run, block, fresh, false, result);
  try {
    SpiExec("DROP TABLE " + target);
  } catch (const Error& e) {
    if (e.sqlstate() != "2BP01") throw;
    throw Error(e.sqlstate(), "cannot replace " + t.schema + "." + t.table + ": other objects depend on it",
                e.detail(), "Drop the dependent objects, or use if_exists: append.");
  }
  SpiExec("ALTER TABLE " + fresh + " RENAME TO " + core::QuoteIdent(t.table));
  result.log.push_back({"info", "replaced " + t.schema + "." + t.table + " with " + Num(result.rows_out) + " rows"});
}

// Evaluates a boolean condition: a query (its first value) or an expression.
bool EvaluateCondition(Run& run, const BlockSpec& block) {
  // A query becomes a scalar subquery, an expression stays one: both read as "SELECT (...)".
  std::string sql = Render(run, block, block.sql, "sql of block \"" + block.name + "\"");
  SqlValue v = SpiScalar("SELECT (" + sql + ")::boolean");
  return v == SqlValue("t");
}

// Whether the sensor's URL answers with success now.
bool ProbeUrl(const std::string& url) {
  core::SourceSpec probe;  // the loader's limits and allowed prefixes apply to sensors too
  probe.url = url;
  probe.compression = "none";
  probe.timeout_s = 30;
  core::FetchOptions opts = FetchOptionsFor(probe);
  try {
    core::HttpSource source(opts);
    source.Start();
    char buf[1024];
    for (;;) {
      int n = source.Read(buf, sizeof buf);
      if (n != core::HttpSource::kWouldBlock) return true;  // any body byte, or its end
      int fd = source.ReadyFd();
      PgCall([fd] {
        int rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT |
                                                WL_EXIT_ON_PM_DEATH,
                                   fd, 1000L, PG_WAIT_EXTENSION);
        if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
      });
    }
  } catch (const Error& e) {
    if (e.sqlstate() == sqlstate::kQueryCanceled) throw;
    return false;
  }
}

// One attempt at a block, in the current transaction.
AttemptResult ExecuteBlock(Run& run, BlockState& state) {
  const BlockSpec& b = *state.spec;
  AttemptResult result;
  const std::string label = "block \"" + b.name + "\"";
  int64_t rows_in = 0;
  bool have_rows_in = false;
  for (const auto& up : b.upstream) {
    const BlockState& u = run.blocks.at(up);
    if (u.rows_out >= 0) {
      rows_in += u.rows_out;
      have_rows_in = true;
    }
  }
  if (have_rows_in) result.rows_in = rows_in;

  switch (b.type) {
    case BlockType::kDataLoader: {
      state.relation = StagingName(run.id, b.name);
      DropRelation(state.relation);
      if (b.source) {
        LoadRequest request;
        request.source = *b.source;
        request.source.url = Render(run, b, b.source->url, "url of " + label);
        request.target = state.relation;
        request.create = true;
        request.unlogged = true;
        LoadResult loaded = LoadCsv(request);
        result.rows_out = static_cast<int64_t>(loaded.rows);
        result.bytes = loaded.bytes_downloaded;
        char line[512];
        std::snprintf(line, sizeof line,
                      "loaded %lld rows in %.2f s (%.1f MB downloaded, %.1f MB of CSV)",
                      static_cast<long long>(loaded.rows), loaded.seconds,
                      loaded.bytes_downloaded / 1e6, loaded.bytes_decompressed / 1e6);
        result.log.push_back({"info", line});
      } else {
        std::string sql = Render(run, b, b.sql, "sql of " + label);
        result.rows_out = static_cast<int64_t>(
            SpiExec("CREATE UNLOGGED TABLE " + state.relation + " AS " + sql));
        result.log.push_back({"info", "loaded " + Num(result.rows_out) + " rows"});
      }
      RunTests(run, b, state.relation, false, result);
      break;
    }
    case BlockType::kTransformer: {
      state.relation = StagingName(run.id, b.name);
      DropRelation(state.relation);
      std::string sql = Render(run, b, b.sql, "sql of " + label);
      bool table = b.materialize == "table" || run.consumers[b.name] > 1;
      if (table) {
        result.rows_out = static_cast<int64_t>(
            SpiExec("CREATE UNLOGGED TABLE " + state.relation + " AS " + sql));
      } else {
        SpiExec("CREATE VIEW " + state.relation + " AS " + sql);
      }
      RunTests(run, b, state.relation, !table && !b.tests.empty(), result);
      if (result.rows_out >= 0 && result.rows_in >= 0)
        result.log.push_back({"info", Num(result.rows_in) + " rows in, " + Num(result.rows_out) +
                                          " out (" + Num(result.rows_in - result.rows_out) +
                                          " dropped)"});
      break;
    }
    case BlockType::kDataExporter:
      Export(run, b, result);
      state.relation = core::QualifiedName(b.target->schema, b.target->table);
      break;
    case BlockType::kConditional:
      state.said_false = !EvaluateCondition(run, b);
      result.log.push_back({"info", std::string("condition is ") + (state.said_false ? "false: downstream blocks are skipped" : "true")});
      break;
    case BlockType::kSensor:
    case BlockType::kCallback:
      break;  // driven by ExecuteRun: they span several transactions or depend on the run
  }
  return result;
}

void MarkBlock(Run& run, const std::string& block, const std::string& status,
               const std::string& error = {}) {
  run.blocks.at(block).status = status;
  SpiExec("UPDATE pipeline.block_runs SET status = $3, finished_at = clock_timestamp(), "
          "error = NULLIF($4, '') WHERE run_id = $1::bigint AND block_name = $2",
          {Num(run.id), block, status, error});
}

// Sensor: polls until its condition holds or its timeout passes; each poll commits on its own.
AttemptResult RunSensor(Run& run, BlockState& state) {
  const BlockSpec& b = *state.spec;
  double interval = b.interval_s > 0 ? b.interval_s : 10;
  double timeout = b.timeout_s > 0 ? b.timeout_s : 600;
  auto started = std::chrono::steady_clock::now();
  AttemptResult result;
  for (int poll = 1;; ++poll) {
    bool ready = false;
    InTransaction([&] {
      if (!b.sensor_url.empty())
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
AttemptResult RunCallback(Run& run, BlockState& state, bool success) {
  const BlockSpec& b = *state.spec;
  AttemptResult result;
  const std::string& sql = success ? b.on_success : b.on_failure;
  if (sql.empty()) {
    result.log.push_back({"info", std::string("no ") + (success ? "on_success" : "on_failure") + " action"});
    return result;
  }
  InTransaction([&] {
    SpiExec(Render(run, b, sql, std::string(success ? "on_success" : "on_failure") + " of block \"" + b.name + "\""));
  });
  result.log.push_back({"info", std::string("ran ") + (success ? "on_success" : "on_failure")});
  return result;
}

// Runs a block with its retries; returns true when it succeeded. Every attempt is recorded.
bool RunBlock(Run& run, BlockState& state, Error* failure, bool callback_success = true) {
  const BlockSpec& b = *state.spec;
  const core::RetrySpec& retry = b.retry;
  for (int attempt = state.attempts_done + 1;; ++attempt) {
    InTransaction([&] {
      SpiExec("UPDATE pipeline.block_runs SET status = 'running', attempt = $3::int, "
              "started_at = clock_timestamp(), finished_at = NULL, worker_pid = pg_backend_pid() "
              "WHERE run_id = $1::bigint AND block_name = $2",
              {Num(run.id), b.name, Num(attempt)});
      SpiExec("INSERT INTO pipeline.block_attempts (run_id, block_name, attempt) VALUES ($1::bigint, $2, $3::int)",
              {Num(run.id), b.name, Num(attempt)});
    });
    ReportActivity("pg_pipeline run " + Num(run.id) + ": block " + b.name);
    AttemptResult result;
    std::optional<Error> error;
    try {
      if (b.type == BlockType::kSensor)
        result = RunSensor(run, state);
      else if (b.type == BlockType::kCallback)
        result = RunCallback(run, state, callback_success);
      else
        InTransaction([&] {
          // The block's timeout: SPI statements in a worker are not under statement_timeout,
          // so arm its timer for the whole attempt.
          if (b.timeout_s > 0) {
            int ms = static_cast<int>(std::ceil(b.timeout_s * 1000));
            PgCall([ms] { enable_timeout_after(STATEMENT_TIMEOUT, ms); });
          }
          result = ExecuteBlock(run, state);
          PgCall([] { disable_timeout(STATEMENT_TIMEOUT, false); });
        });
    } catch (const std::exception& caught) {
      // Anything C++ throws fails the attempt the same way; nothing escapes past the block.
      Error e = AsError(caught);
      error = e;
      PgCall([] { disable_timeout(STATEMENT_TIMEOUT, false); });
      if (e.sqlstate() == sqlstate::kQueryCanceled && b.timeout_s > 0 && !g_cancel_requested) {
        char after[64];
        std::snprintf(after, sizeof after, "%g s", b.timeout_s);
        error = Error(e.sqlstate(), "block \"" + b.name + "\" timed out after " + after, "",
                      "Raise its timeout: key, or make it faster.", e.context());
      }
    }
    if (!error) {
      state.rows_out = result.rows_out;
      InTransaction([&] {
        SpiExec("UPDATE pipeline.block_runs SET status = 'succeeded', finished_at = clock_timestamp(), "
                "rows_in = NULLIF($3::bigint, -1), rows_out = NULLIF($4::bigint, -1), "
                "bytes = NULLIF($5::bigint, -1), output_relation = NULLIF($6, ''), error = NULL, "
                "sqlstate = NULL, error_detail = NULL, condition = $7::boolean "
                "WHERE run_id = $1::bigint AND block_name = $2",
                {Num(run.id), b.name, Num(result.rows_in), Num(result.rows_out), Num(result.bytes), state.relation,
                 b.type == BlockType::kConditional ? SqlValue(state.said_false ? "false" : "true") : std::nullopt});
        SpiExec("UPDATE pipeline.block_attempts SET status = 'succeeded', finished_at = clock_timestamp() "
                "WHERE run_id = $1::bigint AND block_name = $2 AND attempt = $3::int",
                {Num(run.id), b.name, Num(attempt)});
        for (const auto& line : result.log) WriteLog(run.id, b.name, line);
      });
      state.status = "succeeded";
      return true;
    }
    bool cancelled = g_cancel_requested;
    bool retryable = !cancelled && error->sqlstate() != kTestFailed && attempt <= retry.retries;
    double delay = RetryDelay(retry, attempt);
    std::string detail = DetailOf(*error);
    InTransaction([&] {
      SpiExec("UPDATE pipeline.block_attempts SET status = $4, finished_at = clock_timestamp(), "
              "error = $5, sqlstate = $6 WHERE run_id = $1::bigint AND block_name = $2 AND attempt = $3::int",
              {Num(run.id), b.name, Num(attempt), cancelled ? "cancelled" : "failed", error->message(), error->sqlstate()});
      SpiExec("UPDATE pipeline.block_runs SET status = $3, finished_at = clock_timestamp(), error = $4, "
              "sqlstate = $5, error_detail = NULLIF($6, '') WHERE run_id = $1::bigint AND block_name = $2",
              {Num(run.id), b.name, cancelled ? "cancelled" : (retryable ? "running" : "failed"),
               error->message(), error->sqlstate(), detail});
      std::string line = "attempt " + Num(attempt) + " failed: " + error->message();
      if (retryable) {
        char wait[64];
        std::snprintf(wait, sizeof wait, "; retrying in %.1f s", delay);
        line += wait;
      } else if (!cancelled && error->sqlstate() == kTestFailed && attempt <= retry.retries) {
        line += "; not retried: a failing test is not transient";
      }
      WriteLog(run.id, b.name, {"error", line});
    });
    state.status = cancelled ? "cancelled" : "failed";
    if (!retryable) {
      *failure = NamingBlock(*error, b.name);
      return false;
    }
    Sleep(delay);
  }
}


// ---- Fusion: loader -> filter -> replace, as one COPY ----------------------------------------
// The taxi shape (an HTTP loader, a transformer "SELECT * FROM {{ loader }} WHERE cond" read
// only by an exporter that replaces or creates its target) runs as one COPY with cond as its
// WHERE, straight into the exporter's new table: nothing is materialised twice. Each block's
// tests still run (the loader's row_count on the rows read), each block is still recorded.

struct Fusion {
  std::string loader, transformer, exporter, condition;
};

// The fused chain starting at loader `name`, when the blocks have exactly that shape.
std::optional<Fusion> FindFusion(Run& run, const std::string& name) {
  const BlockSpec& l = *run.blocks.at(name).spec;
  if (l.type != BlockType::kDataLoader || !l.source || l.timeout_s > 0 || l.downstream.size() != 1 ||
      run.consumers[name] != 1)
    return std::nullopt;
  for (const auto& t : l.tests)
    if (t.kind != "row_count") return std::nullopt;
  const BlockSpec& t = *run.blocks.at(l.downstream[0]).spec;
  if (t.type != BlockType::kTransformer || t.upstream.size() != 1 || t.materialize == "table" ||
      t.timeout_s > 0 || t.downstream.size() != 1 || run.consumers[t.name] != 1 || t.retry.retries > 0)
    return std::nullopt;
  static const std::regex shape(
      R"(^\s*select\s+\*\s+from\s+\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s+where\s+([\s\S]+?)\s*;?\s*$)",
      std::regex::icase);
  std::smatch m;
  if (!std::regex_match(t.sql, m, shape) || m[1].str() != name) return std::nullopt;
  std::string condition = m[2].str();
  static const std::regex unsafe(R"(\bselect\b|;)", std::regex::icase);
  if (std::regex_search(condition, unsafe)) return std::nullopt;
  for (const auto& [other, state] : run.blocks)
    if (condition.find("{{ " + other + " }}") != std::string::npos || condition.find("{{" + other + "}}") != std::string::npos)
      return std::nullopt;
  const BlockSpec& e = *run.blocks.at(t.downstream[0]).spec;
  if (e.type != BlockType::kDataExporter || e.upstream.size() != 1 || !e.sql.empty() || !e.target ||
      e.target->if_exists == "append" || e.timeout_s > 0 || e.retry.retries > 0 || !e.downstream.empty() ||
      run.blocks.at(l.name).status != "pending" || run.blocks.at(t.name).status != "pending" ||
      run.blocks.at(e.name).status != "pending")
    return std::nullopt;
  return Fusion{l.name, t.name, e.name, condition};
}

// Runs a fused chain with the loader's retries; records all three blocks. False on failure.
bool RunFused(Run& run, const Fusion& f, Error* failure) {
  BlockState& ls = run.blocks.at(f.loader);
  BlockState& ts = run.blocks.at(f.transformer);
  BlockState& es = run.blocks.at(f.exporter);
  const BlockSpec& l = *ls.spec;
  const BlockSpec& t = *ts.spec;
  const BlockSpec& e = *es.spec;
  for (int attempt = ls.attempts_done + 1;; ++attempt) {
    InTransaction([&] {
      for (const std::string* b : {&f.loader, &f.transformer, &f.exporter}) {
        SpiExec("UPDATE pipeline.block_runs SET status = 'running', attempt = $3::int, "
                "started_at = clock_timestamp(), finished_at = NULL, worker_pid = pg_backend_pid() "
                "WHERE run_id = $1::bigint AND block_name = $2",
                {Num(run.id), *b, Num(*b == f.loader ? attempt : 1)});
      }
      SpiExec("INSERT INTO pipeline.block_attempts (run_id, block_name, attempt) VALUES ($1::bigint, $2, $3::int)",
              {Num(run.id), f.loader, Num(attempt)});
    });
    ReportActivity("pg_pipeline run " + Num(run.id) + ": blocks " + f.loader + ", " + f.transformer + ", " + f.exporter);
    std::string phase = f.loader;  // the block a failure belongs to
    LoadResult loaded;
    AttemptResult tres, eres;
    std::optional<Error> error;
    try {
      InTransaction([&] {
        const core::TargetSpec& target = *e.target;
        std::string table = core::QualifiedName(target.schema, target.table);
        SpiExec("SELECT pg_advisory_xact_lock(hashtext('pg_pipeline schema ' || $1))", {target.schema});
        SpiExec("SELECT pg_advisory_xact_lock(hashtext('pg_pipeline export ' || $1))", {table});
        SpiExec("CREATE SCHEMA IF NOT EXISTS " + core::QuoteIdent(target.schema));
        bool exists = SpiScalar("SELECT to_regclass($1) IS NOT NULL", {table}) == SqlValue("t");
        if (exists && target.if_exists == "fail") {
          phase = f.exporter;
          throw Error(sqlstate::kDuplicateObject,
                      "target " + target.schema + "." + target.table + " already exists (if_exists: fail)", "",
                      "Use if_exists: replace or append, or drop the table.");
        }
        std::string fresh = exists ? core::QualifiedName(target.schema, target.table.substr(0, 40) + "_pgp_new_" + Num(run.id))
                                   : table;
        if (exists) SpiExec("DROP TABLE IF EXISTS " + fresh);
        LoadRequest request;
        request.source = *l.source;
        request.source.url = Render(run, l, l.source->url, "url of block \"" + l.name + "\"");
        request.target = fresh;
        request.create = true;
        request.where = Render(run, t, f.condition, "sql of block \"" + t.name + "\"");
        loaded = LoadCsv(request);
        int64_t rows_read = static_cast<int64_t>(loaded.rows + loaded.rows_excluded);
        for (const auto& test : l.tests) {
          core::PlannedTest planned;
          planned.test = &test;
          planned.row_count = true;
          if (auto bad = core::JudgeTest(planned, rows_read, std::nullopt))
            throw Error(kTestFailed, "block \"" + l.name + "\" test failed: " + *bad);
        }
        phase = f.transformer;
        RunTests(run, t, fresh, true, tres);
        phase = f.exporter;
        RunTests(run, e, fresh, false, eres);
        if (exists) {
          try {
            SpiExec("DROP TABLE " + table);
          } catch (const Error& drop) {
            if (drop.sqlstate() != "2BP01") throw;
            throw Error(drop.sqlstate(), "cannot replace " + target.schema + "." + target.table +
                                             ": other objects depend on it", drop.detail(),
                        "Drop the dependent objects, or use if_exists: append.");
          }
          SpiExec("ALTER TABLE " + fresh + " RENAME TO " + core::QuoteIdent(target.table));
        }
        es.relation = table;
      });
    } catch (const std::exception& caught) {
      error = AsError(caught);
    }
    if (!error) {
      int64_t rows_read = static_cast<int64_t>(loaded.rows + loaded.rows_excluded);
      int64_t rows_kept = static_cast<int64_t>(loaded.rows);
      InTransaction([&] {
        auto done = [&](const std::string& b, int64_t in, int64_t out, int64_t bytes, const std::string& rel) {
          SpiExec("UPDATE pipeline.block_runs SET status = 'succeeded', finished_at = clock_timestamp(), "
                  "rows_in = NULLIF($3::bigint, -1), rows_out = NULLIF($4::bigint, -1), bytes = NULLIF($5::bigint, -1), "
                  "output_relation = NULLIF($6, ''), error = NULL, sqlstate = NULL, error_detail = NULL "
                  "WHERE run_id = $1::bigint AND block_name = $2",
                  {Num(run.id), b, Num(in), Num(out), Num(bytes), rel});
        };
        done(f.loader, -1, rows_read, loaded.bytes_downloaded, "");
        done(f.transformer, rows_read, rows_kept, -1, "");
        done(f.exporter, rows_kept, rows_kept, -1, es.relation);
        SpiExec("UPDATE pipeline.block_attempts SET status = 'succeeded', finished_at = clock_timestamp() "
                "WHERE run_id = $1::bigint AND block_name = $2 AND attempt = $3::int",
                {Num(run.id), f.loader, Num(attempt)});
        char line[512];
        std::snprintf(line, sizeof line,
                      "loaded %lld rows in %.2f s (%.1f MB downloaded, %.1f MB of CSV), filtered by \"%s\" "
                      "and written straight into %s's table: one COPY for %s, %s and %s",
                      static_cast<long long>(rows_read), loaded.seconds, loaded.bytes_downloaded / 1e6,
                      loaded.bytes_decompressed / 1e6, t.name.c_str(), e.name.c_str(), l.name.c_str(),
                      t.name.c_str(), e.name.c_str());
        WriteLog(run.id, f.loader, {"info", line});
        for (const auto& test : l.tests) WriteLog(run.id, f.loader, {"info", "test passed: " + core::TestLabel(test)});
        for (const auto& line2 : tres.log) WriteLog(run.id, f.transformer, line2);
        WriteLog(run.id, f.transformer, {"info", Num(rows_read) + " rows in, " + Num(rows_kept) + " out (" +
                                                     Num(rows_read - rows_kept) + " dropped)"});
        for (const auto& line2 : eres.log) WriteLog(run.id, f.exporter, line2);
        WriteLog(run.id, f.exporter, {"info", "published " + e.target->schema + "." + e.target->table + " with " +
                                                  Num(rows_kept) + " rows"});
      });
      ls.status = ts.status = es.status = "succeeded";
      ls.rows_out = rows_read;
      ts.rows_out = es.rows_out = rows_kept;
      return true;
    }
    // A filter the server cannot read (syntax, unknown column or function, wrong type) is the
    // transformer's mistake, found while the loader set up its COPY: not the loader's to retry.
    const std::string& state_code = error->sqlstate();
    if (phase == f.loader && (state_code == "42601" || state_code == "42703" || state_code == "42883" ||
                              state_code == "42804" || state_code == "42725"))
      phase = f.transformer;
    bool cancelled = g_cancel_requested;
    bool retryable = !cancelled && phase == f.loader && error->sqlstate() != kTestFailed && attempt <= l.retry.retries;
    double delay = RetryDelay(l.retry, attempt);
    std::string detail = DetailOf(*error);
    InTransaction([&] {
      SpiExec("UPDATE pipeline.block_attempts SET status = $4, finished_at = clock_timestamp(), error = $5, sqlstate = $6 "
              "WHERE run_id = $1::bigint AND block_name = $2 AND attempt = $3::int",
              {Num(run.id), f.loader, Num(attempt), cancelled ? "cancelled" : "failed", error->message(), error->sqlstate()});
      for (const std::string* b : {&f.loader, &f.transformer, &f.exporter}) {
        std::string status = cancelled ? "cancelled" : retryable ? "pending" : *b == phase ? "failed" : "upstream_failed";
        bool before_failure = (*b == f.loader && phase != f.loader) || (*b == f.transformer && phase == f.exporter);
        if (!cancelled && !retryable && before_failure) status = "succeeded";  // its part was done
        SpiExec("UPDATE pipeline.block_runs SET status = $3, finished_at = clock_timestamp(), "
                "error = CASE WHEN $4::boolean THEN $5 END, sqlstate = CASE WHEN $4::boolean THEN $6 END, "
                "error_detail = CASE WHEN $4::boolean THEN NULLIF($7, '') END WHERE run_id = $1::bigint AND block_name = $2",
                {Num(run.id), *b, status, *b == phase ? "true" : "false", error->message(), error->sqlstate(), detail});
        run.blocks.at(*b).status = status;
      }
      std::string line = "attempt " + Num(attempt) + " failed: " + error->message();
      if (retryable) {
        char wait[64];
        std::snprintf(wait, sizeof wait, "; retrying in %.1f s", delay);
        line += wait;
      }
      WriteLog(run.id, phase, {"error", line});
    });
    if (!retryable) {
      *failure = NamingBlock(*error, phase);
      return false;
    }
    for (const std::string* b : {&f.loader, &f.transformer, &f.exporter}) run.blocks.at(*b).status = "pending";
    Sleep(delay);
  }
}

Run LoadRun(int64_t run_id) {
  Run run;
  run.id = run_id;
  auto rows = SpiQuery(
      "SELECT p.project, v.yaml, "
      "(r.variables || jsonb_build_object('run_id', r.run_id, 'pipeline', p.name, "
      " 'execution_date', coalesce(r.execution_date, r.created_at), "
      " 'interval_start', r.interval_start, 'interval_end', r.interval_end))::text "
      "FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) "
      "JOIN pipeline.pipeline_versions v ON v.pipeline_id = r.pipeline_id AND v.version = r.version "
      "WHERE r.run_id = $1::bigint",
      {Num(run_id)});
  if (rows.empty()) throw Error(sqlstate::kUndefinedObject, "run " + Num(run_id) + " does not exist");
  run.project = *rows[0][0];
  run.spec = core::ParsePipelineYamlUnvalidated(*rows[0][1]);
  ResolveSharedBlocks(run.spec, run.project);
  core::ValidatePipeline(run.spec);
  run.variables_select = core::VariablesSelectSql(*rows[0][2]);
  for (const auto& b : run.spec.blocks) {
    run.blocks[b.name].spec = &b;
    for (const auto& up : b.upstream) run.consumers[up]++;
  }
  // A retried or recovered run resumes: blocks that succeeded keep their output (when it still
  // exists) and conditionals what they said.
  for (const auto& row : SpiQuery(
           "SELECT block_name, status, output_relation, rows_out, attempt, "
           "output_relation IS NULL OR to_regclass(output_relation) IS NOT NULL, condition "
           "FROM pipeline.block_runs WHERE run_id = $1::bigint", {Num(run_id)})) {
    auto it = run.blocks.find(*row[0]);
    if (it == run.blocks.end()) continue;
    BlockState& state = it->second;
    state.attempts_done = static_cast<int>(ToInt(row[4]));
    // (a loader or transformer that ran fused has no output of its own: it runs again)
    bool has_output = row[2].has_value() || (state.spec->type != BlockType::kDataLoader &&
                                             state.spec->type != BlockType::kTransformer);
    if (*row[1] == "succeeded" && *row[5] == "t" && has_output &&
        (state.spec->type != BlockType::kConditional || row[6])) {
      state.status = "succeeded";
      state.relation = row[2].value_or("");
      state.rows_out = row[3] ? ToInt(row[3]) : -1;
      state.said_false = row[6] == SqlValue("f");
      // A staging table that had rows and has none was emptied by crash recovery (UNLOGGED).
      if (state.rows_out > 0 && state.relation.rfind("pipeline_staging.", 0) == 0 &&
          SpiScalar("SELECT relkind FROM pg_class WHERE oid = to_regclass($1)", {state.relation}) ==
              SqlValue("r") &&
          SpiScalar("SELECT NOT EXISTS (SELECT FROM " + state.relation + ")") == SqlValue("t"))
        state.status = "pending";
    }
  }
  // A block that runs again rebuilds its output (dropping views on it): what follows it must
  // run again too.
  // (an exporter or callback that succeeded did its part for good: publishing or notifying
  // twice would be wrong, so they stay done)
  for (const auto& name : core::TopologicalOrder(run.spec)) {
    BlockState& state = run.blocks.at(name);
    if (state.status != "succeeded" || state.spec->type == BlockType::kDataExporter ||
        state.spec->type == BlockType::kCallback)
      continue;
    for (const auto& up : state.spec->upstream)
      if (run.blocks.at(up).status != "succeeded") state.status = "pending";
    if (state.status == "pending") {
      state.relation.clear();
      state.rows_out = -1;
      state.said_false = false;
    }
  }
  return run;
}

// Tells listeners (LISTEN pipeline_events) about a run's new state.
void Notify(int64_t run_id, const std::string& status, const std::string& error = {}) {
  SpiExec("SELECT pg_notify('pipeline_events', json_build_object('run_id', r.run_id, 'pipeline', p.name, "
          "'project', p.project, 'status', $2::text, 'error', NULLIF($3, ''))::text) "
          "FROM pipeline.runs r JOIN pipeline.pipelines p USING (pipeline_id) WHERE r.run_id = $1::bigint",
          {Num(run_id), status, error});
}

// Posts a failed run to the pipeline's webhook; a delivery failure is logged, not fatal.
void CallWebhook(const Run& run, const std::string& status, const std::string& error) {
  const std::string& url = run.spec.settings.webhook_url;
  if (url.empty()) return;
  std::string json = "{\"run_id\":" + Num(run.id) + ",\"pipeline\":" + core::JsonString(run.spec.name) +
                     ",\"project\":" + core::JsonString(run.project) + ",\"status\":" +
                     core::JsonString(status) + ",\"error\":" + core::JsonString(error) + "}";
  std::string line = "posted the failure to the webhook";
  try {
    // The same allowed prefixes as sources and sensors: a webhook is a request too.
    core::SourceSpec probe;
    probe.url = url;
    core::FetchOptions limits = FetchOptionsFor(probe);
    if (!core::UrlAllowedByPrefixes(url, limits.allowed_prefixes))
      throw Error(sqlstate::kInsufficientPrivilege, "webhook URL \"" + core::RedactUrl(url) +
                                                        "\" matches none of the allowed URL prefixes");
    core::PostJson(url, json, 10000);
  } catch (const Error& e) {
    line = std::string("webhook not reached: ") + e.message();
  }
  try {
    InTransaction([&] { WriteLog(run.id, "", {"info", line}); });
  } catch (const Error&) {
  }
}

// Drops staging left by this role's failed runs older than pipeline.staging_retention.
void DropExpiredStaging() {
  auto rows = SpiQuery(
      "SELECT br.block_run_id, br.output_relation FROM pipeline.block_runs br "
      "JOIN pipeline.runs r USING (run_id) "
      "WHERE r.status IN ('succeeded', 'failed', 'cancelled') AND br.output_relation LIKE 'pipeline_staging.%' "
      "AND r.finished_at < now() - make_interval(secs => $1::int)",
      {Num(guc.staging_retention_s)});
  for (const auto& row : rows) {
    DropRelation(*row[1]);
    SpiExec("UPDATE pipeline.block_runs SET output_relation = NULL WHERE block_run_id = $1::bigint", {*row[0]});
  }
}

void DropRunStaging(Run& run) {
  for (auto& [name, state] : run.blocks) {
    if (state.relation.rfind("pipeline_staging.", 0) == 0) DropRelation(state.relation);
  }
  SpiExec("UPDATE pipeline.block_runs SET output_relation = NULL WHERE run_id = $1::bigint "
          "AND output_relation LIKE 'pipeline_staging.%'", {Num(run.id)});
}


// Waits until a block worker exits (its exit sets our latch) or a second passes.
void WaitForHelpers() {
  PgCall([] {
    int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
    if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  });
}

// The role this worker acts as: block workers act as it too.
Oid GetRunOwner() {
  return PgCall([] { return GetUserId(); });
}

// Takes in the outcome of block workers that exited: the block's row says how it went; a
// worker gone with its block unfinished failed that block.
void ReapHelpers(Run& run, std::map<std::string, BackgroundWorkerHandle*>& helpers,
                 std::optional<Error>& first_failure) {
  for (auto it = helpers.begin(); it != helpers.end();) {
    pid_t pid;
    BgwHandleStatus status = PgCall([&] { return GetBackgroundWorkerPid(it->second, &pid); });
    if (status != BGWH_STOPPED && status != BGWH_POSTMASTER_DIED) {
      ++it;
      continue;
    }
    const std::string name = it->first;
    BlockState& state = run.blocks.at(name);
    InTransaction([&] {
      auto rows = SpiQuery("SELECT status, output_relation, rows_out, condition, error, sqlstate "
                           "FROM pipeline.block_runs WHERE run_id = $1::bigint AND block_name = $2",
                           {Num(run.id), name});
      std::string status_now = rows.empty() ? "failed" : *rows[0][0];
      if (status_now == "pending" || status_now == "running") {
        SpiExec("UPDATE pipeline.block_runs SET status = 'failed', finished_at = clock_timestamp(), "
                "error = 'its block worker exited before finishing it', sqlstate = 'XX000' "
                "WHERE run_id = $1::bigint AND block_name = $2", {Num(run.id), name});
        status_now = "failed";
        if (!first_failure)
          first_failure = Error(sqlstate::kInternalError, "block \"" + name + "\" failed: its block worker exited before finishing it");
      } else if (status_now == "failed" && !first_failure) {
        first_failure = Error(rows[0][5].value_or("XX000"),
                              "block \"" + name + "\" failed: " + rows[0][4].value_or("unknown error"));
      }
      state.status = status_now;
      state.relation = rows.empty() ? "" : rows[0][1].value_or("");
      state.rows_out = !rows.empty() && rows[0][2] ? ToInt(rows[0][2]) : -1;
      state.said_false = !rows.empty() && rows[0][3] == SqlValue("f");
    });
    PgCall([&] { pfree(it->second); });
    it = helpers.erase(it);
  }
}

// Cancels the block workers still running (after a cancel or a failure of this worker) and
// waits for them; they record their blocks as cancelled.
void StopHelpers(Run& run, std::map<std::string, BackgroundWorkerHandle*>& helpers,
                 std::optional<Error>& first_failure) {
  if (helpers.empty()) return;
  PgCall([&] {
    QueryCancelPending = false;  // our own cancel is being handled here
    for (auto& [name, handle] : helpers) TerminateBackgroundWorker(handle);
    for (auto& [name, handle] : helpers) WaitForBackgroundWorkerShutdown(handle);
  });
  ReapHelpers(run, helpers, first_failure);
}

}  // namespace

int64_t CreateRun(const std::string& project, const std::string& name,
                  const std::string& variables_json, const std::string& trigger) {
  int64_t run_id = 0;
  InTransaction([&] {
    StoredPipeline stored = LoadPipeline(project, name);
    std::string defaults = "{";
    for (size_t i = 0; i < stored.spec.variables.size(); ++i)
      defaults += (i ? "," : "") + core::JsonString(stored.spec.variables[i].name) + ":" +
                  stored.spec.variables[i].json;
    defaults += "}";
    run_id = ToInt(SpiScalar(
        "INSERT INTO pipeline.runs (pipeline_id, version, status, trigger, variables, execution_date, started_at) "
        "VALUES ($1::bigint, $2::int, 'running', $3, $4::jsonb || $5::jsonb, now(), clock_timestamp()) RETURNING run_id",
        {Num(stored.pipeline_id), Num(stored.version), trigger, defaults, variables_json}));
    for (const auto& b : stored.spec.blocks)
      SpiExec("INSERT INTO pipeline.block_runs (run_id, block_name, block_type) VALUES ($1::bigint, $2, $3)",
              {Num(run_id), b.name, core::BlockTypeName(b.type)});
  });
  return run_id;
}

RunOutcome ExecuteRun(int64_t run_id) {
  RunOutcome outcome;
  Run run;
  try {
    InTransaction([&] {
      run = LoadRun(run_id);
      // Templates call pipeline.secret() and pipeline.env_var() unqualified, as Mage users write.
      SpiExec("SELECT set_config('search_path', current_setting('search_path') || ', pipeline', false) "
              "WHERE current_setting('search_path') !~ '\\mpipeline\\M'");
      uint64_t claimed = SpiExec(
          "UPDATE pipeline.runs SET status = 'running', worker_pid = pg_backend_pid(), "
          "started_at = coalesce(started_at, clock_timestamp()) "
          "WHERE run_id = $1::bigint AND status IN ('queued', 'running')", {Num(run_id)});
      if (claimed == 0) throw Error(sqlstate::kQueryCanceled, "run " + Num(run_id) + " was cancelled before it started");
      PgCall([run_id] { RegisterRunWorker(run_id); });
      Notify(run_id, "running");
    });
  } catch (const Error& e) {
    outcome.error = e;
    try {
      InTransaction([&] {
        SpiExec("UPDATE pipeline.runs SET status = 'failed', finished_at = clock_timestamp(), "
                "error = $2, sqlstate = $3 WHERE run_id = $1::bigint AND status IN ('queued', 'running')",
                {Num(run_id), e.message(), e.sqlstate()});
      });
    } catch (const Error&) {
    }
    return outcome;
  }

  for (const auto& b : run.spec.blocks) run.blocks[b.name].spec = &b;  // into this copy of the spec
  try {
    InTransaction([&] { DropExpiredStaging(); });
  } catch (const Error&) {
    // Staging this role may not drop is left for its owner's runs (or the launcher) to sweep.
  }
  std::optional<Error> first_failure;
  std::vector<std::string> pipeline_callbacks;
  std::map<std::string, BackgroundWorkerHandle*> helpers;  // blocks running in block workers
  const std::vector<std::string> order = core::TopologicalOrder(run.spec);
  for (const auto& name : order) {
    const BlockSpec& b = *run.blocks.at(name).spec;
    if (b.type == BlockType::kCallback && b.upstream.empty()) pipeline_callbacks.push_back(name);
  }
  auto is_final = [](const std::string& s) {
    return s == "succeeded" || s == "failed" || s == "skipped" || s == "upstream_failed" || s == "cancelled";
  };
  try {
    for (;;) {
      if (g_cancel_requested) break;
      ReapHelpers(run, helpers, first_failure);
      // Blocks whose upstream blocks have all ended, in file order; blocked ones are settled here.
      std::vector<std::string> ready;
      bool settled = false;
      for (const auto& name : order) {
        BlockState& state = run.blocks.at(name);
        const BlockSpec& b = *state.spec;
        if (state.status != "pending" || helpers.count(name)) continue;
        if (b.type == BlockType::kCallback && b.upstream.empty()) continue;
        bool all_ended = true, skipped = false, upstream_failed = false;
        std::string blocked_by;
        for (const auto& up : b.upstream) {
          const BlockState& u = run.blocks.at(up);
          if (!is_final(u.status)) all_ended = false;
          if (u.status == "failed" || u.status == "upstream_failed" || u.status == "cancelled") {
            upstream_failed = true;
            blocked_by = up;
          } else if (u.status == "skipped" || u.said_false) {
            skipped = true;
            blocked_by = up;
          }
        }
        if (!all_ended) continue;
        if (b.type != BlockType::kCallback && (upstream_failed || skipped)) {
          InTransaction([&] {
            MarkBlock(run, name, upstream_failed ? "upstream_failed" : "skipped");
            WriteLog(run.id, name, {"info", std::string(upstream_failed ? "not run: upstream block \"" : "skipped: upstream block \"") +
                                                blocked_by + (upstream_failed ? "\" did not succeed" : "\" was skipped or said false")});
          });
          settled = true;
          continue;
        }
        ready.push_back(name);
      }
      if (settled) continue;
      if (ready.empty()) {
        if (helpers.empty()) break;
        WaitForHelpers();
        continue;
      }
      // Independent ready blocks beyond the first go to block workers, while this worker runs
      // the first one itself; callbacks always run here.
      for (size_t i = 1; i < ready.size(); ++i) {
        const BlockSpec& b = *run.blocks.at(ready[i]).spec;
        if (b.type == BlockType::kCallback) continue;
        if (static_cast<int>(helpers.size()) >= guc.max_parallel_blocks) break;
        if (BackgroundWorkerHandle* h = StartBlockWorker(run.id, ready[i], GetRunOwner())) {
          helpers[ready[i]] = h;
          run.blocks.at(ready[i]).status = "running";
        }
      }
      if (guc.fuse_blocks) {
        if (auto fusion = FindFusion(run, ready[0])) {
          Error failure("00000", "");
          if (!RunFused(run, *fusion, &failure) && !first_failure) first_failure = failure;
          continue;
        }
      }
      BlockState& state = run.blocks.at(ready[0]);
      bool upstream_failed = false;
      for (const auto& up : state.spec->upstream) {
        const std::string& s = run.blocks.at(up).status;
        if (s == "failed" || s == "upstream_failed" || s == "cancelled") upstream_failed = true;
      }
      Error failure("00000", "");
      if (!RunBlock(run, state, &failure, !upstream_failed) && !first_failure) first_failure = failure;
    }
    StopHelpers(run, helpers, first_failure);
    for (const auto& name : pipeline_callbacks) {
      if (g_cancel_requested) break;
      Error failure("00000", "");
      if (!RunBlock(run, run.blocks.at(name), &failure, !first_failure) && !first_failure)
        first_failure = failure;
    }
  } catch (const std::exception& caught) {
    // A failure of the bookkeeping itself, or a cancel while waiting.
    if (!first_failure) first_failure = AsError(caught);
    try {
      StopHelpers(run, helpers, first_failure);
    } catch (const Error&) {
    }
  }

  // A SIGTERM nobody asked for as a cancel is the server shutting down: the run goes back to
  // the queue, and resumes after the restart.
  if (g_cancel_requested && !PgCall([] { return CancelRequestedForMe(); })) {
    try {
      InTransaction([&] {
        SpiExec("UPDATE pipeline.block_runs SET status = 'pending', finished_at = NULL "
                "WHERE run_id = $1::bigint AND status IN ('running', 'cancelled')", {Num(run.id)});
        SpiExec("UPDATE pipeline.runs SET status = 'queued', worker_pid = NULL, claimed_at = NULL "
                "WHERE run_id = $1::bigint AND status = 'running'", {Num(run.id)});
        WriteLog(run.id, "", {"warning", "the server is shutting down: the run is queued again"});
        Notify(run.id, "queued");
      });
    } catch (const Error&) {
      // Not recorded: the launcher finds the run without a worker after the restart.
    }
    outcome.status = RunStatus::kCancelled;
    outcome.error = Error("57P01", "the server shut down during run " + Num(run.id) + "; it is queued again");
    return outcome;
  }
  bool cancelled = g_cancel_requested;
  outcome.status = cancelled ? RunStatus::kCancelled
                             : (first_failure ? RunStatus::kFailed : RunStatus::kSucceeded);
  if (first_failure) outcome.error = *first_failure;
  if (cancelled && !first_failure) outcome.error = Error(sqlstate::kQueryCanceled, "run cancelled");
  try {
    InTransaction([&] {
      for (auto& [name, state] : run.blocks)
        if (state.status == "pending" || state.status == "running")
          MarkBlock(run, name, cancelled ? "cancelled" : "upstream_failed");
      const char* status = outcome.status == RunStatus::kSucceeded ? "succeeded"
                           : outcome.status == RunStatus::kCancelled ? "cancelled" : "failed";
      std::string error = first_failure || cancelled ? std::string(outcome.error.message()) : "";
      // A run cancelled from outside while its worker finished stays cancelled.
      SpiExec("UPDATE pipeline.runs SET status = $2, finished_at = clock_timestamp(), "
              "error = NULLIF($3, ''), sqlstate = NULLIF($4, '00000') "
              "WHERE run_id = $1::bigint AND status = 'running'",
              {Num(run.id), status, error, first_failure || cancelled ? outcome.error.sqlstate() : "00000"});
      Notify(run.id, status, error);
    });
    if (outcome.status == RunStatus::kFailed) CallWebhook(run, "failed", outcome.error.message());
  } catch (const Error& e) {
    outcome.status = RunStatus::kFailed;
    outcome.error = e;
    return outcome;
  }
  if (outcome.status == RunStatus::kSucceeded) {
    try {
      InTransaction([&] { DropRunStaging(run); });
    } catch (const Error& e) {
      // The run succeeded; staging left behind is dropped by a later run's retention sweep.
      try {
        InTransaction([&] { WriteLog(run.id, "", {"warning", std::string("staging not dropped: ") + e.message()}); });
      } catch (const Error&) {
      }
    }
  }
  return outcome;
}

}  // namespace pgpipe::pg

namespace pgpipe::pg {

void ExecuteBlockOfRun(int64_t run_id, const std::string& block) {
  PgCall([run_id] { RegisterRunWorker(run_id); });
  Run run;
  InTransaction([&] {
    run = LoadRun(run_id);
    SpiExec("SELECT set_config('search_path', current_setting('search_path') || ', pipeline', false) "
            "WHERE current_setting('search_path') !~ '\\mpipeline\\M'");
  });
  for (const auto& b : run.spec.blocks) run.blocks[b.name].spec = &b;
  auto it = run.blocks.find(block);
  if (it == run.blocks.end())
    throw Error(sqlstate::kUndefinedObject, "run " + Num(run_id) + " has no block \"" + block + "\"");
  Error failure("00000", "");
  RunBlock(run, it->second, &failure);
}

}  // namespace pgpipe::pg
