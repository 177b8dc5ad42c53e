// Definitions of the pipeline.* GUCs: see gucs.hpp and docs/sql-reference.md.
extern "C" {
#include "postgres.h"

#include "utils/guc.h"
}

#include <climits>

#include "core/spec.hpp"
#include "pg/gucs.hpp"

namespace pgpipe::pg {

GucValues guc = {10000, 1, 30, 5, 0, 10240, nullptr, 86400, nullptr, 2, 30 * 86400, 5000, 2, true, 3, 1024, 1, 1024};

core::YamlLimits PipelineYamlLimits() {
  core::YamlLimits limits;
  limits.max_bytes = static_cast<size_t>(guc.max_pipeline_size_kb) * 1024;
  return limits;
}

void DefineGucs() {
  DefineCustomIntVariable("pipeline.connect_timeout", "Time allowed to connect to an HTTP source.",
                          nullptr, &guc.connect_timeout_ms, 10000, 1, 3600 * 1000, PGC_SUSET,
                          GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.low_speed_limit",
                          "Bytes per second below which a download counts as stalled.", nullptr,
                          &guc.low_speed_limit, 1, 1, INT_MAX, PGC_SUSET, 0, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("pipeline.low_speed_time",
                          "Time a download may stay below pipeline.low_speed_limit.", nullptr,
                          &guc.low_speed_time_s, 30, 1, 86400, PGC_SUSET, GUC_UNIT_S, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable("pipeline.max_redirects", "Most HTTP redirects a download follows.",
                          nullptr, &guc.max_redirects, 5, 0, 50, PGC_SUSET, 0, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("pipeline.max_download_size",
                          "Largest download (compressed bytes) a loader accepts; 0 means no limit.",
                          nullptr, &guc.max_download_mb, 0, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MB,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.max_decompressed_size",
                          "Most bytes a download may produce after decompression (a small gzip can "
                          "inflate to gigabytes); 0 means no limit.",
                          nullptr, &guc.max_decompressed_mb, 10240, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MB,
                          nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "pipeline.allowed_url_prefixes",
      "Comma-separated URL prefixes that roles other than superusers may fetch; empty allows any public address.",
      nullptr, &guc.allowed_url_prefixes, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.staging_retention",
                          "How long the staging tables of a failed run are kept for inspection.",
                          nullptr, &guc.staging_retention_s, 86400, 0, INT_MAX, PGC_SUSET,
                          GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("pipeline.database", "Database whose queued runs the launcher starts.",
                             nullptr, &guc.database, "postgres", PGC_POSTMASTER, 0, nullptr,
                             nullptr, nullptr);
  DefineCustomIntVariable("pipeline.max_workers",
                          "Most run workers the launcher keeps going at once.", nullptr,
                          &guc.max_workers, 2, 1, 64, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.history_retention",
                          "Runs finished longer ago than this are pruned with their block runs "
                          "and log; 0 keeps them all.",
                          nullptr, &guc.history_retention_s, 30 * 86400, 0, INT_MAX, PGC_SIGHUP,
                          GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.launcher_naptime",
                          "Longest time the launcher sleeps when nothing wakes it.", nullptr,
                          &guc.launcher_naptime_ms, 5000, 100, 3600 * 1000, PGC_SIGHUP,
                          GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.max_parallel_blocks",
                          "Block workers one run may start for blocks that do not depend on each "
                          "other (0 runs every block in the run's own worker).",
                          nullptr, &guc.max_parallel_blocks, 2, 0, 64, PGC_SIGHUP, 0, nullptr,
                          nullptr, nullptr);
  DefineCustomBoolVariable("pipeline.fuse_blocks",
                           "Runs a loader, a filtering transformer and a replacing exporter as one "
                           "COPY with a WHERE straight into the new table.",
                           nullptr, &guc.fuse_blocks, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.max_recoveries",
                          "Times a run is queued again after its worker was interrupted (a "
                          "shutdown, a termination, a crash) before it fails instead.",
                          nullptr, &guc.max_recoveries, 3, 0, 100, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.max_pipeline_size",
                          "Largest pipeline file (or load_csv options) that is parsed; what its "
                          "anchors and aliases may expand to is capped in proportion.",
                          nullptr, &guc.max_pipeline_size_kb, 1024, 1, INT_MAX / 1024, PGC_SUSET, GUC_UNIT_KB,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.load_workers",
                          "Load workers a data_loader's load is split across when its source does "
                          "not say (parallel); 1 loads with one COPY.",
                          nullptr, &guc.load_workers, 1, 1, core::kMaxLoadWorkers, PGC_SUSET, 0,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("pipeline.load_chunk_size",
                          "CSV bytes a load split across workers hands one worker at a time.",
                          nullptr, &guc.load_chunk_kb, 1024, 8, 64 * 1024, PGC_SUSET, GUC_UNIT_KB,
                          nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("pipeline");
}

}  // namespace pgpipe::pg
