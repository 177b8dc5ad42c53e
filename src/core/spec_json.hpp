// JSON text for the catalog: the canonical form of a validated spec (stored as jsonb, read back
// by the executor through Postgres's jsonb functions), and YAML values as JSON.
#pragma once

#include <cstddef>
#include <string>

#include "core/spec.hpp"

namespace YAML {
class Node;
}

namespace pgpipe::core {

// `s` as a JSON string literal, quotes included.
std::string JsonString(const std::string& s);

// Bounds of one YamlToJson conversion: the expanded tree of an aliased (or, loaded without
// LoadBoundedYaml, even cyclic) node can be far bigger than its text.
struct JsonLimits {
  size_t max_bytes = 16 * 1024 * 1024;  // of JSON produced
  size_t max_depth = 64;                // nesting of arrays and objects
};

// A YAML value as JSON: plain scalars typed as YAML 1.2's core schema types them. Throws
// core::Error 54000 naming the limit and the line and column where the output went over it;
// checks for interrupts as it goes.
std::string YamlToJson(const YAML::Node& node, const JsonLimits& limits = {});

// The whole spec as one JSON object.
std::string SpecToJson(const PipelineSpec& spec);

// One block as a JSON object (the form kept in pipeline.blocks.definition).
std::string BlockToJson(const BlockSpec& block);

}  // namespace pgpipe::core
