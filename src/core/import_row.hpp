// One row of pipeline.import_project's result: what became of one pipeline, block, chart,
// trigger or connection profile of a Mage project.
#pragma once

#include <string>

namespace pgpipe::core {

struct ImportRow {
  std::string pipeline;  // "" (NULL) for profiles and io_config.yaml itself
  std::string block;     // the block, chart, trigger or profile; "" (NULL) for the pipeline row
  std::string kind;      // Mage's block type, or pipeline, chart, trigger, profile, io_config
  std::string language;  // python, sql, r, markdown...; "" (NULL) when it has none
  std::string outcome;   // imported | skipped | refused
  std::string reason;    // "" (NULL) when there is nothing to say
};

}  // namespace pgpipe::core
