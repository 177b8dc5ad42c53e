// Reads a Mage project folder (io_config.yaml, pipelines/<name>/metadata.yaml, SQL block files
// under data_loaders/, transformers/, data_exporters/, ...) and turns each pipeline into a
// pg_pipeline file. Plain file reading; the caller checks who may read server files.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

struct ImportedPipeline {
  std::string name;
  std::string metadata_path;  // for error context
  std::string yaml;           // a pg_pipeline file, every block marked shared (Mage's blocks are)
};

struct MageProject {
  std::string name;            // folder name, unless the caller gives one
  std::string io_config_json;  // io_config.yaml as JSON ("{}" when absent)
  std::vector<ImportedPipeline> pipelines;
};

// Reads the project at `dir`; throws core::Error naming the file that is missing or wrong.
MageProject ReadMageProject(const std::string& dir);

// Converts one Mage metadata.yaml (text) to a pg_pipeline file, reading SQL block files from
// `project_dir`. Mage's {{ df_N }}, {{ block_output('x') }} and {{ variables('x') }} become
// {{ upstream_name }}, {{ x }} and {{ x }}.
std::string MageMetadataToPipelineYaml(const std::string& metadata_yaml,
                                       const std::string& project_dir,
                                       const std::string& metadata_path);

}  // namespace pgpipe::core
