// Mage project import: see mage_project.hpp.
#include "core/mage_project.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <regex>
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

// Mage's template calls, rewritten to ours.
std::string RewriteMageSql(const std::string& sql, const std::vector<std::string>& upstream,
                           const std::string& block, const std::string& path) {
  std::string out = sql;
  static const std::regex df(R"(\{\{\s*df_([0-9]+)\s*\}\})");
  std::smatch m;
  std::string rest = out, result;
  while (std::regex_search(rest, m, df)) {
    size_t n = std::stoul(m[1].str());
    if (n < 1 || n > upstream.size())
      throw Error(sqlstate::kInvalidParameterValue,
                  "block \"" + block + "\" reads {{ df_" + m[1].str() + " }} but has " +
                      std::to_string(upstream.size()) + " upstream blocks",
                  "", "", "file " + path);
    result += m.prefix().str() + "{{ " + upstream[n - 1] + " }}";
    rest = m.suffix().str();
  }
  out = result + rest;
  static const std::regex block_output(R"(\{\{\s*block_output\(\s*['"]([A-Za-z0-9_]+)['"][^}]*\)\s*\}\})");
  out = std::regex_replace(out, block_output, "{{ $1 }}");
  static const std::regex variables(R"(\{\{\s*variables\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)\s*\}\})");
  return std::regex_replace(out, variables, "{{ $1 }}");
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
