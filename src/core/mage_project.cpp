// Mage project import: see mage_project.hpp.
#include "core/mage_project.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "core/error.hpp"
#include "core/interrupts.hpp"
#include "core/names.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/validate.hpp"
#include "core/yaml_get.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// A YAML true, as Mage's files write it.
bool IsTrue(const YAML::Node& node, const char* key) {
  std::string v = Str(node, key);
  return v == "true" || v == "True" || v == "TRUE" || v == "yes" || v == "on";
}

// "line L, column C of <file>" for a node, or just the file when it has no position.
std::string Where(const YAML::Node& node, const std::string& file) {
  if (!node.IsDefined() || node.Mark().is_null()) return file;
  return "line " + std::to_string(node.Mark().line + 1) + ", column " +
         std::to_string(node.Mark().column + 1) + " of " + file;
}

// `s` in double quotes, for messages.
std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// Where Mage keeps the files of a block type.
std::string TypeFolder(const std::string& type) {
  static const std::vector<std::pair<std::string, std::string>> folders = {
      {"data_loader", "data_loaders"}, {"transformer", "transformers"}, {"data_exporter", "data_exporters"},
      {"sensor", "sensors"},           {"conditional", "conditionals"}, {"callback", "callbacks"},
      {"custom", "custom"},            {"scratchpad", "scratchpads"},   {"markdown", "markdowns"},
      {"chart", "charts"},             {"dbt", "dbt"},                  {"extension", "extensions"}};
  for (const auto& [t, f] : folders)
    if (t == type) return f;
  return type + "s";
}

// The language a file's extension says, or "".
std::string LanguageOfFile(const std::string& path) {
  size_t dot = path.find_last_of('.');
  size_t slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == "py") return "python";
  if (ext == "sql") return "sql";
  if (ext == "r") return "r";
  if (ext == "md") return "markdown";
  if (ext == "yaml" || ext == "yml") return "yaml";
  return "";
}

// The file extension Mage gives a language's block files.
std::string Extension(const std::string& language) {
  if (language == "python") return ".py";
  if (language == "sql") return ".sql";
  if (language == "r") return ".r";
  if (language == "markdown") return ".md";
  if (language == "yaml") return ".yaml";
  return "." + language;
}

// The modules of pg_pipeline's own mage_ai (python/mage_ai), and those of them that are packages.
const std::set<std::string>& MageModules() {
  static const std::set<std::string> modules = {
      "mage_ai", "mage_ai.data_preparation", "mage_ai.data_preparation.decorators",
      "mage_ai.data_preparation.variable_manager", "mage_ai.io", "mage_ai.io.config", "mage_ai.io.postgres",
      "mage_ai.settings", "mage_ai.settings.repo"};
  return modules;
}
bool IsMagePackage(const std::string& module) {
  return module == "mage_ai" || module == "mage_ai.data_preparation" || module == "mage_ai.io" ||
         module == "mage_ai.settings";
}

// A Python identifier path (a.b.c) starting at `i` of `line`; sets *i past it.
std::string DottedName(const std::string& line, size_t* i) {
  size_t start = *i;
  while (*i < line.size() && (std::isalnum(static_cast<unsigned char>(line[*i])) || line[*i] == '_' || line[*i] == '.'))
    ++*i;
  return line.substr(start, *i - start);
}

// The first import of a mage_ai module that pg_pipeline's mage_ai does not provide, in Python
// `source`: the module and its 1-based line and column, or nullopt. Reads `import mage_ai.x`
// and `from mage_ai.x import y` statements that start a line (Mage's own templates write
// nothing else).
std::optional<std::pair<std::string, Position>> UnsupportedMageImport(const std::string& source,
                                                                       const std::string& file) {
  size_t line_start = 0;
  int line_no = 0;
  while (line_start <= source.size()) {
    size_t end = source.find('\n', line_start);
    std::string line = source.substr(line_start, end == std::string::npos ? std::string::npos : end - line_start);
    ++line_no;
    size_t i = line.find_first_not_of(" \t");
    auto keyword = [&](const char* word) {
      size_t n = std::char_traits<char>::length(word);
      if (i == std::string::npos || line.compare(i, n, word) != 0 || i + n >= line.size() ||
          (line[i + n] != ' ' && line[i + n] != '\t'))
        return false;
      i = line.find_first_not_of(" \t", i + n);
      return i != std::string::npos;
    };
    auto found = [&](const std::string& module, size_t column) {
      return std::make_pair(module, Position{line_no, static_cast<int>(column) + 1, file});
    };
    if (keyword("import")) {
      // import a.b[ as c][, d.e ...]
      while (i < line.size()) {
        size_t column = i;
        std::string module = DottedName(line, &i);
        if ((module == "mage_ai" || module.rfind("mage_ai.", 0) == 0) && !MageModules().count(module))
          return found(module, column);
        size_t comma = line.find(',', i);
        if (comma == std::string::npos) break;
        i = line.find_first_not_of(" \t", comma + 1);
      }
    } else if (keyword("from")) {
      size_t column = i;
      std::string module = DottedName(line, &i);
      if (module == "mage_ai" || module.rfind("mage_ai.", 0) == 0) {
        if (!MageModules().count(module)) return found(module, column);
        size_t names = line.find(" import ", i);
        if (IsMagePackage(module) && names != std::string::npos) {
          // from mage_ai.io import postgres, bigquery: each name must be one of our modules.
          i = names + 8;
          while (i < line.size()) {
            i = line.find_first_not_of(" \t(", i);
            if (i == std::string::npos) break;
            size_t name_column = i;
            std::string name = DottedName(line, &i);
            if (name.empty()) break;
            if (!MageModules().count(module + "." + name)) return found(module + "." + name, name_column);
            size_t comma = line.find(',', i);
            if (comma == std::string::npos) break;
            i = comma + 1;
          }
        }
      }
    }
    if (end == std::string::npos) break;
    line_start = end + 1;
  }
  return std::nullopt;
}

// The position in file `file` of byte `offset` of `text` (1-based line and column).
Position PositionIn(const std::string& text, size_t offset, const std::string& file) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return {line, static_cast<int>(offset - line_start) + 1, file};
}

// Appends to *at the runs that say text[from, to) of the file lies at offset `out` onward.
void AddRuns(const std::string& text, size_t from, size_t to, size_t out, const std::string& file,
             TextPosition* at) {
  size_t piece = from;
  while (piece < to) {
    at->runs.push_back({out + (piece - from), PositionIn(text, piece, file)});
    size_t newline = text.find('\n', piece);
    if (newline == std::string::npos || newline + 1 >= to) break;
    piece = newline + 1;
  }
}

// Reads one of Mage's placeholders at `open` (a "{{"): {{ df_N }}, {{ block_output('x', ...) }}
// or {{ variables('x') }}. Sets *end past its "}}" and returns what it becomes, or nullopt when
// the "{{" starts none of them. Read by hand: std::regex overflows the stack on long text.
std::optional<std::string> MagePlaceholder(const std::string& sql, size_t open, size_t* end,
                                           const std::vector<std::string>& upstream,
                                           const std::vector<std::pair<std::string, std::string>>& names,
                                           const std::string& block, const std::string& file) {
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
  // A quoted Mage uuid: ['"], then anything but quotes and line breaks, then the same quote.
  auto quoted_name = [&](std::string* name) {
    if (i >= sql.size() || (sql[i] != '\'' && sql[i] != '"')) return false;
    char quote = sql[i];
    size_t start = ++i;
    while (i < sql.size() && sql[i] != quote && sql[i] != '\n') ++i;
    if (i == start || i >= sql.size() || sql[i] != quote) return false;
    *name = sql.substr(start, i - start);
    ++i;
    return true;
  };
  // A Mage uuid as it is named here.
  auto here = [&](const std::string& uuid) {
    for (const auto& [from, to] : names)
      if (from == uuid) return to;
    return MageIdentifier(uuid);
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
                  "block \"" + block + "\" reads {{ df_" + digits + " }} at " +
                      PositionIn(sql, open, file).ToString() + " but has " + std::to_string(upstream.size()) +
                      " upstream blocks",
                  "", "{{ df_1 }} is the first of upstream_blocks, {{ df_2 }} the second, and so on.");
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
    return "{{ " + here(name) + " }}";
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

// One block of metadata.yaml, as the conversion sees it.
struct MageBlock {
  YAML::Node node;
  std::string uuid;      // as written
  std::string name;      // here
  std::string type;      // Mage's
  std::string language;  // as resolved
  std::string skipped;   // why it is skipped ("" when it is not)
  std::string refused;   // why it cannot run here ("" when it can)
  std::string note;      // what an imported block's row says
  TextPosition sql_at;   // SQL read from its file
  bool python = false;
};

// Appends `text` to a note, as sentences separated by "; ".
void AddNote(std::string* note, const std::string& text) { *note += (note->empty() ? "" : "; ") + text; }

// Why a Mage pipeline type cannot run here, or "" when it can.
std::string PipelineTypeProblem(const std::string& type) {
  if (type.empty() || type == "python") return "";
  if (type == "streaming")
    return "Mage streams it from Kafka, Kinesis and the like and it never ends; pg_pipeline runs batch pipelines";
  if (type == "integration")
    return "a data integration pipeline (Singer sources and destinations); pg_pipeline runs blocks of SQL and Python";
  return "pg_pipeline runs Mage's standard (python) pipelines";
}

// Why a Mage block type cannot run here, or "" when it can.
std::string BlockTypeProblem(const std::string& type) {
  if (type == "dbt") return "pg_pipeline does not run dbt: run dbt beside it, or write the model as a SQL block";
  if (type == "global_data_product") return "global data products are not supported";
  if (type == "extension") return "Mage extension blocks (Great Expectations) are not supported: write the checks as tests";
  return "";
}

// Converts one block (already named) in place: language, file, SQL or Python, target; sets
// b->refused when it cannot run here. *budget is what the pipeline's files may still add up to
// (a pipeline is bounded as a pipeline file is, however many blocks share one big file).
void ConvertBlock(const ProjectFolder& project, MageBlock* b, const std::string& metadata_path,
                  const std::vector<std::string>& upstream,
                  const std::vector<std::pair<std::string, std::string>>& names, size_t* budget) {
  YAML::Node& node = b->node;
  const std::string label = "block " + Quoted(b->uuid);
  if (std::string why = BlockTypeProblem(b->type); !why.empty()) {
    b->refused = label + " is a " + b->type + " block (" + Where(Get(node, "type"), metadata_path) + "): " + why;
    return;
  }
  YAML::Node config = Get(node, "configuration");
  if (config.IsMap() && IsTrue(config, "dynamic")) {
    b->refused = label + " is dynamic (configuration.dynamic at " + Where(Get(config, "dynamic"), metadata_path) +
                 "): Mage runs its downstream blocks once per item of its output, and pg_pipeline has no dynamic blocks";
    return;
  }
  for (const char* key : {"callbacks", "conditionals"}) {
    YAML::Node list = Get(node, key);
    if (list.IsSequence() && list.size() > 0) {
      b->refused = label + " has Mage " + key + " (" + Where(list, metadata_path) +
                   "), which pg_pipeline does not import: give the pipeline a callback or conditional block instead";
      return;
    }
  }
  // Blocks written the pg_pipeline way need no file.
  const bool has_sql = Get(node, "sql").IsDefined(), has_source = Get(node, "source").IsDefined(),
             has_python = Get(node, "python").IsDefined();
  std::string written = Str(node, "language");
  std::string path;
  YAML::Node path_node;
  if (config.IsMap()) {
    YAML::Node source = Get(config, "file_source");
    path_node = source.IsMap() ? Get(source, "path") : YAML::Node(YAML::NodeType::Undefined);
    if (!path_node.IsDefined() || !path_node.IsScalar() || path_node.Scalar().empty()) path_node = Get(config, "file_path");
    if (path_node.IsDefined() && path_node.IsScalar()) path = path_node.Scalar();
  }
  std::string path_key = Str(Get(config, "file_source"), "path").empty() ? "configuration.file_path"
                                                                        : "configuration.file_source.path";
  // A path Mage wrote from the repository's root ("<project>/data_loaders/x.py") or, in its
  // container, as an absolute path: the part inside this project.
  if (!path.empty()) {
    while (path.rfind("./", 0) == 0) path = path.substr(2);
    const std::string marker = project.name() + "/";
    if (path[0] == '/') {
      size_t at = path.rfind("/" + marker);
      if (at != std::string::npos) path = path.substr(at + 1 + marker.size());
    } else if (path.rfind(marker, 0) == 0 && !project.Exists(path)) {
      path = path.substr(marker.size());
    }
    if (std::string problem = ProjectFolder::PathProblem(path); !problem.empty()) {
      b->refused = label + " names its file " + Quoted(path_node.Scalar()) + " (" + path_key + " at " +
                   Where(path_node, metadata_path) + "), which is not inside the project folder: " + problem;
      return;
    }
  }
  std::string language = written;
  if (language.empty()) {
    if (has_python) language = "python";
    else if (has_sql || has_source) language = "sql";
    else if (!path.empty()) language = LanguageOfFile(path);
    else if (project.Exists(TypeFolder(b->type) + "/" + b->uuid + ".sql") &&
             !project.Exists(TypeFolder(b->type) + "/" + b->uuid + ".py"))
      language = "sql";
    if (language.empty()) language = "python";
    AddNote(&b->note, language == "python" ? "no language key: read as Python, as Mage does"
                                           : "no language key: read as SQL (its file is .sql)");
  }
  b->language = language;
  if (language != "python" && language != "sql") {
    std::string what = language == "r"      ? "R"
                       : language == "yaml" ? "YAML, a Mage data integration or streaming connector"
                                            : language;
    b->refused = label + " is written in " + what + " (" +
                 (written.empty() ? Where(path_node, metadata_path) : "language at " + Where(Get(node, "language"), metadata_path)) +
                 "): pg_pipeline runs SQL and Python blocks";
    return;
  }
  node["language"] = language;
  // The block's file.
  const bool exporter_with_target =
      b->type == "data_exporter" && (Get(node, "target").IsDefined() ||
                                     (config.IsMap() && !Str(config, "data_provider_table").empty()));
  const bool needs_file = language == "python" ? !has_python : !(has_sql || has_source);
  if (path.empty()) path = TypeFolder(b->type) + "/" + b->uuid + Extension(language);
  std::optional<std::string> text;
  if (needs_file) {
    if (std::string file_language = LanguageOfFile(path); !file_language.empty() && file_language != language) {
      b->refused = label + " is " + (language == "sql" ? "SQL" : "Python") + " (" +
                   (written.empty() ? "its keys say so" : "language at " + Where(Get(node, "language"), metadata_path)) +
                   "), but its file " + path + " is " + (file_language == "sql" ? "SQL" : file_language == "python" ? "Python" : file_language);
      return;
    }
    if (std::string problem = ProjectFolder::PathProblem(path); !problem.empty()) {
      b->refused = label + "'s file " + Quoted(path) + " is not inside the project folder: " + problem;
      return;
    }
    try {
      text = project.Read(path);
    } catch (const Error& e) {
      b->refused = label + ": " + e.message();
      return;
    }
    if (!text && !(language == "sql" && exporter_with_target)) {
      b->refused = label + " has no file: " + path + " does not exist in the project folder";
      return;
    }
    if (text && text->size() > *budget) {
      b->refused = label + "'s file " + path + " (" + std::to_string(text->size()) +
                   " bytes) takes its pipeline over the limit of " + std::to_string(project.max_file_bytes()) +
                   " bytes for metadata.yaml and the block files together (pipeline.max_pipeline_size)";
      return;
    }
    if (text) *budget -= text->size();
  }
  if (language == "python") {
    if (text) {
      if (auto bad = UnsupportedMageImport(*text, path)) {
        b->refused = label + " imports " + bad->first + " (at " + bad->second.ToString() +
                     "), which pg_pipeline's mage_ai does not provide: its Python blocks load from and export to "
                     "PostgreSQL (mage_ai.io.postgres) only";
        return;
      }
      node["python"] = *text;
      node["file"] = path;
    }
    b->python = true;
    return;  // (its configuration is kept: the runtime passes it to the block)
  }
  // SQL: it runs in this database, so SQL Mage would run in another is refused.
  std::string provider = config.IsMap() ? Str(config, "data_provider") : "";
  if (!provider.empty() && provider != "postgres") {
    b->refused = label + " runs its SQL in " + provider + " (configuration.data_provider at " +
                 Where(Get(config, "data_provider"), metadata_path) + "); pg_pipeline runs SQL in this PostgreSQL database" +
                 (b->type == "data_exporter" ? " and exports to it only" : "");
    return;
  }
  if (text) {
    bool blank = text->find_first_not_of(" \t\r\n") == std::string::npos;
    if (!(blank && exporter_with_target)) {
      std::string sql = RewriteMageSql(*text, upstream, names, b->uuid, path, &b->sql_at);
      node["sql"] = sql;
    }
  }
  if (b->type == "data_exporter" && !Get(node, "target").IsDefined() && config.IsMap() &&
      !Str(config, "data_provider_table").empty()) {
    YAML::Node target;
    target["schema"] = Str(config, "data_provider_schema").empty() ? std::string("public")
                                                                   : Str(config, "data_provider_schema");
    target["table"] = Str(config, "data_provider_table");
    std::string policy = Str(config, "export_write_policy");
    target["if_exists"] = policy.empty() ? std::string("replace") : policy;
    // (Mage's upsert: unique constraints and what to do on a conflict, UPDATE or IGNORE)
    YAML::Node constraints = Get(config, "unique_constraints");
    if (constraints.IsSequence() && constraints.size() > 0) {
      target["unique_constraints"] = constraints;
      if (!Str(config, "unique_conflict_method").empty())
        target["unique_conflict_method"] = Str(config, "unique_conflict_method");
    }
    node["target"] = target;
  }
  for (const char* key : {"configuration", "content"}) node.remove(key);
}

// Rewrites a links list (upstream_blocks, downstream_blocks) to the names here: links to
// skipped blocks go (those to charts with a notice); unknown names stay for validation to name.
void RelinkList(YAML::Node block, const char* key, const std::string& owner,
                const std::vector<MageBlock>& blocks, const std::set<std::string>& charts,
                const std::string& metadata_path, std::vector<std::string>* notices) {
  YAML::Node list = Get(block, key);
  if (!list.IsDefined() || list.IsNull()) return;
  if (list.IsScalar()) {
    YAML::Node seq(YAML::NodeType::Sequence);
    seq.push_back(list);
    list = seq;
  }
  if (!list.IsSequence()) return;  // (the parser names it)
  YAML::Node kept(YAML::NodeType::Sequence);
  for (YAML::Node item : list) {
    if (!item.IsScalar()) {
      kept.push_back(item);
      continue;
    }
    const std::string uuid = item.Scalar();
    if (charts.count(uuid)) {
      notices->push_back("ignored chart \"" + uuid + "\" in " + key + " of block \"" + owner + "\" (" +
                         Where(item, metadata_path) + "): charts are Mage's UI, not part of a run");
      continue;
    }
    auto found = std::find_if(blocks.begin(), blocks.end(), [&](const MageBlock& b) { return b.uuid == uuid; });
    if (found != blocks.end() && !found->skipped.empty()) continue;
    if (found != blocks.end() && found->name != uuid) item = found->name;
    kept.push_back(item);
  }
  block[key] = kept;
}

}  // namespace

// Byte by byte (a multi-byte character becomes one _ per byte).
std::string MageIdentifier(const std::string& uuid) {
  std::string out;
  for (unsigned char c : uuid) out += (std::isalnum(c) && c < 128) || c == '_' ? static_cast<char>(c) : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  if (out.size() > 63) out.resize(63);
  return out;
}

// One pass over the text, recording where each copied piece came from.
std::string RewriteMageSql(const std::string& sql, const std::vector<std::string>& upstream,
                           const std::vector<std::pair<std::string, std::string>>& names,
                           const std::string& block, const std::string& file, TextPosition* at) {
  std::string out;
  *at = TextPosition{};
  at->start = {1, 1, file};
  size_t pos = 0;
  for (size_t open = sql.find("{{"); open != std::string::npos; open = sql.find("{{", pos)) {
    size_t end = 0;
    std::optional<std::string> ours = MagePlaceholder(sql, open, &end, upstream, names, block, file);
    // Not one of Mage's: keep its first "{", as a "{{" may start one byte later.
    size_t copy_to = ours ? open : open + 1;
    AddRuns(sql, pos, copy_to, out.size(), file, at);
    out.append(sql, pos, copy_to - pos);
    if (ours) {
      at->runs.push_back({out.size(), PositionIn(sql, open, file)});
      out += *ours;
    }
    pos = ours ? end : open + 1;
  }
  AddRuns(sql, pos, sql.size(), out.size(), file, at);
  out.append(sql, pos, std::string::npos);
  return out;
}

// metadata.yaml read and bounded; the pipeline's own problems; charts; blocks named, then
// converted; then the edited tree parsed with its positions and validated.
MagePipeline ConvertMagePipeline(const ProjectFolder& project, const std::string& folder,
                                 const YamlLimits& limits) {
  MagePipeline p;
  p.metadata_path = "pipelines/" + folder + "/metadata.yaml";
  p.name = MageIdentifier(folder);
  p.pipeline_row = {p.name, "", "pipeline", "", "refused", ""};
  auto finish = [&](const std::string& outcome, const std::string& reason) {
    p.pipeline_row.pipeline = p.name;
    p.pipeline_row.outcome = outcome;
    p.pipeline_row.reason = reason;
    return p;
  };
  std::optional<std::string> text;
  try {
    text = project.Read(p.metadata_path);
  } catch (const Error& e) {
    return finish("refused", e.message());
  }
  if (!text)
    return finish("skipped", "pipelines/" + folder + " has no metadata.yaml, so there is no pipeline to import");
  YAML::Node root;
  try {
    root = LoadBoundedYaml(*text, limits, p.metadata_path);
  } catch (const Error& e) {
    return finish("refused", p.metadata_path + ": " + e.message());
  }
  if (!root.IsMap())
    return finish("refused", p.metadata_path + " is not a Mage pipeline: it is not a mapping of keys");
  std::vector<std::string> problems;
  std::string pipeline_note;
  {
    YAML::Node uuid_node = Get(root, "uuid");
    if (!uuid_node.IsScalar() || uuid_node.Scalar().empty()) uuid_node = Get(root, "name");
    std::string uuid = uuid_node.IsScalar() && !uuid_node.Scalar().empty() ? uuid_node.Scalar() : folder;
    p.name = MageIdentifier(uuid);
    if (p.name != uuid)
      pipeline_note = "Mage uuid \"" + uuid + "\" is not an identifier: named \"" + p.name + "\" here";
    root["uuid"] = p.name;
  }
  if (std::string why = PipelineTypeProblem(Str(root, "type")); !why.empty())
    problems.push_back("pipeline type \"" + Str(root, "type") + "\" (" + Where(Get(root, "type"), p.metadata_path) +
                       "): " + why);
  // Callbacks and conditionals Mage attaches to blocks.
  for (const auto& [key, kind] : {std::pair<const char*, const char*>{"callbacks", "callback"}, {"conditionals", "conditional"}}) {
    YAML::Node list = Get(root, key);
    if (!list.IsSequence()) continue;
    for (const auto& entry : list) {
      std::string uuid = Str(entry, "uuid");
      std::string why = std::string("a Mage ") + kind + " block (" + Where(entry, p.metadata_path) +
                        "), which pg_pipeline does not import: give the pipeline a callback or conditional block instead";
      p.block_rows.push_back({p.name, MageIdentifier(uuid), kind, Str(entry, "language"), "refused", why});
      problems.push_back("block \"" + uuid + "\" is " + why);
    }
  }
  // Charts (Mage's widgets): listed, never run.
  std::set<std::string> charts;
  std::vector<ImportRow> chart_rows;  // (after the blocks, as metadata.yaml lists widgets last)
  YAML::Node widgets = Get(root, "widgets");
  if (widgets.IsSequence())
    for (const auto& w : widgets) {
      std::string uuid = Str(w, "uuid").empty() ? Str(w, "name") : Str(w, "uuid");
      if (uuid.empty()) continue;
      charts.insert(uuid);
      chart_rows.push_back({p.name, MageIdentifier(uuid), "chart", Str(w, "language"), "skipped",
                            "a chart: Mage draws it in its UI from block outputs, and runs do not need it"});
    }
  // Blocks: named first, so that links and templates can follow renamed ones.
  YAML::Node blocks_node = Get(root, "blocks");
  std::vector<MageBlock> blocks;
  if (blocks_node.IsDefined() && !blocks_node.IsNull() && !blocks_node.IsSequence())
    return finish("refused", "blocks must be a list (" + Where(blocks_node, p.metadata_path) + ")");
  std::set<std::string> taken;
  size_t index = 0;
  if (blocks_node.IsSequence())
    for (YAML::Node node : blocks_node) {
      ++index;
      MageBlock b;
      b.node = node;
      if (!node.IsMap()) {
        problems.push_back("block " + std::to_string(index) + " is not a mapping (" + Where(node, p.metadata_path) + ")");
        continue;
      }
      b.uuid = Str(node, "uuid").empty() ? Str(node, "name") : Str(node, "uuid");
      b.type = Str(node, "type");
      if (b.uuid.empty()) {
        problems.push_back("block " + std::to_string(index) + " has no uuid (" + Where(node, p.metadata_path) + ")");
        continue;
      }
      if (b.type == "scratchpad")
        b.skipped = "a scratchpad: Mage never runs scratchpads";
      else if (b.type == "markdown")
        b.skipped = "a markdown block: documentation, not code";
      else if (b.type == "chart") {
        b.skipped = "a chart: Mage draws it in its UI from block outputs, and runs do not need it";
        charts.insert(b.uuid);
      }
      b.language = Str(node, "language");
      b.name = MageIdentifier(b.uuid);
      const auto& reserved = ReservedTemplateNames();
      if (std::find(reserved.begin(), reserved.end(), b.name) != reserved.end()) b.name += "_block";
      std::string base = b.name;
      for (int n = 2; taken.count(b.name); ++n) b.name = base.substr(0, 60) + "_" + std::to_string(n);
      taken.insert(b.name);
      if (b.name != b.uuid) AddNote(&b.note, "Mage uuid \"" + b.uuid + "\" is not a usable name: named \"" + b.name + "\" here");
      blocks.push_back(b);
    }
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& b : blocks) names.push_back({b.uuid, b.name});
  size_t budget = project.max_file_bytes() - std::min(project.max_file_bytes(), text->size());
  // Then converted, links renamed.
  YAML::Node kept(YAML::NodeType::Sequence);
  for (auto& b : blocks) {
    if (!b.skipped.empty()) continue;
    RelinkList(b.node, "upstream_blocks", b.uuid, blocks, charts, p.metadata_path, &p.notices);
    RelinkList(b.node, "downstream_blocks", b.uuid, blocks, charts, p.metadata_path, &p.notices);
    std::vector<std::string> upstream;
    YAML::Node up = Get(b.node, "upstream_blocks");
    if (up.IsSequence())
      for (const auto& u : up)
        if (u.IsScalar()) upstream.push_back(u.Scalar());
    try {
      ConvertBlock(project, &b, p.metadata_path, upstream, names, &budget);
    } catch (const Error& e) {
      b.refused = "block \"" + b.uuid + "\": " + e.message();
    }
    if (!b.refused.empty()) {
      problems.push_back(b.refused);
      continue;
    }
    YAML::Node uuid_node = Get(b.node, "uuid");
    if (uuid_node.IsDefined()) uuid_node = b.name;
    else b.node["uuid"] = b.name;
    b.node["shared"] = true;
    p.python = p.python || b.python;
    kept.push_back(b.node);
  }
  // The rows of the blocks, in file order after any callbacks, then the charts.
  auto block_rows = [&](bool pipeline_refused) {
    for (const auto& b : blocks) {
      if (!b.skipped.empty())
        p.block_rows.push_back({p.name, b.name, b.type, b.language, "skipped", b.skipped});
      else if (!b.refused.empty())
        p.block_rows.push_back({p.name, b.name, b.type, b.language, "refused", b.refused});
      else if (pipeline_refused)
        p.block_rows.push_back({p.name, b.name, b.type, b.language, "refused",
                                "not imported: pipeline \"" + p.name + "\" is refused"});
      else
        p.block_rows.push_back({p.name, b.name, b.type, b.language, "imported", b.note});
    }
    p.block_rows.insert(p.block_rows.end(), chart_rows.begin(), chart_rows.end());
  };
  auto refuse = [&](std::string reason, size_t more) {
    block_rows(true);
    if (more > 0) reason += "; and " + std::to_string(more) + " more (see the block rows)";
    return finish("refused", reason);
  };
  if (!problems.empty()) return refuse(problems[0], problems.size() - 1);
  if (kept.size() == 0) {
    block_rows(false);
    return finish("skipped", blocks.empty() ? p.metadata_path + " lists no blocks"
                                            : "none of its blocks runs (scratchpads, markdown and charts only)");
  }
  root["blocks"] = kept;
  for (const char* key : {"callbacks", "conditionals"}) root.remove(key);
  try {
    p.spec = ParsePipelineNodeUnvalidated(root, *text, p.metadata_path, limits);
    for (auto& spec_block : p.spec.blocks)
      for (const auto& b : blocks)
        if (b.name == spec_block.name && !b.sql_at.runs.empty()) spec_block.sql_at = b.sql_at;
    PipelineSpec checked = p.spec;  // (registering validates the spec it is given again)
    ValidatePipeline(checked);
    p.yaml = YAML::Dump(root);
    p.root = root;
    p.metadata_text = *text;
  } catch (const Error& e) {
    return refuse(e.message(), 0);
  }
  block_rows(false);
  p.importable = true;
  return finish("imported", pipeline_note);
}

// io_config.yaml, then each pipeline folder with its triggers.yaml.
MageProject ReadMageProject(const std::string& dir_in, const YamlLimits& limits, const EnvLookup& env) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  ProjectFolder folder(dir, limits.max_bytes ? limits.max_bytes : YamlLimits{}.max_bytes);
  MageProject project;
  project.name = folder.name();
  project.dir = folder.path();
  try {
    if (std::optional<std::string> io_config = folder.Read("io_config.yaml"))
      project.profiles = ReadMageProfiles(*io_config, "io_config.yaml", env, limits, &project.profile_rows);
  } catch (const Error& e) {
    project.profile_rows.push_back({"", "", "io_config", "", "refused", e.message()});
  }
  std::vector<std::string> links;
  std::vector<std::string> folders = folder.SubFolders("pipelines", &links);
  if (folders.empty() && links.empty() && !folder.Exists("pipelines"))
    throw Error(sqlstate::kIoError, "\"" + dir + "\" is not a Mage project: it has no pipelines folder", "",
                "A Mage project holds pipelines/<name>/metadata.yaml for each pipeline.");
  for (const auto& link : links)
    project.pipelines.push_back(MagePipeline{
        MageIdentifier(link), "pipelines/" + link + "/metadata.yaml", false, {}, {}, false,
        {MageIdentifier(link), "", "pipeline", "", "refused",
         "pipelines/" + link + " is a symbolic link, which the import does not follow"},
        {}, {}, {}, {}, {}, {}});
  InterruptPoller poller;
  size_t count = 0;
  for (const auto& name : folders) {
    poller.Tick();
    if (++count > kMaxMagePipelines) {
      project.pipelines.push_back(MagePipeline{
          MageIdentifier(name), "pipelines/" + name + "/metadata.yaml", false, {}, {}, false,
          {MageIdentifier(name), "", "pipeline", "", "refused",
           "the project has more than " + std::to_string(kMaxMagePipelines) + " pipeline folders; this one and the rest are not read"},
          {}, {}, {}, {}, {}, {}});
      break;
    }
    MagePipeline p = ConvertMagePipeline(folder, name, limits);
    const std::string triggers = "pipelines/" + name + "/triggers.yaml";
    try {
      if (std::optional<std::string> text = folder.Read(triggers))
        p.schedules = ReadMageTriggers(*text, triggers, p.name, limits, &p.trigger_rows);
    } catch (const Error& e) {
      p.trigger_rows.push_back({p.name, "", "trigger", "", "refused", e.message()});
    }
    project.pipelines.push_back(std::move(p));
  }
  std::sort(project.pipelines.begin(), project.pipelines.end(),
            [](const MagePipeline& a, const MagePipeline& b) { return a.metadata_path < b.metadata_path; });
  return project;
}

}  // namespace pgpipe::core
