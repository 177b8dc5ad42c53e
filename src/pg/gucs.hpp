// The pipeline.* configuration parameters and their current values.
#pragma once

#include "core/yaml_load.hpp"

namespace pgpipe::pg {

// Registers every pipeline.* GUC; called from _PG_init.
void DefineGucs();

// Current values (owned by the GUC machinery; read them, never free them).
struct GucValues {
  int connect_timeout_ms;
  int low_speed_limit;      // bytes per second ...
  int low_speed_time_s;     // ... for this long means the transfer stalled
  int max_redirects;
  int max_download_mb;      // 0 = no limit
  int max_decompressed_mb;  // bytes a download may inflate to; 0 = no limit
  char* allowed_url_prefixes;  // comma-separated; empty = public addresses only (superuser-set)
  int staging_retention_s;     // how long a failed run's staging is kept
  char* database;              // where the launcher works (postmaster start)
  int max_workers;             // run workers the launcher keeps going at once
  int history_retention_s;     // runs finished longer ago are pruned; 0 keeps them all
  int launcher_naptime_ms;     // the launcher's longest sleep when nothing wakes it
  int max_parallel_blocks;     // block workers one run may use for independent blocks
  bool fuse_blocks;            // run loader -> filter -> replace chains as one COPY
  int max_recoveries;          // re-queues of a run whose worker died, before it fails
  int max_pipeline_size_kb;    // largest pipeline file (and load_csv options) register reads
  int load_workers;            // load workers a loader's load is split across by default
  int load_chunk_kb;           // bytes of CSV (kB) a split load hands a worker at a time
};
extern GucValues guc;

// The limits every pipeline file is parsed under: pipeline.max_pipeline_size, and the core's
// caps on what its anchors and aliases may expand to (src/core/yaml_load.hpp).
core::YamlLimits PipelineYamlLimits();

}  // namespace pgpipe::pg
