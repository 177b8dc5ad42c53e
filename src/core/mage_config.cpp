// io_config.yaml rendering and profiles: see mage_config.hpp.
#include "core/mage_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

#include "core/error.hpp"
#include "core/spec_json.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// Python's \s, in ASCII.
bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Reads one {{ env_var('NAME'[, 'default']) }} at `open` (a "{{"), as Python's
// \{\{\s*env_var\(\s*(['"])([^'"]*)\1\s*(?:,\s*(['"])(.*?)\3\s*)?\)\s*\}\} matches it (the
// default is on one line). Sets *end past its "}}". False when the "{{" starts no such call.
bool ReadEnvVarCall(const std::string& t, size_t open, size_t* end, std::string* name,
                    std::optional<std::string>* fallback) {
  size_t i = open + 2;
  auto blanks = [&] {
    while (i < t.size() && IsBlank(t[i])) ++i;
  };
  auto take = [&](const char* s) {
    size_t n = std::char_traits<char>::length(s);
    if (t.compare(i, n, s) != 0) return false;
    i += n;
    return true;
  };
  // blanks ")" blanks "}}" at i: the call's end.
  auto closes = [&](size_t at, size_t* after) {
    size_t j = at;
    while (j < t.size() && IsBlank(t[j])) ++j;
    if (j >= t.size() || t[j] != ')') return false;
    ++j;
    while (j < t.size() && IsBlank(t[j])) ++j;
    if (t.compare(j, 2, "}}") != 0) return false;
    *after = j + 2;
    return true;
  };
  blanks();
  if (!take("env_var(")) return false;
  blanks();
  if (i >= t.size() || (t[i] != '\'' && t[i] != '"')) return false;
  char quote = t[i++];
  size_t start = i;
  while (i < t.size() && t[i] != '\'' && t[i] != '"') ++i;
  if (i >= t.size() || t[i] != quote) return false;
  *name = t.substr(start, i - start);
  ++i;
  if (closes(i, end)) {
    fallback->reset();
    return true;
  }
  blanks();
  if (!take(",")) return false;
  blanks();
  if (i >= t.size() || (t[i] != '\'' && t[i] != '"')) return false;
  quote = t[i++];
  start = i;
  // The shortest default after which the call closes (Python's lazy .*?, which stops at a line end).
  for (size_t j = i; j < t.size() && t[j] != '\n'; ++j) {
    if (t[j] == quote && closes(j + 1, end)) {
      *fallback = t.substr(start, j - start);
      return true;
    }
  }
  return false;
}

}  // namespace

// One pass over the text: each "{{" that starts a call is replaced, any other is kept.
std::string RenderEnvVars(const std::string& text, const EnvLookup& env, std::vector<std::string>* unset) {
  std::string out;
  size_t pos = 0;
  for (size_t open = text.find("{{"); open != std::string::npos; open = text.find("{{", pos)) {
    size_t end = 0;
    std::string name;
    std::optional<std::string> fallback;
    if (!ReadEnvVarCall(text, open, &end, &name, &fallback)) {
      out.append(text, pos, open + 1 - pos);
      pos = open + 1;
      continue;
    }
    out.append(text, pos, open - pos);
    std::optional<std::string> value = env(name);
    if (value) {
      out += *value;
    } else if (fallback) {
      out += *fallback;
    } else {
      out += std::string(kUnsetEnvVarMarker) + name + kUnsetEnvVarMarkerEnd;
      if (unset && std::find(unset->begin(), unset->end(), name) == unset->end()) unset->push_back(name);
    }
    pos = end;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

// As pipeline.profiles' CHECK says.
bool IsProfileName(const std::string& name) {
  if (name.empty() || name.size() > 63 || name[0] == '.' || name[0] == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// Rendered, loaded with bounds, then each top-level entry.
std::vector<MageProfile> ReadMageProfiles(const std::string& text, const std::string& file,
                                          const EnvLookup& env, const YamlLimits& limits,
                                          std::vector<ImportRow>* rows) {
  std::vector<std::string> unset_all;
  const std::string rendered = RenderEnvVars(text, env, &unset_all);
  YAML::Node root;
  try {
    root = LoadBoundedYaml(rendered, limits, file);
  } catch (const Error& e) {
    throw Error(e.sqlstate(), file + ": " + e.message(), e.detail(), e.hint());
  }
  std::vector<MageProfile> out;
  if (!root.IsDefined() || root.IsNull()) return out;
  if (!root.IsMap())
    throw Error(sqlstate::kInvalidParameterValue,
                file + " must map profile names to their settings (it is a " +
                    (root.IsSequence() ? "list" : "single value") + ")");
  JsonLimits json_limits{EffectiveMaxTextBytes(limits, rendered.size()), limits.max_depth};
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string name = it->first.Scalar();
    const YAML::Mark mark = it->first.Mark();
    const std::string at = " (line " + std::to_string(mark.line + 1) + ", column " +
                           std::to_string(mark.column + 1) + " of " + file + ")";
    if (!it->second.IsMap()) {
      // Mage writes its file format's version there: not a profile, and nothing to report.
      if (name == "version" && it->second.IsScalar()) continue;
      rows->push_back({"", name, "profile", "", "skipped", "not a profile: its value is not a mapping of settings" + at});
      continue;
    }
    if (!IsProfileName(name)) {
      rows->push_back({"", name, "profile", "", "refused",
                       "profile names are 1 to 63 letters, digits, _ . and -" + at});
      continue;
    }
    // The variables this profile uses that are unset: rendering each profile's own settings again.
    std::vector<std::string> unset;
    for (auto s = it->second.begin(); s != it->second.end(); ++s)
      if (s->second.IsScalar()) {
        const std::string& v = s->second.Scalar();
        for (size_t p = v.find(kUnsetEnvVarMarker); p != std::string::npos; p = v.find(kUnsetEnvVarMarker, p + 1)) {
          size_t from = p + std::char_traits<char>::length(kUnsetEnvVarMarker);
          size_t to = v.find(kUnsetEnvVarMarkerEnd, from);
          std::string var = v.substr(from, to == std::string::npos ? std::string::npos : to - from);
          if (std::find(unset.begin(), unset.end(), var) == unset.end()) unset.push_back(var);
        }
      }
    std::string reason;
    if (!unset.empty()) {
      std::string list;
      for (const auto& v : unset) list += (list.empty() ? "" : ", ") + v;
      reason = "environment variables not set in the server: " + list +
               " (a block that reads one of these settings fails naming it)";
    }
    out.push_back({name, YamlToJson(it->second, json_limits)});
    rows->push_back({"", name, "profile", "", "imported", reason});
  }
  return out;
}

}  // namespace pgpipe::core
