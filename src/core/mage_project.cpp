// Mage project import: see mage_project.hpp.
#include "core/mage_project.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <cctype>
#include <optional>
#include <sstream>

#include "core/error.hpp"
#include "core/spec_json.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(sqlstate::kIoError, "could not read file \"" + path + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SubDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != ".." && IsDir(dir + "/" + name)) out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string FolderFor(const std::string& type) {
  if (type == "data_loader") return "data_loaders";
  if (type == "transformer") return "transformers";
  if (type == "data_exporter") return "data_exporters";
  if (type == "sensor") return "sensors";
  if (type == "conditional") return "conditionals";
  if (type == "callback") return "callbacks";
  return type;
}

std::string Scalar(const YAML::Node& node, const char* key) {
  YAML::Node v = node[key];
  return v.IsDefined() && v.IsScalar() ? v.Scalar() : "";
}

// Reads one of Mage's placeholders at `open` (a "{{"): {{ df_N }}, {{ block_output('x', ...) }}
// or {{ variables('x') }}. Sets *end past its "}}" and returns what it becomes, or nullopt when
// the "{{" starts none of them. Read by hand: std::regex overflows the stack on long text.
std::optional<std::string> MagePlaceholder(const std::string& sql, size_t open, size_t* end,
                                           const std::vector<std::string>& upstream,
                                           const std::string& block, const std::string& path) {
  size_t i = open + 2;
  auto blanks = [&] {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  };
  auto take = [&](const char* text) {
    size_t n = std::char_traits<char>::length(text);
    if (sql.compare(i, n, text) != 0) return false;
    i += n;
    return true;
  };
  // A quoted name: ['"][A-Za-z0-9_]+['"].
  auto quoted_name = [&](std::string* name) {
    if (i >= sql.size() || (sql[i] != '\'' && sql[i] != '"')) return false;
    size_t start = ++i;
    while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
    if (i == start || i >= sql.size() || (sql[i] != '\'' && sql[i] != '"')) return false;
    *name = sql.substr(start, i - start);
    ++i;
    return true;
  };
  blanks();
  std::string name;
  if (take("df_")) {
    size_t start = i;
    while (i < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i]))) ++i;
    std::string digits = sql.substr(start, i - start);
    blanks();
    if (digits.empty() || !take("}}")) return std::nullopt;
    size_t n = digits.size() > 6 ? 0 : std::stoul(digits);
    if (n < 1 || n > upstream.size())
      throw Error(sqlstate::kInvalidParameterValue,
                  "block \"" + block + "\" reads {{ df_" + digits + " }} but has " +
                      std::to_string(upstream.size()) + " upstream blocks",
                  "", "", "file " + path);
    *end = i;
    return "{{ " + upstream[n - 1] + " }}";
  }
  if (take("block_output(")) {
    blanks();
    if (!quoted_name(&name)) return std::nullopt;
    // Any further arguments, then the last ")" before the first "}", then blanks and "}}".
    size_t close = sql.find('}', i);
    if (close == std::string::npos || sql.compare(close, 2, "}}") != 0) return std::nullopt;
    size_t paren = close;
    while (paren > i && std::isspace(static_cast<unsigned char>(sql[paren - 1]))) --paren;
    if (paren == i || sql[paren - 1] != ')') return std::nullopt;
    *end = close + 2;
    return "{{ " + name + " }}";
  }
  if (take("variables(")) {
    blanks();
    if (!quoted_name(&name)) return std::nullopt;
    blanks();
    if (!take(")")) return std::nullopt;
    blanks();
    if (!take("}}")) return std::nullopt;
    *end = i;
    return "{{ " + name + " }}";
  }
  return std::nullopt;
}

// Mage's template calls, rewritten to ours, in one pass over the text.
std::string RewriteMageSql(const std::string& sql, const std::vector<std::string>& upstream,
                           const std::string& block, const std::string& path) {
  std::string out;
  size_t pos = 0;
  for (size_t open = sql.find("{{"); open != std::string::npos; open = sql.find("{{", pos)) {
    size_t end = 0;
    std::optional<std::string> ours = MagePlaceholder(sql, open, &end, upstream, block, path);
    // Not one of Mage's: keep its first "{", as a "{{" may start one byte later.
    out.append(sql, pos, open - pos + (ours ? 0 : 1));
    if (ours) out += *ours;
    pos = ours ? end : open + 1;
  }
  out.append(sql, pos, std::string::npos);
  return out;
}

}  // namespace

std::string MageMetadataToPipelineYaml(const std::string& metadata_yaml,
                                       const std::string& project_dir,
                                       const std::string& metadata_path) {
  YAML::Node root;
  try {
    root = YAML::Load(metadata_yaml);
  } catch (const YAML::ParserException& e) {
    throw Error(sqlstate::kSyntaxError,
                "invalid YAML in \"" + metadata_path + "\" at line " +
                    std::to_string(e.mark.line + 1) + ", column " +
                    std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap() || !root["blocks"].IsDefined() || !root["blocks"].IsSequence())
    throw Error(sqlstate::kInvalidParameterValue,
                "\"" + metadata_path + "\" is not a Mage pipeline: it has no list of blocks");
  for (YAML::Node block : root["blocks"]) {
    if (!block.IsMap()) continue;
    std::string name = Scalar(block, "uuid");
    if (name.empty()) name = Scalar(block, "name");
    std::string type = Scalar(block, "type");
    std::string language = Scalar(block, "language");
    if (!language.empty() && language != "sql")
      throw Error(sqlstate::kInvalidParameterValue,
                  "block \"" + name + "\" of \"" + metadata_path + "\" is written in " + language +
                      "; pg_pipeline imports SQL blocks only",
                  "", "Rewrite the block as SQL, or keep this pipeline in Mage.");
    std::vector<std::string> upstream;
    if (block["upstream_blocks"].IsDefined() && block["upstream_blocks"].IsSequence())
      for (const auto& u : block["upstream_blocks"]) upstream.push_back(u.Scalar());
    YAML::Node config = block["configuration"];
    if (!block["sql"].IsDefined()) {
      std::vector<std::string> candidates = {project_dir + "/" + FolderFor(type) + "/" + name +
                                             ".sql"};
      if (config.IsDefined() && config.IsMap()) {
        std::string file_path = Scalar(config, "file_path");
        if (file_path.empty() && config["file_source"].IsDefined())
          file_path = Scalar(config["file_source"], "path");
        if (!file_path.empty()) {
          candidates.push_back(project_dir + "/" + file_path);
          candidates.push_back(project_dir + "/../" + file_path);
        }
      }
      std::string found;
      for (const auto& c : candidates)
        if (found.empty() && IsFile(c)) found = c;
      if (found.empty())
        throw Error(sqlstate::kIoError,
                    "block \"" + name + "\" of \"" + metadata_path + "\" has no SQL file",
                    "Looked for \"" + candidates[0] + "\".");
      block["sql"] = RewriteMageSql(ReadWholeFile(found), upstream, name, found);
    }
    if (type == "data_exporter" && !block["target"].IsDefined() && config.IsDefined() &&
        config.IsMap() && !Scalar(config, "data_provider_table").empty()) {
      YAML::Node target;
      target["schema"] = Scalar(config, "data_provider_schema").empty()
                             ? std::string("public")
                             : Scalar(config, "data_provider_schema");
      target["table"] = Scalar(config, "data_provider_table");
      std::string policy = Scalar(config, "export_write_policy");
      target["if_exists"] = policy.empty() ? std::string("replace") : policy;
      // (Mage's upsert: unique constraints and what to do on a conflict, UPDATE or IGNORE)
      if (config["unique_constraints"].IsSequence() && config["unique_constraints"].size() > 0) {
        target["unique_constraints"] = config["unique_constraints"];
        if (!Scalar(config, "unique_conflict_method").empty())
          target["unique_conflict_method"] = Scalar(config, "unique_conflict_method");
      }
      block["target"] = target;
    }
    block["shared"] = true;
    for (const char* key : {"configuration", "language", "content"}) block.remove(key);
  }
  return YAML::Dump(root);
}

MageProject ReadMageProject(const std::string& dir_in) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (!IsDir(dir))
    throw Error(sqlstate::kIoError, "project folder \"" + dir + "\" does not exist");
  MageProject project;
  project.name = dir.substr(dir.find_last_of('/') + 1);
  std::string io_config = dir + "/io_config.yaml";
  project.io_config_json = "{}";
  if (IsFile(io_config)) {
    try {
      project.io_config_json = YamlToJson(YAML::Load(ReadWholeFile(io_config)));
    } catch (const YAML::ParserException& e) {
      throw Error(sqlstate::kSyntaxError,
                  "invalid YAML in \"" + io_config + "\" at line " +
                      std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (project.io_config_json.empty() || project.io_config_json[0] != '{')
      project.io_config_json = "{}";
  }
  std::string pipelines_dir = dir + "/pipelines";
  if (!IsDir(pipelines_dir))
    throw Error(sqlstate::kIoError, "\"" + dir + "\" is not a Mage project: it has no pipelines folder");
  for (const auto& name : SubDirs(pipelines_dir)) {
    std::string metadata = pipelines_dir + "/" + name + "/metadata.yaml";
    if (!IsFile(metadata)) continue;
    // Messages name files relative to the project folder, which the caller already knows.
    std::string shown = "pipelines/" + name + "/metadata.yaml";
    project.pipelines.push_back(
        {name, shown, MageMetadataToPipelineYaml(ReadWholeFile(metadata), dir, shown)});
  }
  if (project.pipelines.empty())
    throw Error(sqlstate::kIoError, "\"" + pipelines_dir + "\" holds no pipelines/*/metadata.yaml");
  return project;
}

}  // namespace pgpipe::core
