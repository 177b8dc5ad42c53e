// Pipeline validation: see validate.hpp.
#include "core/validate.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "core/dag.hpp"
#include "core/error.hpp"
#include "core/interrupts.hpp"
#include "core/names.hpp"
#include "core/template.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// " at line L, column C", or "" for an unknown position.
std::string At(const Position& p) { return p.line ? " at " + p.ToString() : ""; }

// Throws `message` with the position appended.
[[noreturn]] void Fail(const char* state, const std::string& message, const Position& where,
                       const std::string& hint = {}) {
  throw Error(state, message + At(where), "", hint);
}

// What validation looks up per block and per link, built once so every check is a hash
// lookup: the blocks by name, and each block's upstream names as a set.
struct Links {
  std::unordered_map<std::string, size_t> index;
  std::vector<std::unordered_set<std::string>> upstream;

// True when a block of the pipeline has this name.
  bool IsBlock(const std::string& name) const { return index.count(name) != 0; }
// True when `name` is an upstream link of block number `block`.
  bool IsUpstream(size_t block, const std::string& name) const {
    return upstream[block].count(name) != 0;
  }
};

// The keys each block type may use beyond name/type/description/upstream/tests/retry/timeout.
void CheckKeysForType(const BlockSpec& b) {
  auto refuse = [&](bool present, const char* key, const char* types) {
    if (present)
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" of block \"" + b.name + "\" is only for " + types +
               " blocks, and this is a " + BlockTypeName(b.type),
           b.where);
  };
  BlockType t = b.type;
  refuse(b.source && t != BlockType::kDataLoader, "source", "data_loader");
  refuse(b.target && t != BlockType::kDataExporter, "target", "data_exporter");
  refuse(!b.sensor_url.empty() && t != BlockType::kSensor, "url", "sensor");
  refuse(b.interval_s > 0 && t != BlockType::kSensor, "interval", "sensor");
  refuse((!b.on_success.empty() || !b.on_failure.empty()) && t != BlockType::kCallback,
         "on_success/on_failure", "callback");
  refuse(!b.materialize.empty() && t != BlockType::kTransformer && t != BlockType::kDataLoader,
         "materialize", "transformer and data_loader");
  refuse(!b.tests.empty() && (t == BlockType::kSensor || t == BlockType::kConditional ||
                              t == BlockType::kCallback),
         "tests", "data_loader, transformer and data_exporter");
}

// A Python block is its file: what SQL blocks say in keys, its code does.
void CheckPythonBlock(const BlockSpec& b) {
  auto refuse = [&](bool present, const char* key) {
    if (present)
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" of block \"" + b.name + "\" is only for SQL blocks; this block is Python",
           b.where, "A Python block's code loads, transforms or exports; drop the key or write the block in SQL.");
  };
  refuse(!b.sql.empty(), "sql");
  refuse(b.source.has_value(), "source");
  refuse(b.target.has_value(), "target");
  refuse(!b.materialize.empty(), "materialize");
  refuse(!b.sensor_url.empty(), "url");
  if (b.python.empty())
    Fail(sqlstate::kInvalidParameterValue, "Python block \"" + b.name + "\" needs python, the block file's code",
         b.where);
  if (b.type == BlockType::kCallback)
    Fail(sqlstate::kFeatureNotSupported, "callback block \"" + b.name + "\" is Python; callbacks run SQL only",
         b.where, "Write on_success / on_failure in SQL.");
}

// What each block type cannot do without (a loader its source or sql, and so on).
void CheckRequiredForType(const BlockSpec& b) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok)
      Fail(sqlstate::kInvalidParameterValue,
           std::string(BlockTypeName(b.type)) + " block \"" + b.name + "\" needs " + what,
           b.where);
  };
  if (b.language == "python") return CheckPythonBlock(b);
  if ((!b.python.empty() || !b.file.empty()) && b.compiled_from.empty())
    Fail(sqlstate::kInvalidParameterValue,
         "block \"" + b.name + "\" has python code but is not language: python", b.where,
         "Add language: python.");
  if ((!b.rename_columns_json.empty() || !b.log_queries.empty()) && b.type != BlockType::kDataLoader &&
      b.type != BlockType::kTransformer && b.type != BlockType::kDataExporter)
    Fail(sqlstate::kInvalidParameterValue,
         "rename_columns and log of block \"" + b.name + "\" are only for data_loader, transformer and data_exporter blocks",
         b.where);
  switch (b.type) {
    case BlockType::kDataLoader:
      need(b.source.has_value() != !b.sql.empty(), "either a source or sql (exactly one)");
      break;
    case BlockType::kTransformer:
      need(!b.sql.empty(), "sql");
      break;
    case BlockType::kDataExporter:
      need(b.target.has_value(), "a target");
      need(!b.sql.empty() || b.upstream.size() == 1,
           "exactly one upstream block, or sql saying what to publish");
      break;
    case BlockType::kConditional:
      need(!b.sql.empty(), "sql (a boolean condition)");
      break;
    case BlockType::kSensor:
      need(b.sql.empty() != b.sensor_url.empty(), "either sql or url to poll (exactly one)");
      break;
    case BlockType::kCallback:
      need(!b.on_success.empty() || !b.on_failure.empty(), "on_success, on_failure or both");
      break;
    case BlockType::kCustom:
      need(false, "language: python (custom blocks are Mage's Python blocks)");
      break;
  }
}

// Checks the {{ }} placeholders of one template: a bare name that is a block must be upstream.
// Errors point at the placeholder's line and column in the file.
void CheckTemplate(const Links& links, size_t block, const BlockSpec& b, const std::string& text,
                   const TextPosition& where, const std::string& what, bool self_allowed) {
  if (text.empty()) return;
  for (const auto& piece : ScanTemplate(text, what, &where)) {
    if (!piece.is_expression || !IsBareName(piece.text)) continue;
    Position at = where.start.line > 0 ? where.At(piece.offset) : b.where;
    if (piece.text == "self") {
      if (!self_allowed)
        Fail(sqlstate::kInvalidParameterValue,
             "{{ self }} in " + what + " is only meaningful in tests", at);
      continue;
    }
    if (piece.text == b.name)
      Fail(sqlstate::kInvalidParameterValue,
           what + " refers to its own block; use {{ self }} in tests", at);
    if (links.IsBlock(piece.text) && !links.IsUpstream(block, piece.text))
      Fail(sqlstate::kInvalidObjectDefinition,
           what + " reads block \"" + piece.text + "\", which is not upstream of \"" + b.name +
               "\"",
           at, "Add \"" + piece.text + "\" to the upstream list of \"" + b.name + "\".");
  }
}

// Where the k-th name of a link list was written, or the block when that is not known (links
// copied in by src/pg, say, come without positions).
Position LinkAt(const BlockSpec& b, const std::vector<std::string>& names,
                const std::vector<Position>& at, size_t k) {
  return at.size() == names.size() && at[k].line > 0 ? at[k] : b.where;
}

}  // namespace

// Names, then links (downstream_blocks folded into upstream), then order, then each block;
// linear in blocks, links and template placeholders.
void ValidatePipeline(PipelineSpec& spec) {
  const size_t n = spec.blocks.size();
  Links links;
  links.index.reserve(n);
  InterruptPoller poller;
  std::unordered_set<std::string> variables;
  for (const auto& v : spec.variables) variables.insert(v.name);
  for (size_t i = 0; i < n; ++i) {
    poller.Tick();
    const BlockSpec& b = spec.blocks[i];
    if (!links.index.emplace(b.name, i).second)
      Fail(sqlstate::kDuplicateObject,
           "duplicate block name \"" + b.name + "\" in pipeline \"" + spec.name + "\"", b.where,
           "Block names must be unique within a pipeline.");
    // {{ name }} stands for a block's output or a variable's value: it must not mean both.
    if (variables.count(b.name))
      Fail(sqlstate::kDuplicateObject,
           "block \"" + b.name + "\" has the name of a variable of pipeline \"" + spec.name + "\"",
           b.name_at.line > 0 ? b.name_at : b.where,
           "{{ " + b.name + " }} would mean both: rename the block or the variable.");
  }
  // The names, only for "did you mean" on an unknown link.
  auto names = [&] {
    std::vector<std::string> all;
    for (const auto& b : spec.blocks) all.push_back(b.name);
    return all;
  };
  // Links: every named block exists; downstream_blocks become upstream links.
  for (const auto& b : spec.blocks) {
    poller.Tick();
    for (size_t k = 0; k < b.upstream.size(); ++k)
      if (!links.IsBlock(b.upstream[k]))
        Fail(sqlstate::kUndefinedObject,
             "block \"" + b.name + "\" names unknown upstream block \"" + b.upstream[k] + "\"",
             LinkAt(b, b.upstream, b.upstream_at, k), DidYouMean(b.upstream[k], names()));
    for (size_t k = 0; k < b.downstream.size(); ++k)
      if (!links.IsBlock(b.downstream[k]))
        Fail(sqlstate::kUndefinedObject,
             "block \"" + b.name + "\" names unknown downstream block \"" + b.downstream[k] + "\"",
             LinkAt(b, b.downstream, b.downstream_at, k), DidYouMean(b.downstream[k], names()));
  }
  // Each link once, with where it was first written (upstream_at stays aligned with upstream).
  links.upstream.resize(n);
  for (size_t i = 0; i < n; ++i) {
    BlockSpec& b = spec.blocks[i];
    std::vector<std::string> unique;
    std::vector<Position> unique_at;
    for (size_t k = 0; k < b.upstream.size(); ++k) {
      if (!links.upstream[i].insert(b.upstream[k]).second) continue;
      unique_at.push_back(LinkAt(b, b.upstream, b.upstream_at, k));
      unique.push_back(std::move(b.upstream[k]));
    }
    b.upstream = std::move(unique);
    b.upstream_at = std::move(unique_at);
  }
  for (size_t i = 0; i < n; ++i) {
    const BlockSpec& b = spec.blocks[i];
    for (size_t k = 0; k < b.downstream.size(); ++k) {
      BlockSpec& other = spec.blocks[links.index.at(b.downstream[k])];
      if (!links.upstream[links.index.at(b.downstream[k])].insert(b.name).second) continue;
      other.upstream.push_back(b.name);
      other.upstream_at.push_back(LinkAt(b, b.downstream, b.downstream_at, k));
    }
  }
  for (auto& b : spec.blocks) {
    b.downstream.clear();
    b.downstream_at.clear();
  }
  for (const auto& b : spec.blocks)
    for (const auto& up : b.upstream) spec.blocks[links.index.at(up)].downstream.push_back(b.name);

  TopologicalOrder(spec);  // throws naming the cycle

  std::map<std::string, std::string> publishers;
  for (size_t i = 0; i < n; ++i) {
    poller.Tick();
    const BlockSpec& b = spec.blocks[i];
    if (b.reference_only) continue;
    CheckKeysForType(b);
    CheckRequiredForType(b);
    const std::string label = "block \"" + b.name + "\"";
    CheckTemplate(links, i, b, b.sql, b.sql_at, "sql of " + label, false);
    if (b.target) CheckTemplate(links, i, b, b.target->replace_where, TextPosition{}, "where of the target of " + label, false);
    if (b.source)
      CheckTemplate(links, i, b, b.source->url, b.source->url_at, "url of " + label, false);
    CheckTemplate(links, i, b, b.sensor_url, b.sensor_url_at, "url of " + label, false);
    CheckTemplate(links, i, b, b.on_success, b.on_success_at, "on_success of " + label, false);
    CheckTemplate(links, i, b, b.on_failure, b.on_failure_at, "on_failure of " + label, false);
    for (size_t t = 0; t < b.tests.size(); ++t)
      CheckTemplate(links, i, b, b.tests[t].sql, b.tests[t].sql_at,
                    "test " + std::to_string(t + 1) + " of " + label, true);
    if (b.trigger_rule != "all_success") {
      if (b.type == BlockType::kCallback)
        Fail(sqlstate::kInvalidParameterValue,
             "callback block \"" + b.name + "\" cannot have a trigger_rule: callbacks run once their upstream "
             "blocks end, however they ended (on_success and on_failure say what to do)", b.where);
      if (b.upstream.empty())
        Fail(sqlstate::kInvalidParameterValue,
             "trigger_rule " + b.trigger_rule + " of block \"" + b.name + "\" needs upstream blocks to judge",
             b.where);
    }
    if (b.target) {
      std::string key = b.target->schema + "." + b.target->table;
      auto [it, fresh] = publishers.emplace(key, b.name);
      if (!fresh)
        Fail(sqlstate::kDuplicateObject,
             "blocks \"" + it->second + "\" and \"" + b.name + "\" both publish to " + key,
             b.target->where);
    }
  }
}

}  // namespace pgpipe::core
