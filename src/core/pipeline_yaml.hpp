// Parses a pipeline file (YAML, a superset in spirit of Mage's metadata.yaml) into a
// PipelineSpec. Every error names the place: YAML line and column, the key, the block.
#pragma once

#include <string>

#include "core/spec.hpp"
#include "core/yaml_load.hpp"

namespace YAML {
class Node;
}

namespace pgpipe::core {

// Every parser below loads its text with LoadBoundedYaml under `limits` (src/pg passes
// pipeline.max_pipeline_size as max_bytes), so no text can make it use unbounded time or memory,
// and checks for interrupts (interrupts.hpp) while it works.

// Parses and fully validates `yaml`; throws core::Error naming what is wrong and where.
PipelineSpec ParsePipelineYaml(const std::string& yaml, const YamlLimits& limits = {});

// Parses without the semantic checks of validate.hpp (for tools that patch a spec first, such
// as the Mage project importer, which fills in SQL from block files).
PipelineSpec ParsePipelineYamlUnvalidated(const std::string& yaml, const YamlLimits& limits = {});

// Parses a pipeline from an already loaded (and bounded) YAML tree whose nodes were read from
// `text`, the file named `file_name` ("pipelines/x/metadata.yaml"): every position it records
// and every error it raises names that file. Nodes added to the tree after loading have no
// position. For the Mage importer, which edits a metadata.yaml tree before parsing it.
PipelineSpec ParsePipelineNodeUnvalidated(const YAML::Node& root, const std::string& text,
                                          const std::string& file_name, const YamlLimits& limits);

// Parses pipeline.load_csv's options (JSON, read as the YAML subset it is): the keys of a
// loader's source, without url, plus create.
SourceSpec ParseLoadOptionsJson(const std::string& json, const YamlLimits& limits = {});

// Parses one block (a shared block's stored YAML); no cross-block checks.
BlockSpec ParseBlockYaml(const std::string& yaml, const YamlLimits& limits = {});

// The YAML of `block` without its links (upstream/downstream are per pipeline), for storing a
// shared block that other pipelines will reference by name.
std::string SharedBlockYaml(const BlockSpec& block);

}  // namespace pgpipe::core
