// Reads the canonical JSON of a spec (what SpecToJson wrote at register) back into a
// PipelineSpec. Runs, block workers and the launcher's recovery use the spec stored with the
// run's version this way: parsed once at register, never re-read from YAML, shared blocks as
// they were pinned then.
#pragma once

#include <string>

#include "core/spec.hpp"

namespace pgpipe::core {

// Parses `json` (an object written by SpecToJson); throws Error XX001 naming the first field
// that is missing or of the wrong kind. The result is not validated: call ValidatePipeline.
PipelineSpec SpecFromJson(const std::string& json);

}  // namespace pgpipe::core
