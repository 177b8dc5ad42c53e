// Reading a mapping's keys without changing it: node[key] on a non-const YAML::Node adds the key
// when it is missing, which the Mage importer must never do to the user's trees.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace pgpipe::core {

// The value under `key` of a mapping, or an undefined node (never adds the key).
inline YAML::Node Get(const YAML::Node& node, const char* key) {
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = node.begin(); it != node.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  return YAML::Node(YAML::NodeType::Undefined);
}

// The scalar under `key`, or `fallback` (absent, null or not a scalar).
inline std::string Str(const YAML::Node& node, const char* key, const std::string& fallback = {}) {
  YAML::Node v = Get(node, key);
  return v.IsDefined() && v.IsScalar() ? v.Scalar() : fallback;
}

}  // namespace pgpipe::core
