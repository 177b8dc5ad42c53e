// Semantic checks of a parsed pipeline: names, links, what each block type needs, templates,
// and acyclicity. Errors name the block, the key and the place in the file.
#pragma once

#include "core/spec.hpp"

namespace pgpipe::core {

// Checks `spec` and completes it: upstream and downstream lists are made consistent (Mage's
// downstream_blocks become upstream links of the named blocks). Throws core::Error.
void ValidatePipeline(PipelineSpec& spec);

}  // namespace pgpipe::core
