// Fusion: see fusion.hpp.
extern "C" {
#include "postgres.h"
}

#include <cstdio>

#include "core/template.hpp"
#include "core/test_plan.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/run/blocks.hpp"
#include "pg/run/compiled.hpp"
#include "pg/run/fusion.hpp"
#include "pg/run/publish.hpp"
#include "pg/run/state.hpp"
#include "pg/run/tests.hpp"
#include "pg/spi.hpp"
#include "pg/sql_shape.hpp"
#include "pg/txn.hpp"

namespace pgpipe::pg {

using core::BlockSpec;
using core::BlockState;
using core::BlockType;
using core::Error;

namespace {

// The transformer's filter: its SQL rendered with the loader standing in as the placeholder
// relation, read by the parser. nullopt when it is not "SELECT * FROM <loader> WHERE cond".
std::optional<std::string> Condition(Run& run, const Fusion& f) {
  BlockRun& loader = run.blocks.at(f.loader);
  std::string saved = loader.relation;
  loader.relation = kShapePlaceholder;
  std::string sql;
  try {
    sql = Render(run, run.Spec(f.transformer), run.Spec(f.transformer).sql,
                 "sql of block \"" + f.transformer + "\"");
  } catch (...) {
    loader.relation = saved;
    throw;
  }
  loader.relation = saved;
  return FilterCondition(sql);
}

// The structure, apart from the transformer's SQL: who reads whom, types, keys that fusion
// cannot honour (timeouts, a transformer's or exporter's own retries, materialize, append,
// upsert or a unique key, a trigger rule other than the default).
std::optional<Fusion> Chain(Run& run, const std::string& name) {
  const BlockSpec& l = run.Spec(name);
  if (l.type != BlockType::kDataLoader || !l.source || l.source->urls.size() > 1 || !l.rename_columns_json.empty() ||
      l.timeout_s > 0 || l.downstream.size() != 1 ||
      run.consumers[name] != 1)
    return std::nullopt;
  for (const auto& t : l.tests)
    if (t.kind != "row_count") return std::nullopt;
  const BlockSpec& t = run.Spec(l.downstream[0]);
  if (t.type != BlockType::kTransformer || t.upstream.size() != 1 || t.materialize == "table" ||
      t.timeout_s > 0 || t.downstream.size() != 1 || run.consumers[t.name] != 1 || t.retry.retries > 0 ||
      t.trigger_rule != "all_success")
    return std::nullopt;
  // The transformer reads no other block (its condition would name another relation).
  for (const auto& piece : core::ScanTemplate(t.sql, "sql of block \"" + t.name + "\""))
    if (piece.is_expression && piece.text != name && run.blocks.count(piece.text)) return std::nullopt;
  const BlockSpec& e = run.Spec(t.downstream[0]);
  if (e.type != BlockType::kDataExporter || e.upstream.size() != 1 || !e.sql.empty() || !e.target ||
      (e.target->if_exists != "replace" && e.target->if_exists != "fail") || !e.target->unique_key.empty() ||
      e.timeout_s > 0 || e.retry.retries > 0 || !e.downstream.empty() || e.trigger_rule != "all_success")
    return std::nullopt;
  for (const std::string* b : {&l.name, &t.name, &e.name})
    if (run.blocks.at(*b).state != BlockState::kPending) return std::nullopt;
  return Fusion{l.name, t.name, e.name};
}

// Marks the chain's blocks running for attempt `attempt` (only the loader's attempts count).
void StartChain(Run& run, const Fusion& f, int attempt) {
  BeginAttempt(run.id, f.loader, run.blocks.at(f.loader).state, attempt);
  for (const std::string* b : {&f.transformer, &f.exporter}) {
    BlockChange start;
    start.attempt = 1;
    MoveBlock(run.id, *b, core::BlockEvent::kStart, start);
  }
  for (const std::string* b : {&f.loader, &f.transformer, &f.exporter}) run.blocks.at(*b).state = BlockState::kRunning;
}

// Whether a COPY that failed while setting up its WHERE failed because of the condition: the
// transformer's mistake (syntax, unknown column or function, wrong type), not the loader's.
bool IsFilterError(const Error& e) {
  const std::string& s = e.sqlstate();
  return s == "42601" || s == "42703" || s == "42883" || s == "42804" || s == "42725" || s == "42803" ||
         s == "42P20" || s == "0A000";
}

}  // namespace

std::optional<Fusion> FindFusion(Run& run, const std::string& name) {
  std::optional<Fusion> f = Chain(run, name);
  if (!f) return std::nullopt;
  std::optional<std::string> condition;
  InTransaction([&] { condition = Condition(run, *f); });
  if (!condition) return std::nullopt;
  return f;
}

bool RunFused(Run& run, const Fusion& f, Error* failure) {
  const BlockSpec& l = run.Spec(f.loader);
  const BlockSpec& t = run.Spec(f.transformer);
  const BlockSpec& e = run.Spec(f.exporter);
  for (int attempt = run.blocks.at(f.loader).attempts_done + 1;; ++attempt) {
    InTransaction([&] { StartChain(run, f, attempt); });
    ReportActivity("pg_pipeline run " + Num(run.id) + ": blocks " + f.loader + ", " + f.transformer + ", " + f.exporter);
    std::string phase = f.exporter;  // the block a failure belongs to
    bool load_done = false, filter_done = false;  // the parts that finished
    LoadResult loaded;
    AttemptResult lres, tres, eres;
    bool replaced = false;
    std::optional<Error> error;
    try {
      InTransaction([&] {
        Publication p = BeginPublish(*e.target);
        phase = f.transformer;
        std::optional<std::string> condition = Condition(run, f);
        if (!condition)
          throw Error(core::sqlstate::kInternalError, "the filter of block \"" + f.transformer +
                                                          "\" no longer has the shape fusion needs");
        phase = f.loader;
        LoadRequest request;
        request.source = *l.source;
        request.source.url = Render(run, l, l.source->url, "url of block \"" + l.name + "\"");
        request.target = p.fresh.empty() ? p.target : p.fresh;
        request.create = request.must_be_new = true;
        request.where = *condition;
        loaded = LoadCsv(request);
        load_done = true;
        int64_t rows_read = static_cast<int64_t>(loaded.rows + loaded.rows_excluded);
        for (const auto& test : l.tests) {
          core::PlannedTest planned;
          planned.test = &test;
          planned.row_count = true;
          auto bad = core::JudgeTest(planned, rows_read, std::nullopt);
          if (bad && test.severity != "warn") throw Error(kTestFailed, "block \"" + l.name + "\" test failed: " + *bad);
          if (bad) {
            lres.log.push_back({"warning", "test failed (severity warn, the run goes on): " + *bad});
            ++lres.warnings;
          } else {
            lres.log.push_back({"info", "test passed: " + core::TestLabel(test)});
          }
        }
        phase = f.transformer;
        // (a compiled block's renames, each before its own tests; its prints that read the
        // loader's output have nothing to read here)
        RenameColumnsOf(t, request.target);
        int skipped = 0;
        for (auto& line : PrintedLines(run, t, &skipped)) tres.log.push_back(line);
        if (skipped > 0)
          tres.log.push_back({"info", Num(skipped) + " print(s) of the block not run: they read the loader's output, which "
                                                    "a fused chain does not stage (pipeline.fuse_blocks = off runs them)"});
        RunTests(run, t, request.target, true, tres);
        filter_done = true;
        phase = f.exporter;
        RenameColumnsOf(e, request.target);
        RunTests(run, e, request.target, false, eres);
        FinishPublish(p, *e.target);
        replaced = !p.fresh.empty();
        run.blocks.at(f.exporter).relation = p.target;
      });
    } catch (const std::exception& caught) {
      error = AsError(caught);
      if (g_run_timed_out) error = Error(core::sqlstate::kQueryCanceled, "cancelled: the run timed out (settings.timeout)");
    }
    if (!error) {
      int64_t rows_read = static_cast<int64_t>(loaded.rows + loaded.rows_excluded);
      int64_t rows_kept = static_cast<int64_t>(loaded.rows);
      InTransaction([&] {
        BlockChange done;
        done.rows_out = rows_read;
        done.bytes = loaded.bytes_downloaded;
        done.warnings = lres.warnings;
        MoveBlock(run.id, f.loader, core::BlockEvent::kSucceed, done);
        done = BlockChange{};
        done.rows_in = rows_read;
        done.rows_out = rows_kept;
        done.warnings = tres.warnings;
        MoveBlock(run.id, f.transformer, core::BlockEvent::kSucceed, done);
        done.rows_in = rows_kept;
        done.relation = run.blocks.at(f.exporter).relation;
        done.warnings = eres.warnings;
        MoveBlock(run.id, f.exporter, core::BlockEvent::kSucceed, done);
        EndAttempt(run.id, f.loader, attempt, "succeeded");
        char line[512];
        std::snprintf(line, sizeof line,
                      "loaded %lld rows in %.2f s (%.1f MB downloaded, %.1f MB of CSV), filtered by \"%s\" "
                      "and written straight into %s's table: one COPY for %s, %s and %s",
                      static_cast<long long>(rows_read), loaded.seconds, loaded.bytes_downloaded / 1e6,
                      loaded.bytes_decompressed / 1e6, t.name.c_str(), e.name.c_str(), l.name.c_str(),
                      t.name.c_str(), e.name.c_str());
        WriteLog(run.id, f.loader, {"info", line});
        for (const auto& ll : lres.log) WriteLog(run.id, f.loader, ll);
        for (const auto& tl : tres.log) WriteLog(run.id, f.transformer, tl);
        WriteLog(run.id, f.transformer, {"info", Num(rows_read) + " rows in, " + Num(rows_kept) + " out (" +
                                                     Num(rows_read - rows_kept) + " dropped)"});
        for (const auto& el : eres.log) WriteLog(run.id, f.exporter, el);
        WriteLog(run.id, f.exporter, {"info", std::string(replaced ? "replaced " : "created ") + e.target->schema +
                                                  "." + e.target->table + " with " + Num(rows_kept) + " rows"});
      });
      for (const std::string* b : {&f.loader, &f.transformer, &f.exporter}) run.blocks.at(*b).state = BlockState::kSucceeded;
      run.blocks.at(f.loader).rows_out = rows_read;
      run.blocks.at(f.transformer).rows_out = run.blocks.at(f.exporter).rows_out = rows_kept;
      return true;
    }
    if (phase == f.loader && IsFilterError(*error)) phase = f.transformer;
    const bool stopped = StopRequested();
    std::string note = phase == f.loader ? WhyNotRetried(*error, l.retry, attempt) : "not retried: only the loader's part is retried";
    bool retry = note.empty() && attempt <= l.retry.retries;
    double delay = RetryDelay(l.retry, attempt);
    InTransaction([&] {
      EndAttempt(run.id, f.loader, attempt, stopped ? "cancelled" : "failed", &*error, retry ? "retried" : note);
      for (const std::string* b : {&f.loader, &f.transformer, &f.exporter}) {
        BlockState& state = run.blocks.at(*b).state;
        // (the blocks whose part finished did it; the others could not run)
        bool before = (*b == f.loader && load_done && phase != f.loader) ||
                      (*b == f.transformer && filter_done && phase == f.exporter);
        BlockChange why;
        if (*b == phase) {
          why.error = error->message();
          why.sqlstate = error->sqlstate();
          why.detail = DetailOf(*error);
        }
        if (retry) {
          if (*b != f.loader) MoveBlock(run.id, *b, core::BlockEvent::kReset);
          state = *b == f.loader ? BlockState::kRunning : BlockState::kPending;
        } else if (stopped) {
          MoveBlock(run.id, *b, core::BlockEvent::kCancel, why);
          state = BlockState::kCancelled;
        } else if (*b == phase) {
          MoveBlock(run.id, *b, core::BlockEvent::kFail, why);
          state = BlockState::kFailed;
        } else if (before) {
          MoveBlock(run.id, *b, core::BlockEvent::kSucceed);
          state = BlockState::kSucceeded;
        } else {
          BlockChange not_run;
          not_run.error = "not run: block \"" + phase + "\" of its fused chain failed";
          MoveBlock(run.id, *b, core::BlockEvent::kReset);
          MoveBlock(run.id, *b, core::BlockEvent::kBlock, not_run);
          state = BlockState::kUpstreamFailed;
        }
      }
      if (retry) NoteRetry(run.id, f.loader, *error, delay);
      std::string line = "attempt " + Num(attempt) + " failed: " + error->message();
      if (retry) {
        char wait[64];
        std::snprintf(wait, sizeof wait, "; retrying in %.1f s", delay);
        line += wait;
      } else if (!note.empty()) {
        line += "; " + note;
      }
      WriteLog(run.id, phase, {"error", line});
    });
    if (!retry) {
      *failure = NamingBlock(*error, phase);
      return false;
    }
    Sleep(delay);
  }
}

}  // namespace pgpipe::pg
