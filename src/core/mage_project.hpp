// Reads a Mage project folder (io_config.yaml, pipelines/<name>/metadata.yaml and triggers.yaml,
// block files under data_loaders/, transformers/, data_exporters/, ...) and turns each pipeline
// into a pg_pipeline pipeline, saying what became of every pipeline, block, chart, trigger and
// profile. Nothing of one pipeline stops another: what cannot run here is refused (a streaming
// pipeline, a dynamic or dbt block, SQL that runs in BigQuery, an R block, a Python block using
// a Mage module pg_pipeline does not provide), precisely and with the place in the user's own
// file; what Mage never runs (scratchpads, markdown, charts) is skipped. Files are read through
// ProjectFolder (never outside the folder, never through links, never over the size bound).
// Plain file reading; the caller checks who may read server files.
//
// How a Mage block becomes ours:
//   - its uuid is its name; one that is not an identifier ("load/taxi", "clean rides") is mapped
//     to one (MageIdentifier), and every reference to it follows;
//   - language: as written; without one, Python (Mage's default), or SQL when its file is .sql;
//   - Python: language python, python = the file's text, file = its path in the project;
//   - SQL: sql = the file's text with {{ df_N }}, {{ block_output('x') }} and
//     {{ variables('x') }} rewritten to ours; a block already carrying sql, source or python
//     needs no file, nor an exporter with a target that publishes its one upstream block;
//   - the file is configuration.file_source.path or configuration.file_path when given (a
//     leading "<project folder>/" is dropped), else <type folder>/<uuid>.<py|sql>;
//   - a SQL exporter's configuration (data_provider_schema, data_provider_table,
//     export_write_policy, unique_constraints) becomes its target;
//   - every block is marked shared (Mage's blocks belong to the project).
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/import_row.hpp"
#include "core/mage_config.hpp"
#include "core/mage_triggers.hpp"
#include "core/project_folder.hpp"
#include "core/spec.hpp"
#include "core/yaml_load.hpp"

namespace pgpipe::core {

// One pipeline of the project.
struct MagePipeline {
  std::string name;           // the name it is registered under (an identifier)
  std::string metadata_path;  // "pipelines/<folder>/metadata.yaml"
  // Converted, parsed and validated: register it. Otherwise pipeline_row says why not.
  bool importable = false;
  PipelineSpec spec;   // when importable, parsed and known to validate; positions name the user's files
  std::string yaml;    // when importable: the pipeline file stored with the version
  bool python = false; // it has Python blocks
  ImportRow pipeline_row;               // outcome imported when importable (pending register)
  std::vector<ImportRow> block_rows;    // its blocks and charts, in file order
  std::vector<MageSchedule> schedules;  // its active time triggers
  std::vector<ImportRow> trigger_rows;  // its other triggers
  std::vector<std::string> notices;     // for NOTICE: charts dropped from downstream_blocks
  // When importable: the edited metadata.yaml tree `spec` was parsed from, and the file's text
  // (for CompileMagePipeline, which edits and parses it again).
  YAML::Node root;
  std::string metadata_text;
};

struct MageProject {
  std::string name;  // the folder's name (callers may import under another)
  std::string dir;   // the folder, links resolved
  std::vector<MageProfile> profiles;     // io_config.yaml's
  std::vector<ImportRow> profile_rows;   // one per profile, and for an io_config.yaml in error
  std::vector<MagePipeline> pipelines;   // in folder-name order
};

// Most pipeline folders one import reads.
inline constexpr size_t kMaxMagePipelines = 10000;

// Reads the project at `dir`. Files are bounded by limits.max_bytes each, YAML by `limits`;
// io_config.yaml is rendered with `env`. Throws core::Error only when `dir` is not a Mage
// project at all (not a folder, no pipelines folder); everything else is a row.
MageProject ReadMageProject(const std::string& dir, const YamlLimits& limits, const EnvLookup& env);

// Converts pipeline folder `folder` (under pipelines/) of `project`. Never throws for the
// pipeline's content: a problem is its pipeline_row.
MagePipeline ConvertMagePipeline(const ProjectFolder& project, const std::string& folder,
                                 const YamlLimits& limits);

// A Mage uuid as an identifier: every byte that is not an ASCII letter, digit or _ becomes _,
// a leading digit gets a _ before it, and it is cut to 63 bytes ("load/taxi" -> "load_taxi").
std::string MageIdentifier(const std::string& uuid);

// Mage's template calls in SQL read from a block file rewritten to ours ({{ df_N }} ->
// {{ <N-th upstream> }}, {{ block_output('x', ...) }} -> {{ x }}, {{ variables('x') }} ->
// {{ x }}), with `names` mapping Mage uuids to names here. *at receives where each byte of the
// result lies in the file `file` (a rewritten call at the call). Throws 22023 for a {{ df_N }}
// past the upstream list, naming the file, line and column.
std::string RewriteMageSql(const std::string& sql, const std::vector<std::string>& upstream,
                           const std::vector<std::pair<std::string, std::string>>& names,
                           const std::string& block, const std::string& file, TextPosition* at);

}  // namespace pgpipe::core
