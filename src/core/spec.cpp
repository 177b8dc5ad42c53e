// Small methods of the pipeline model: see spec.hpp.
#include "core/spec.hpp"

#include "core/pg_free.hpp"

namespace pgpipe::core {

// "line L, column C", and " of <file>" when the position is in another file.
std::string Position::ToString() const {
  return "line " + std::to_string(line) + ", column " + std::to_string(column) +
         (file.empty() ? "" : " of " + file);
}

// Finds the run holding `offset` and steps along its line.
Position TextPosition::At(size_t offset) const {
  if (runs.empty() || offset >= exact_until || offset < runs.front().offset) return start;
  size_t lo = 0, hi = runs.size();
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (runs[mid].offset <= offset) lo = mid; else hi = mid;
  }
  Position at = runs[lo].at;
  at.column += static_cast<int>(offset - runs[lo].offset);
  return at;
}

// The YAML spelling of a block type.
const char* BlockTypeName(BlockType type) {
  switch (type) {
    case BlockType::kDataLoader: return "data_loader";
    case BlockType::kTransformer: return "transformer";
    case BlockType::kDataExporter: return "data_exporter";
    case BlockType::kSensor: return "sensor";
    case BlockType::kConditional: return "conditional";
    case BlockType::kCallback: return "callback";
    case BlockType::kCustom: return "custom";
  }
  return "unknown";
}

// Every block type's YAML spelling, for hints.
const std::vector<std::string>& BlockTypeNames() {
  static const std::vector<std::string> names = {"data_loader", "transformer", "data_exporter",
                                                 "sensor", "conditional", "callback", "custom"};
  return names;
}

// The block type a YAML spelling names, if any.
std::optional<BlockType> ParseBlockType(const std::string& name) {
  static const BlockType types[] = {BlockType::kDataLoader, BlockType::kTransformer,
                                    BlockType::kDataExporter, BlockType::kSensor,
                                    BlockType::kConditional, BlockType::kCallback, BlockType::kCustom};
  for (BlockType t : types)
    if (name == BlockTypeName(t)) return t;
  return std::nullopt;
}

// A linear scan: fine for one lookup; code that looks up every block builds an index.
const BlockSpec* PipelineSpec::FindBlock(const std::string& block_name) const {
  for (const auto& b : blocks)
    if (b.name == block_name) return &b;
  return nullptr;
}

}  // namespace pgpipe::core
