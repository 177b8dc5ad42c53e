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

}  // namespace pgpipe::core
