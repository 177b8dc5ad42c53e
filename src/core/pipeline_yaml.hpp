// Parses a pipeline file (YAML, a superset in spirit of Mage's metadata.yaml) into a
// PipelineSpec. Every error names the place: YAML line and column, the key, the block.
#pragma once

#include <string>

#include "core/spec.hpp"

namespace pgpipe::core {

// Parses and fully validates `yaml`; throws core::Error naming what is wrong and where.
PipelineSpec ParsePipelineYaml(const std::string& yaml);

// Parses without the semantic checks of validate.hpp (for tools that patch a spec first, such
// as the Mage project importer, which fills in SQL from block files).
PipelineSpec ParsePipelineYamlUnvalidated(const std::string& yaml);

// Parses pipeline.load_csv's options (JSON, read as the YAML subset it is): the keys of a
// loader's source, without url, plus create.
SourceSpec ParseLoadOptionsJson(const std::string& json);

// Parses one block (a shared block's stored YAML); no cross-block checks.
BlockSpec ParseBlockYaml(const std::string& yaml);

// The YAML of `block` without its links (upstream/downstream are per pipeline), for storing a
// shared block that other pipelines will reference by name.
std::string SharedBlockYaml(const BlockSpec& block);

}  // namespace pgpipe::core
