// The catalog in schema pipeline, seen from C++: registering pipeline versions and reading
// them back with shared blocks resolved. Callers hold an SpiSession.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/spec.hpp"

namespace pgpipe::pg {

struct StoredPipeline {
  int64_t pipeline_id = 0;
  int version = 0;
  std::string owner;
  core::PipelineSpec spec;
};

// Validates `yaml` and stores it as the new current version of its pipeline in `project`
// (unchanged text keeps the current version). Returns the pipeline name; what was accepted but
// ignored (Mage keys with no meaning here) is appended to `notices`.
std::string RegisterPipeline(const std::string& yaml, const std::string& project,
                             std::vector<std::string>* notices = nullptr);

// The current version of pipeline `name` in `project`, parsed and resolved; throws 42704 if absent.
StoredPipeline LoadPipeline(const std::string& project, const std::string& name);

// Replaces the project's shared-block references in `spec` by their stored definitions.
void ResolveSharedBlocks(core::PipelineSpec& spec, const std::string& project);

// Creates `project` when missing (import), or throws 42704 unless `create` is set.
void EnsureProject(const std::string& project, bool create, const std::string& source_dir = {},
                   const std::string& io_config_json = "{}");

}  // namespace pgpipe::pg
