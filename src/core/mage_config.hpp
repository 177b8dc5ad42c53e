// Mage's io_config.yaml, as Mage reads it: {{ env_var('NAME') }} and
// {{ env_var('NAME', 'default') }} are rendered as text from the environment first, then the
// YAML is parsed, so an unquoted template becomes its value instead of a YAML flow mapping. An
// unset variable without a default becomes a marker (kUnsetEnvVarMarker) that the Python runtime
// reports, naming the variable, only when a block reads that setting
// (python/mage_ai/io/config.py does the same at run time).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/import_row.hpp"
#include "core/yaml_load.hpp"

namespace pgpipe::core {

// The environment, as a function (the server's getenv; a map in tests).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// What an unset variable renders to: the marker with the variable's name between the two
// parts (python/mage_ai/io/config.py's MISSING).
inline constexpr const char* kUnsetEnvVarMarker = "PG_PIPELINE_UNSET_ENV_VAR__";
inline constexpr const char* kUnsetEnvVarMarkerEnd = "__";

// `text` with each {{ env_var(...) }} rendered; `unset`, when given, receives the names of the
// variables that were not set and had no default, each once, in order.
std::string RenderEnvVars(const std::string& text, const EnvLookup& env,
                          std::vector<std::string>* unset = nullptr);

// One connection profile of io_config.yaml.
struct MageProfile {
  std::string name;
  std::string settings_json;  // a JSON object
};

// A profile name pg_pipeline stores: 1 to 63 of letters, digits, _ . - (not starting with . -).
bool IsProfileName(const std::string& name);

// The profiles of `text` (io_config.yaml, `file` names it in messages): each top-level mapping
// is one. `rows` receives one row per profile (imported, with the unset variables it uses in
// the reason) and per entry that is not one (skipped; Mage's own `version:` is left out
// silently). Throws core::Error for text that is not valid YAML or not a mapping, naming the
// file, line and column.
std::vector<MageProfile> ReadMageProfiles(const std::string& text, const std::string& file,
                                          const EnvLookup& env, const YamlLimits& limits,
                                          std::vector<ImportRow>* rows);

}  // namespace pgpipe::core
