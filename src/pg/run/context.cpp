// The executor's shared helpers: see context.hpp.
extern "C" {
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timeout.h"
}

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/render.hpp"
#include "pg/boundary.hpp"
#include "pg/run/context.hpp"
#include "pg/spi.hpp"
#include "pg/wait.hpp"
#include "pg/workers/shmem.hpp"

namespace pgpipe::pg {

volatile sig_atomic_t g_shutdown_requested = 0;
volatile bool* g_cancel_flag = nullptr;
volatile sig_atomic_t g_run_timed_out = 0;

namespace {

// The run timeout's handler, in signal context: as Postgres's statement timeout does, it asks
// for a query cancel, which the next CHECK_FOR_INTERRUPTS raises.
void OnRunTimeout() {
  g_run_timed_out = 1;
  InterruptPending = true;
  QueryCancelPending = true;
  SetLatch(MyLatch);
}

}  // namespace

void ArmRunTimeout(double seconds) {
  static TimeoutId id = MAX_TIMEOUTS;
  int ms = static_cast<int>(std::min(std::ceil(seconds * 1000), 2147483647.0));
  PgCall([ms] {
    if (id == MAX_TIMEOUTS) id = RegisterTimeout(USER_TIMEOUT, OnRunTimeout);
    enable_timeout_after(id, std::max(ms, 1));
  });
}

bool CancelRequested() {
  if (g_cancel_flag != nullptr && *g_cancel_flag) return true;
  return PgCall([] { return CancelRequestedForMe(); });
}

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// Runs fn with pg_catalog and pipeline ahead of the session's search_path, for template
// expressions: a public.secret() cannot stand in for pipeline.secret().
template <typename F>
void WithTemplateSearchPath(F&& fn) {
  int level = PgCall([] {
    int nest = NewGUCNestLevel();
    const char* path = GetConfigOption("search_path", false, false);
    StringInfoData value;
    initStringInfo(&value);
    appendStringInfo(&value, "pg_catalog, pipeline%s%s", path && path[0] ? ", " : "", path ? path : "");
    (void)set_config_option("search_path", value.data, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    return nest;
  });
  try {
    fn();
  } catch (...) {
    AtEOXact_GUC(false, level);  // pops what we pushed; cannot fail
    throw;
  }
  PgCall([level] { AtEOXact_GUC(true, level); });
}

}  // namespace

std::string Render(Run& run, const core::BlockSpec& block, const std::string& text,
                   const std::string& what, const std::string& self) {
  auto relation_of = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "self" && !self.empty()) return self;
    auto it = run.blocks.find(name);
    if (it == run.blocks.end() || it->first == block.name) return std::nullopt;
    // (a trigger rule such as all_done can run a block whose upstream failed)
    if (it->second.relation.empty() && it->second.state != core::BlockState::kSucceeded)
      throw Error(sqlstate::kObjectNotInPrerequisiteState,
                  what + " reads block \"" + name + "\", which " +
                      (it->second.state == core::BlockState::kSkipped ? "was skipped" : "did not succeed") +
                      ": it has no output",
                  "", "Its trigger_rule (" + block.trigger_rule + ") runs \"" + block.name +
                          "\" anyway; read only upstream blocks that succeed, or use none_failed.");
    return it->second.relation;
  };
  core::RenderPlan plan = core::PlanRender(text, what, relation_of, run.variables_select);
  std::vector<std::optional<std::string>> values;
  if (!plan.eval_sql.empty()) {
    std::vector<SqlRow> rows;
    try {
      WithTemplateSearchPath([&] { rows = SpiQuery(plan.eval_sql); });
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

void Sleep(double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!StopRequested()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return;
    WaitOnLatch(static_cast<long>(std::min<long long>(left, 1000)));
  }
  throw Error(sqlstate::kQueryCanceled, g_shutdown_requested ? "the worker was told to exit" : "run cancelled");
}

void ReportActivity(const std::string& what) {
  const char* text = what.c_str();
  PgCall([text] { pgstat_report_activity(STATE_RUNNING, text); });
}

Error AsError(const std::exception& caught) {
  const Error* ours = dynamic_cast<const Error*>(&caught);
  return ours ? *ours : Error(sqlstate::kInternalError, std::string("internal error: ") + caught.what());
}

double RetryDelay(const core::RetrySpec& retry, int attempt) {
  double delay = retry.delay_s * (retry.exponential_backoff ? std::pow(2.0, attempt - 1) : 1.0);
  return retry.max_delay_s > 0 ? std::min(delay, retry.max_delay_s) : delay;
}

std::string DetailOf(const Error& error) {
  std::string detail = error.detail();
  if (!error.context().empty()) detail += (detail.empty() ? "" : "\n") + error.context();
  return detail;
}

Error NamingBlock(const Error& error, const std::string& block) {
  if (std::string(error.message()).rfind("block \"" + block + "\"", 0) == 0) return error;
  return Error(error.sqlstate(), "block \"" + block + "\" failed: " + error.message(), error.detail(),
               error.hint(), error.context());
}

}  // namespace pgpipe::pg
