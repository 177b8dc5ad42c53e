// JSON text for the catalog: the canonical form of a validated spec (stored as jsonb, read back
// by the executor through Postgres's jsonb functions), and YAML values as JSON.
#pragma once

#include <string>

#include "core/spec.hpp"

namespace YAML {
class Node;
}

namespace pgpipe::core {

// `s` as a JSON string literal, quotes included.
std::string JsonString(const std::string& s);

// A YAML value as JSON: plain scalars typed as YAML 1.2's core schema types them.
std::string YamlToJson(const YAML::Node& node);

// The whole spec as one JSON object.
std::string SpecToJson(const PipelineSpec& spec);

// One block as a JSON object (the form kept in pipeline.blocks.definition).
std::string BlockToJson(const BlockSpec& block);

}  // namespace pgpipe::core
