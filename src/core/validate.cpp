// Pipeline validation: see validate.hpp.
#include "core/validate.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "core/dag.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/template.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

std::string At(const Position& p) { return p.line ? " at " + p.ToString() : ""; }

[[noreturn]] void Fail(const char* state, const std::string& message, const Position& where,
                       const std::string& hint = {}) {
  throw Error(state, message + At(where), "", hint);
}

void AddUnique(std::vector<std::string>& list, const std::string& name) {
  if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
}

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

void CheckRequiredForType(const BlockSpec& b) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok)
      Fail(sqlstate::kInvalidParameterValue,
           std::string(BlockTypeName(b.type)) + " block \"" + b.name + "\" needs " + what,
           b.where);
  };
  if (b.language == "python") return CheckPythonBlock(b);
  if (!b.python.empty() || !b.file.empty())
    Fail(sqlstate::kInvalidParameterValue,
         "block \"" + b.name + "\" has python code but is not language: python", b.where,
         "Add language: python.");
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
void CheckTemplate(const PipelineSpec& spec, const BlockSpec& b, const std::string& text,
                   const std::string& what, bool self_allowed) {
  if (text.empty()) return;
  for (const auto& piece : ScanTemplate(text, what)) {
    if (!piece.is_expression || !IsBareName(piece.text)) continue;
    if (piece.text == "self") {
      if (!self_allowed)
        Fail(sqlstate::kInvalidParameterValue,
             "{{ self }} in " + what + " is only meaningful in tests", b.where);
      continue;
    }
    if (piece.text == b.name)
      Fail(sqlstate::kInvalidParameterValue,
           what + " refers to its own block; use {{ self }} in tests", b.where);
    if (spec.FindBlock(piece.text) &&
        std::find(b.upstream.begin(), b.upstream.end(), piece.text) == b.upstream.end())
      Fail(sqlstate::kInvalidObjectDefinition,
           what + " reads block \"" + piece.text + "\", which is not upstream of \"" + b.name +
               "\"",
           b.where, "Add \"" + piece.text + "\" to the upstream list of \"" + b.name + "\".");
  }
}

}  // namespace

void ValidatePipeline(PipelineSpec& spec) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& b : spec.blocks) {
    if (!seen.insert(b.name).second)
      Fail(sqlstate::kDuplicateObject,
           "duplicate block name \"" + b.name + "\" in pipeline \"" + spec.name + "\"", b.where,
           "Block names must be unique within a pipeline.");
    names.push_back(b.name);
  }
  // Links: every named block exists; downstream_blocks become upstream links.
  for (auto& b : spec.blocks) {
    for (const auto& up : b.upstream)
      if (!seen.count(up))
        Fail(sqlstate::kUndefinedObject,
             "block \"" + b.name + "\" names unknown upstream block \"" + up + "\"", b.where,
             DidYouMean(up, names));
    for (const auto& down : b.downstream)
      if (!seen.count(down))
        Fail(sqlstate::kUndefinedObject,
             "block \"" + b.name + "\" names unknown downstream block \"" + down + "\"", b.where,
             DidYouMean(down, names));
  }
  for (const auto& b : spec.blocks)
    for (const auto& down : b.downstream)
      for (auto& other : spec.blocks)
        if (other.name == down) AddUnique(other.upstream, b.name);
  for (auto& b : spec.blocks) b.downstream.clear();
  for (const auto& b : spec.blocks)
    for (const auto& up : b.upstream)
      for (auto& other : spec.blocks)
        if (other.name == up) AddUnique(other.downstream, b.name);

  TopologicalOrder(spec);  // throws naming the cycle

  std::map<std::string, std::string> publishers;
  for (const auto& b : spec.blocks) {
    if (b.reference_only) continue;
    CheckKeysForType(b);
    CheckRequiredForType(b);
    const std::string label = "block \"" + b.name + "\"";
    CheckTemplate(spec, b, b.sql, "sql of " + label, false);
    if (b.source) CheckTemplate(spec, b, b.source->url, "url of " + label, false);
    CheckTemplate(spec, b, b.sensor_url, "url of " + label, false);
    CheckTemplate(spec, b, b.on_success, "on_success of " + label, false);
    CheckTemplate(spec, b, b.on_failure, "on_failure of " + label, false);
    for (size_t i = 0; i < b.tests.size(); ++i)
      CheckTemplate(spec, b, b.tests[i].sql,
                    "test " + std::to_string(i + 1) + " of " + label, true);
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
