// Mage Python blocks compiled to native blocks at import (python/README.md, "Compiled blocks").
//
// After a pipeline is converted (mage_project.hpp), each of its Python data_loader, transformer
// and data_exporter blocks is handed to the compiler (python/pg_pipeline_runtime/compile.py,
// which reads the file with Python's ast and never runs it) through a callback the caller
// supplies; core never calls Python itself. A block the compiler answers "native" for becomes
// that native block, keeping compiled_from (its file) and python (its text); any other stays
// Python exactly as converted. Each block's import row says which and why ("native: ...",
// "python: <why not, with file line column>"). When the compiled pipeline does not validate,
// nothing of it is compiled (the rows say why) and the Python one is imported.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/mage_project.hpp"
#include "core/yaml_load.hpp"

namespace pgpipe::core {

struct MageCompiler {
  // Runs the compiler on a request (JSON) and returns its response (JSON), or nullopt with
  // *error set when the compiler could not be run. Unset: no block is compiled.
  std::function<std::optional<std::string>(const std::string& request, std::string* error)> compile;
  // When compile is unset: why no block is compiled (for each Python block's row).
  std::string unavailable;
  // The project's connection profiles as a JSON object (profile -> settings), for exporters.
  std::string io_config_json = "{}";
};

// Compiles what can be compiled of importable pipeline *p in place: its spec, its YAML and its
// block rows. Never throws for the blocks' content.
void CompileMagePipeline(MagePipeline* p, const MageCompiler& compiler, const YamlLimits& limits);

// The compiler's request for one converted Python block (JSON text).
std::string CompileRequest(const BlockSpec& b, const PipelineSpec& spec, const std::string& io_config_json);

}  // namespace pgpipe::core
