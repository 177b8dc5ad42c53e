// Fusion: see fusion.hpp.
extern "C" {
#include "postgres.h"
}

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>

#include "core/sql_text.hpp"
#include "core/template.hpp"
#include "core/test_plan.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/load/parallel_load.hpp"
#include "pg/run/blocks.hpp"
#include "pg/run/compiled.hpp"
#include "pg/run/fusion.hpp"
#include "pg/run/publish.hpp"
#include "pg/run/staging.hpp"
#include "pg/run/state.hpp"
#include "pg/run/tests.hpp"
#include "pg/spi.hpp"
#include "pg/sql_shape.hpp"
#include "pg/subxact.hpp"
#include "pg/txn.hpp"

namespace pgpipe::pg {

using core::BlockSpec;
using core::BlockState;
using core::BlockType;
using core::Error;

namespace {

// What the transformer does, when the loader's COPY can do it: a filter (its WHERE), and
// possibly a projection (the output's columns: renamed, computed; projection.hpp).
struct ChainShape {
  std::string condition;  // "" none
  Projection projection;
};

// Runs check(), which may read and alter it, with the placeholder relation made as a temporary
// table of the loader's declared columns that keep(name) accepts, in a subtransaction rolled
// back afterwards: Postgres's parse analysis needs a relation; nothing of it stays.
void WithPlaceholderTable(const core::SourceSpec& source, const std::function<bool(const std::string&)>& keep,
                          const std::function<void()>& check) {
  std::string columns;
  for (const auto& c : source.columns)
    if (keep(c.name)) columns += (columns.empty() ? "" : ", ") + core::QuoteIdent(c.name) + " " + c.pg_type;
  InSubtransaction([&] {
    SpiExec(std::string("CREATE TEMP TABLE ") + kShapePlaceholder + " (" + columns + ")");
    check();
    throw Error("00000", "the placeholder is only for the check");  // (rolled back)
  });
}

// The transformer's shape: its SQL rendered with the loader standing in as the placeholder
// relation, read by the parser as exactly "SELECT * FROM <loader> WHERE cond"; else, when the
// loader declares its columns, read by Postgres's parse analysis over a temporary table of those
// columns as a projection whose computed columns can be stored generated columns (checked by
// making them, in a subtransaction that is rolled back). nullopt: neither.
std::optional<ChainShape> Shape(Run& run, const Fusion& f) {
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
  if (std::optional<std::string> condition = FilterCondition(sql)) return ChainShape{*condition, {}};
  const core::SourceSpec& source = *run.Spec(f.loader).source;
  if (source.columns.empty()) return std::nullopt;
  std::optional<ProjectionShape> shape;
  bool computable = false;
  WithPlaceholderTable(source, [](const std::string&) { return true; }, [&] {
    shape = ProjectionOf(sql);
    int i = 0;
    if (shape)
      for (const auto& c : shape->projection.columns)
        if (c.column.empty() && !c.from_star)
          SpiExec(std::string("ALTER TABLE ") + kShapePlaceholder + " ADD COLUMN pgp_check_" + std::to_string(i++) +
                  " " + c.type + " GENERATED ALWAYS AS (" + c.expression + ") STORED");
    computable = shape.has_value();
  });
  if (!computable) return std::nullopt;
  return ChainShape{shape->condition, shape->projection};
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

// The tests of the transformer and the exporter, planned before the load so that the load
// counts them as it reads the rows (LoadRequest::count_if): judged then without a scan of the
// loaded table, which would read back every page just written.
struct CountedTests {
  std::unique_ptr<PlannedTests> transformer, exporter;  // (no exporter: its tests scan)
  std::vector<std::string> conditions;  // the transformer's counted conditions, then the exporter's
  std::vector<std::string> columns;     // the loader's columns they name
};

// The chain's tests as its load can count them on `table`, or nullopt: then they scan the
// loaded table, as an unfused block's do. Only without renames by the transformer (an
// exporter's renames leave its own tests to the scan), and where every condition is one that
// COPY's WHERE evaluates on every loaded row as a scan of the output would (RowCondition), over
// the loader's declared columns that the output has under the same name: all of them for a
// plain filter; for a projection, the file's columns it selects and does not rename (not a
// computed column, which COPY computes only after its WHERE, nor a renamed or dropped one). The
// file must have them too: an optional column it lacks is found by the load, which then counts
// nothing (KeepIfCounted). At most kMaxLoadCounts conditions, and only where the catalog has
// pipeline._count_row (0.3 on).
std::optional<CountedTests> CountedByLoad(Run& run, const Fusion& f, const ChainShape& shape, const std::string& table) {
  const BlockSpec& l = run.Spec(f.loader);
  const BlockSpec& t = run.Spec(f.transformer);
  const BlockSpec& e = run.Spec(f.exporter);
  if (!t.rename_columns_json.empty() || l.source->columns.empty() || !LoadCountingAvailable()) return std::nullopt;
  CountedTests counted;
  counted.transformer = PlanBlockTests(run, t, table, true);
  std::vector<std::string> conditions = counted.transformer->plan.offending;
  // (an exporter that renames columns, as a compiled Mage exporter lowercases them, has its tests
  // run on the renamed table)
  if (e.rename_columns_json.empty()) {
    counted.exporter = PlanBlockTests(run, e, table, false);
    for (const auto& c : counted.exporter->plan.offending) conditions.push_back(c);
  }
  if (conditions.size() > static_cast<size_t>(kMaxLoadCounts)) return std::nullopt;
  if (conditions.empty()) return counted;
  std::set<std::string> same_name;  // a projection's output columns that are the file's, unrenamed
  for (const auto& c : shape.projection.columns)
    if (c.expression.empty() && (c.from_star || c.column == c.name)) same_name.insert(c.name);
  std::set<std::string> named;
  bool countable = true;
  const auto output_has = [&](const std::string& name) {
    return shape.projection.columns.empty() || same_name.count(name) > 0;
  };
  WithPlaceholderTable(*l.source, output_has, [&] {
    for (const auto& c : conditions) {
      std::optional<RowConditionText> row_condition = RowCondition(c);
      if (!row_condition) {
        countable = false;
        break;
      }
      counted.conditions.push_back(row_condition->text);
      named.insert(row_condition->columns.begin(), row_condition->columns.end());
    }
  });
  if (!countable) return std::nullopt;
  counted.columns.assign(named.begin(), named.end());
  return counted;
}

// Judges a block's tests on what the load counted: the rows kept, and its conditions' counts,
// which start at `first` in loaded.counted.
void JudgeCounted(Run& run, const PlannedTests& planned, size_t first, const std::string& table,
                  const LoadResult& loaded, AttemptResult& result) {
  std::vector<int64_t> counts = {static_cast<int64_t>(loaded.rows)};
  for (size_t i = 0; i < planned.plan.offending.size(); ++i) counts.push_back(loaded.counted.at(first + i));
  JudgeTests(run, planned, table, counts, result);
}

// Marks the chain's blocks running for attempt `attempt` (only the loader's attempts count).
void StartChain(Run& run, const Fusion& f, int attempt) {
  BeginAttempt(run.id, f.loader, run.blocks.at(f.loader).state, attempt);
  for (const std::string* b : {&f.transformer, &f.exporter}) {
    BlockChange start;
    start.attempt = 1;
    MoveBlock(run.id, *b, core::BlockEvent::kStart, start);
  }
  for (const std::string* b : {&f.loader, &f.transformer, &f.exporter}) {
    run.blocks.at(*b).state = BlockState::kRunning;
    if (auto line = CompiledLine(run.Spec(*b)); line && attempt == 1) WriteLog(run.id, *b, *line);
  }
}

// Whether a COPY that failed while setting up its WHERE failed because of the condition: the
// transformer's mistake (syntax, unknown column or function, wrong type), not the loader's.
bool IsFilterError(const Error& e) {
  const std::string& s = e.sqlstate();
  return s == "42601" || s == "42703" || s == "42883" || s == "42804" || s == "42725" || s == "42803" ||
         s == "42P20" || s == "0A000";
}

// What one attempt of a fused chain did, and the block a failure belongs to (`phase`).
struct FusedAttempt {
  std::string phase;
  bool load_done = false, filter_done = false;  // the parts that finished
  LoadResult loaded;
  AttemptResult lres, tres, eres;
  bool replaced = false;
  bool projected = false;  // the transformer's columns were made by the load (projection.hpp)
  std::optional<CountedTests> counted;  // the tests the load counted (CountedByLoad)
};

// Judges the loader's row_count tests on the rows COPY read (kept and filtered out); a failed
// test of severity warn is logged and counted instead.
void JudgeLoaderTests(const BlockSpec& l, const LoadResult& loaded, AttemptResult& lres) {
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
}

// Forgets the tests planned for counting when the load did not count them (the file lacks a
// column they name: CountableWith): they scan the table instead.
void KeepIfCounted(FusedAttempt& a) {
  if (a.counted && a.loaded.counted.size() != a.counted->conditions.size()) a.counted.reset();
}

// The chain's shape, or the error saying it lost the shape fusion needs.
ChainShape ShapeOrFail(Run& run, const Fusion& f) {
  std::optional<ChainShape> shape = Shape(run, f);
  if (!shape)
    throw Error(core::sqlstate::kInternalError, "the sql of block \"" + f.transformer +
                                                    "\" no longer has the shape fusion needs");
  return *shape;
}

// Makes the loaded table what the transformer's SQL says (a projection's renames and the like).
void FinishTable(const LoadResult& loaded) {
  for (const auto& statement : loaded.finish) SpiExec(statement);
}

// Everything after the load, on the loaded table, block by block: the loader's finishing
// statements and tests, then the transformer's renames, prints and tests, then the exporter's.
// A compiled block's renames come before its own tests; its prints that read the loader's
// output have nothing to read here.
void FinishChain(Run& run, const Fusion& f, const std::string& table, FusedAttempt& a) {
  const BlockSpec& t = run.Spec(f.transformer);
  const BlockSpec& e = run.Spec(f.exporter);
  a.phase = f.loader;
  FinishTable(a.loaded);
  JudgeLoaderTests(run.Spec(f.loader), a.loaded, a.lres);
  a.phase = f.transformer;
  RenameColumnsOf(t, table);
  int skipped = 0;
  for (auto& line : PrintedLines(run, t, &skipped)) a.tres.log.push_back(line);
  if (skipped > 0)
    a.tres.log.push_back({"info", Num(skipped) + " print(s) of the block not run: they read the loader's output, which "
                                                 "a fused chain does not stage (pipeline.fuse_blocks = off runs them)"});
  if (a.counted) {
    JudgeCounted(run, *a.counted->transformer, 0, table, a.loaded, a.tres);
    if (size_t n = a.counted->conditions.size(); n > 0)
      a.tres.log.push_back({"info", Num(static_cast<int64_t>(n)) + " test condition(s) counted by the load as it read the rows, " +
                                        "with no scan of the loaded table"});
  } else {
    RunTests(run, t, table, true, a.tres);
  }
  a.filter_done = true;
  a.phase = f.exporter;
  RenameColumnsOf(e, table);
  if (a.counted && a.counted->exporter)
    JudgeCounted(run, *a.counted->exporter, a.counted->transformer->plan.offending.size(), table, a.loaded, a.eres);
  else
    RunTests(run, e, table, false, a.eres);
}

// One attempt as one COPY with the condition as its WHERE straight into the exporter's new
// table, all in the exporter's transaction.
void AttemptOneCopy(Run& run, const Fusion& f, FusedAttempt& a) {
  const BlockSpec& l = run.Spec(f.loader);
  InTransaction([&] {
    Publication p = BeginPublish(*run.Spec(f.exporter).target);
    a.phase = f.transformer;
    ChainShape shape = ShapeOrFail(run, f);
    a.phase = f.loader;
    LoadRequest request;
    request.source = *l.source;
    request.source.url = Render(run, l, l.source->url, "url of block \"" + l.name + "\"");
    request.target = p.fresh.empty() ? p.target : p.fresh;
    request.create = request.must_be_new = true;
    request.where = shape.condition;
    request.projection = shape.projection;
    a.projected = !shape.projection.columns.empty();
    a.phase = f.transformer;
    a.counted = CountedByLoad(run, f, shape, request.target);
    if (a.counted) {
      request.count_if = a.counted->conditions;
      request.count_if_columns = a.counted->columns;
    }
    a.phase = f.loader;
    a.loaded = LoadCsv(request);
    KeepIfCounted(a);
    a.load_done = true;
    FinishChain(run, f, request.target, a);
    FinishPublish(p, *run.Spec(f.exporter).target);
    a.replaced = !p.fresh.empty();
    run.blocks.at(f.exporter).relation = p.target;
  });
}

// One attempt split across load workers (parallel_load.hpp): the new table is created in the
// run's staging schema and loaded with the condition as every part's WHERE, in transactions of
// their own; then, in the exporter's transaction, under its publish locks, the tests run on it
// and it is moved into the target's schema and swapped in. Whatever fails, it is dropped: the
// target's schema never holds a half-loaded table.
void AttemptSplit(Run& run, const Fusion& f, int workers, FusedAttempt& a) {
  const BlockSpec& l = run.Spec(f.loader);
  const core::TargetSpec& target = *run.Spec(f.exporter).target;
  ParallelLoadRequest request;
  std::string staged;
  unsigned int staged_relid = 0;
  InTransaction([&] {
    CheckPublishable(target);
    a.phase = f.transformer;
    ChainShape shape = ShapeOrFail(run, f);
    request.load.where = shape.condition;
    request.load.projection = shape.projection;
    a.projected = !shape.projection.columns.empty();
    a.phase = f.loader;
    DropLeftoverStaging(run.id, f.loader);
    staged = NewStagingName(run, f.loader);
    a.phase = f.transformer;
    a.counted = CountedByLoad(run, f, shape, staged);
    if (a.counted) {
      request.load.count_if = a.counted->conditions;
      request.load.count_if_columns = a.counted->columns;
    }
    a.phase = f.loader;
    request.load.source = *l.source;
    request.load.source.url = Render(run, l, l.source->url, "url of block \"" + l.name + "\"");
  });
  request.load.target = staged;
  request.load.create = request.load.must_be_new = true;
  request.workers = workers;
  request.run_id = run.id;
  request.record = [&](unsigned int) { staged_relid = RecordStaging(run, f.loader, staged, 'r'); };
  request.drop = [](unsigned int relid) { DropStagingRelation(relid); };
  a.loaded = LoadCsvParallel(request);
  KeepIfCounted(a);
  a.load_done = true;
  try {
    InTransaction([&] {
      a.phase = f.exporter;
      Publication p = BeginPublish(target);
      FinishChain(run, f, staged, a);
      AdoptStaged(p, target, staged_relid);
      ForgetStaging(staged_relid);
      a.replaced = p.exists;
      run.blocks.at(f.exporter).relation = p.target;
    });
  } catch (...) {
    try {
      InTransaction([&] { DropStagingRelation(staged_relid); });
    } catch (const Error&) {
      // (recorded: dropped with the run's staging, or by retention)
    }
    throw;
  }
}

// Whether COPY failed evaluating a row it had read (its context names the line but no column):
// the transformer's WHERE or a computed column, not the file; a row COPY could not split into
// its columns, or bytes not in the file's encoding, are the file's.
bool IsRowEvaluationError(const Error& e) {
  const std::string& s = e.sqlstate();
  if (s.rfind("22", 0) != 0 || s == "22P04" || s == "22021" || s == "22P05") return false;
  const std::string& context = e.context();
  size_t at = context.find("COPY ");
  if (at == std::string::npos) return false;
  std::string line = context.substr(at, context.find('\n', at) - at);
  return line.find(", line ") != std::string::npos && line.find(", column ") == std::string::npos;
}

}  // namespace

std::optional<Fusion> FindFusion(Run& run, const std::string& name) {
  std::optional<Fusion> f = Chain(run, name);
  if (!f) return std::nullopt;
  std::optional<ChainShape> shape;
  InTransaction([&] { shape = Shape(run, *f); });
  if (!shape) return std::nullopt;
  return f;
}

bool RunFused(Run& run, const Fusion& f, Error* failure) {
  const BlockSpec& l = run.Spec(f.loader);
  const BlockSpec& t = run.Spec(f.transformer);
  const BlockSpec& e = run.Spec(f.exporter);
  for (int attempt = run.blocks.at(f.loader).attempts_done + 1;; ++attempt) {
    InTransaction([&] { StartChain(run, f, attempt); });
    ReportActivity("pg_pipeline run " + Num(run.id) + ": blocks " + f.loader + ", " + f.transformer + ", " + f.exporter);
    FusedAttempt a;
    a.phase = f.exporter;
    std::string not_split;
    int workers = LoadWorkers(*l.source, &not_split);
    std::optional<Error> error;
    try {
      if (workers > 1)
        AttemptSplit(run, f, workers, a);
      else
        AttemptOneCopy(run, f, a);
    } catch (const std::exception& caught) {
      error = AsError(caught);
      if (g_run_timed_out) error = Error(core::sqlstate::kQueryCanceled, "cancelled: the run timed out (settings.timeout)");
    }
    std::string& phase = a.phase;
    const bool load_done = a.load_done, filter_done = a.filter_done, replaced = a.replaced;
    const char* shaped = a.projected ? "shaped (columns and filter)" : "filtered";
    const LoadResult& loaded = a.loaded;
    const AttemptResult &lres = a.lres, &tres = a.tres, &eres = a.eres;
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
                      "loaded %lld rows in %.2f s (%.1f MB downloaded, %.1f MB of CSV), %s by \"%s\" "
                      "and written straight into %s's table: one COPY for %s, %s and %s",
                      static_cast<long long>(rows_read), loaded.seconds, loaded.bytes_downloaded / 1e6,
                      loaded.bytes_decompressed / 1e6, shaped, t.name.c_str(), e.name.c_str(), l.name.c_str(),
                      t.name.c_str(), e.name.c_str());
        if (workers > 1)
          std::snprintf(line, sizeof line,
                        "loaded %lld rows in %.2f s (%.1f MB downloaded, %.1f MB of CSV), %s by \"%s\" "
                        "and written straight into %s's new table, %s: one load for %s, %s and %s",
                        static_cast<long long>(rows_read), loaded.seconds, loaded.bytes_downloaded / 1e6,
                        loaded.bytes_decompressed / 1e6, shaped, t.name.c_str(), e.name.c_str(),
                        SplitNote(loaded, workers).c_str(), l.name.c_str(), t.name.c_str(), e.name.c_str());
        if (!not_split.empty()) WriteLog(run.id, f.loader, {"info", not_split});
        WriteLog(run.id, f.loader, {"info", line});
        if (std::string na = NaNote(loaded); !na.empty()) WriteLog(run.id, f.loader, {"info", na});
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
    if (phase == f.loader && (IsFilterError(*error) || IsRowEvaluationError(*error))) phase = f.transformer;
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
