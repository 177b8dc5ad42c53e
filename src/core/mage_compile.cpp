// Compiling a converted Mage pipeline's Python blocks: see mage_compile.hpp.
#include "core/mage_compile.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <vector>

#include "core/error.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/spec_json.hpp"
#include "core/validate.hpp"
#include "core/yaml_get.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// Appends `text` to a row's reason, as sentences separated by "; ".
void AddReason(ImportRow* row, const std::string& text) {
  row->reason += (row->reason.empty() ? "" : "; ") + text;
}

// The import row of block `name`, or nullptr.
ImportRow* RowOf(MagePipeline* p, const std::string& name) {
  for (auto& row : p->block_rows)
    if (row.block == name && row.kind != "chart") return &row;
  return nullptr;
}

// The compiler's notes, short: what each says the block relies on (its words before the first
// ": ", ", " or " ("; a translated test's message as test "..."), for the import row; the full
// notes are in python/README.md's terms.
std::string ShortNotes(const YAML::Node& notes) {
  std::string out;
  if (!notes.IsSequence()) return out;
  for (const auto& note : notes) {
    if (!note.IsScalar()) continue;
    std::string text = note.Scalar();
    size_t end = text.size();
    for (const char* stop : {": ", ", ", " ("}) {
      size_t at = text.find(stop, text[0] == '"' ? text.find('"', 1) : 0);
      if (at != std::string::npos) end = std::min(end, at);
    }
    std::string label = text.substr(0, std::min<size_t>(end, 80));
    if (!label.empty() && label[0] == '"') label = "test " + label;
    out += (out.empty() ? "" : ", ") + label;
  }
  return out;
}

// The native block for Mage block node `original` from the compiler's `block`: the Mage node's
// links and name kept, its Python keys replaced by the compiled ones; pandas_csv and urls go
// into source, where the loader reads them; compiled_from and python say where it came from.
YAML::Node NativeNode(const YAML::Node& original, const YAML::Node& block, const YAML::Node& log,
                      const std::string& path, const std::string& python) {
  YAML::Node n = YAML::Clone(original);
  for (const char* key : {"language", "file", "configuration", "python", "content"}) n.remove(key);
  n["language"] = "sql";
  YAML::Node source;
  for (auto it = block.begin(); it != block.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (key == "pandas_csv" || key == "urls") continue;
    if (key == "source") source = YAML::Clone(it->second);
    else n[key] = YAML::Clone(it->second);
  }
  YAML::Node pandas_csv = Get(block, "pandas_csv");
  if (source.IsMap() && pandas_csv.IsMap())
    for (const char* key : {"optional_columns", "na_values"})
      if (Get(pandas_csv, key).IsDefined()) source[key] = YAML::Clone(Get(pandas_csv, key));
  YAML::Node urls = Get(block, "urls");
  if (source.IsMap() && urls.IsSequence()) {
    source.remove("url");
    source["urls"] = YAML::Clone(urls);
  }
  if (source.IsDefined()) n["source"] = source;
  if (log.IsSequence() && log.size() > 0) n["log"] = YAML::Clone(log);
  n["compiled_from"] = path;
  n["python"] = python;
  return n;
}

}  // namespace

std::string CompileRequest(const BlockSpec& b, const PipelineSpec& spec, const std::string& io_config_json) {
  std::string upstream, variables;
  for (const auto& u : b.upstream) upstream += (upstream.empty() ? "" : ",") + JsonString(u);
  for (const auto& v : spec.variables) variables += (variables.empty() ? "" : ",") + JsonString(v.name);
  return "{\"kind\":" + JsonString(BlockTypeName(b.type)) + ",\"block\":" + JsonString(b.name) +
         ",\"path\":" + JsonString(b.file.empty() ? b.name + ".py" : b.file) + ",\"source\":" + JsonString(b.python) +
         ",\"upstream\":[" + upstream + "],\"variables\":[" + variables + "],\"io_config\":" +
         (io_config_json.empty() ? "{}" : io_config_json) + ",\"lowercase_columns\":true}";
}

// Block by block: a request, the compiler's answer, the native node or the reason; then the
// compiled tree parsed and validated as the converted one was.
void CompileMagePipeline(MagePipeline* p, const MageCompiler& compiler, const YamlLimits& limits) {
  if (!p->importable || !p->python || !p->root.IsMap()) return;
  YAML::Node blocks = Get(p->root, "blocks");
  if (!blocks.IsSequence()) return;
  YAML::Node compiled_blocks(YAML::NodeType::Sequence);
  std::vector<std::string> compiled;  // names of the blocks made native
  for (const YAML::Node& node : blocks) {
    std::string name = Str(node, "uuid").empty() ? Str(node, "name") : Str(node, "uuid");
    const BlockSpec* b = nullptr;
    for (const auto& sb : p->spec.blocks)
      if (sb.name == name) b = &sb;
    if (b == nullptr || b->language != "python") {
      compiled_blocks.push_back(node);
      continue;
    }
    ImportRow* row = RowOf(p, name);
    auto stays = [&](const std::string& why) {
      if (row) AddReason(row, "python: " + why);
      compiled_blocks.push_back(node);
    };
    if (b->type != BlockType::kDataLoader && b->type != BlockType::kTransformer && b->type != BlockType::kDataExporter) {
      stays(std::string(BlockTypeName(b->type)) + " blocks are not compiled");
      continue;
    }
    if (!compiler.compile) {
      stays(compiler.unavailable);
      continue;
    }
    std::string error;
    std::optional<std::string> answer = compiler.compile(CompileRequest(*b, p->spec, compiler.io_config_json), &error);
    if (!answer) {
      stays("the compiler could not run (" + error + ")");
      continue;
    }
    YAML::Node response;
    try {
      response = YAML::Load(*answer);
    } catch (const YAML::Exception& e) {
      stays("the compiler's answer is not JSON (" + std::string(e.what()) + ")");
      continue;
    }
    if (Str(response, "native") != "true" || !Get(response, "block").IsMap()) {
      std::string why = Str(response, "reason");
      stays(why.empty() ? "the compiler gave no reason" : why);
      continue;
    }
    std::string path = b->file.empty() ? b->name + ".py" : b->file;
    compiled_blocks.push_back(NativeNode(node, Get(response, "block"), Get(response, "log"), path, b->python));
    compiled.push_back(name);
    if (row) {
      std::string notes = ShortNotes(Get(response, "notes"));
      AddReason(row, "native: compiled from " + path + (notes.empty() ? "" : " (" + notes + ")"));
    }
  }
  if (compiled.empty()) return;
  YAML::Node root = YAML::Clone(p->root);
  root["blocks"] = compiled_blocks;
  try {
    PipelineSpec spec = ParsePipelineNodeUnvalidated(root, p->metadata_text, p->metadata_path, limits);
    for (auto& block : spec.blocks)
      for (const auto& before : p->spec.blocks)
        if (block.name == before.name && block.language == before.language && !before.sql_at.runs.empty())
          block.sql_at = before.sql_at;
    PipelineSpec checked = spec;
    ValidatePipeline(checked);
    p->spec = spec;
    p->yaml = YAML::Dump(root);
    p->root = root;
    p->python = false;
    for (const auto& block : spec.blocks) p->python = p->python || block.language == "python";
  } catch (const Error& e) {
    // (the compiler's blocks should always validate; if one does not, the pipeline stays Python)
    for (const auto& name : compiled)
      if (ImportRow* row = RowOf(p, name)) {
        size_t at = row->reason.rfind("native: ");
        if (at != std::string::npos) row->reason.erase(at == 0 ? 0 : at - 2);
        AddReason(row, "python: the compiled pipeline does not validate (" + std::string(e.message()) + "), so it stays Python");
      }
  }
}

}  // namespace pgpipe::core
