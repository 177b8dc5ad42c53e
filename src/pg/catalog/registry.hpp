// The registry of projects, pipelines, versions and shared blocks: registering a pipeline file
// (parsed and validated once, stored as canonical JSON with its shared blocks pinned) and
// reading a version back for a run. Callers hold an SpiSession; every write is made as the
// extension's owner, for the calling role, after checking what that role owns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/spec.hpp"

namespace pgpipe::pg {

struct StoredPipeline {
  int64_t pipeline_id = 0;
  int version = 0;
  unsigned int owner = 0;  // Oid
  std::string project;
  core::PipelineSpec spec;
};

// Validates `yaml` and stores it as the new current version of its pipeline in `project`,
// owned by the calling role. The same file (ignoring trailing newlines) resolving to the same
// spec keeps the current version. Returns the pipeline name; Mage keys accepted but ignored
// are appended to `notices`.
std::string RegisterPipeline(const std::string& yaml, const std::string& project,
                             std::vector<std::string>* notices = nullptr);

// What a shared block's stored definition (and its hash, which pipeline versions pin) is made
// of: the block without its links and without its positions, which belong to each pipeline file
// that uses it, so one block written alike in two files is one definition.
std::string SharedBodyJson(const core::BlockSpec& block);

// RegisterPipeline for a spec already parsed (not validated: its shared references are resolved
// here first), stored with `yaml` as its text. The Mage importer parses the user's
// metadata.yaml itself, so that every error names a place in the user's own files.
std::string RegisterSpec(core::PipelineSpec spec, const std::string& yaml, const std::string& project,
                         std::vector<std::string>* notices = nullptr);

// The current version of pipeline `name` in `project`, when the calling role may act as its
// owner; 42704 otherwise (another role's pipeline is not shown to exist).
StoredPipeline FindPipeline(const std::string& project, const std::string& name);

// The spec a run of version `version` of pipeline `pipeline_id` executes: the stored canonical
// JSON, validated, its shared blocks checked against their pins (55000 when one changed since).
core::PipelineSpec LoadVersionSpec(int64_t pipeline_id, int version);

// Creates `project` for the calling role, or (import) updates its source_dir when the role may
// act as its owner; without `create`, only checks that it exists (42704).
void EnsureProject(const std::string& project, bool create, const std::string& source_dir = {});

// Creates an empty project owned by the calling role; 42710 when the name is taken.
void CreateProject(const std::string& project);

}  // namespace pgpipe::pg
