// Graph algorithms and drawings over a PipelineSpec: see dag.hpp.
#include "core/dag.hpp"

#include <functional>
#include <map>

#include "core/error.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

std::map<std::string, size_t> IndexByName(const PipelineSpec& spec) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < spec.blocks.size(); ++i) index[spec.blocks[i].name] = i;
  return index;
}

const char* MermaidShape(BlockType type, bool open) {
  switch (type) {
    case BlockType::kDataLoader: return open ? "[/" : "/]";
    case BlockType::kDataExporter: return open ? "[\\" : "\\]";
    case BlockType::kConditional: return open ? "{" : "}";
    case BlockType::kSensor: return open ? "([" : "])";
    case BlockType::kCallback: return open ? "((" : "))";
    case BlockType::kTransformer: return open ? "[" : "]";
    case BlockType::kCustom: return open ? "[[" : "]]";
  }
  return open ? "[" : "]";
}

const char* DotShape(BlockType type) {
  switch (type) {
    case BlockType::kDataLoader: return "invhouse";
    case BlockType::kDataExporter: return "house";
    case BlockType::kConditional: return "diamond";
    case BlockType::kSensor: return "ellipse";
    case BlockType::kCallback: return "oval";
    case BlockType::kTransformer: return "box";
    case BlockType::kCustom: return "box3d";
  }
  return "box";
}

// A block's trigger rule under its name, when it is not the default.
std::string RuleNote(const BlockSpec& b, const char* line_break) {
  return b.trigger_rule == "all_success" ? "" : line_break + std::string("trigger: ") + b.trigger_rule;
}

}  // namespace

std::vector<std::string> FindCycle(const PipelineSpec& spec) {
  auto index = IndexByName(spec);
  std::vector<int> state(spec.blocks.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<size_t> stack;
  std::vector<std::string> cycle;
  std::function<bool(size_t)> visit = [&](size_t i) {
    state[i] = 1;
    stack.push_back(i);
    for (const auto& up : spec.blocks[i].upstream) {
      auto it = index.find(up);
      if (it == index.end()) continue;
      size_t j = it->second;
      if (state[j] == 1) {
        // Edges point downstream: report the cycle in data-flow order.
        size_t k = stack.size();
        while (stack[k - 1] != j) --k;
        cycle.push_back(spec.blocks[j].name);
        for (size_t m = stack.size(); m-- > k;) cycle.push_back(spec.blocks[stack[m]].name);
        cycle.push_back(spec.blocks[j].name);
        return true;
      }
      if (state[j] == 0 && visit(j)) return true;
    }
    stack.pop_back();
    state[i] = 2;
    return false;
  };
  for (size_t i = 0; i < spec.blocks.size(); ++i)
    if (state[i] == 0 && visit(i)) break;
  return cycle;
}

std::vector<std::string> TopologicalOrder(const PipelineSpec& spec) {
  std::vector<std::string> cycle = FindCycle(spec);
  if (!cycle.empty()) {
    std::string path;
    for (const auto& name : cycle) path += (path.empty() ? "" : " -> ") + name;
    throw Error(sqlstate::kInvalidObjectDefinition,
                "pipeline \"" + spec.name + "\" has a cycle: " + path,
                "A pipeline must be a directed acyclic graph.",
                "Remove one of these upstream links.");
  }
  auto index = IndexByName(spec);
  std::vector<bool> placed(spec.blocks.size(), false);
  std::vector<std::string> order;
  // Repeatedly take the first block (in file order) whose upstream blocks are all placed.
  while (order.size() < spec.blocks.size()) {
    for (size_t i = 0; i < spec.blocks.size(); ++i) {
      if (placed[i]) continue;
      bool ready = true;
      for (const auto& up : spec.blocks[i].upstream) {
        auto it = index.find(up);
        if (it != index.end() && !placed[it->second]) ready = false;
      }
      if (ready) {
        placed[i] = true;
        order.push_back(spec.blocks[i].name);
        break;
      }
    }
  }
  return order;
}

std::string RenderMermaid(const PipelineSpec& spec) {
  std::string out = "flowchart TD\n";
  for (const auto& b : spec.blocks)
    out += "    " + b.name + MermaidShape(b.type, true) + "\"" + b.name + "<br/><i>" +
           BlockTypeName(b.type) + "</i>" + RuleNote(b, "<br/>") + "\"" + MermaidShape(b.type, false) + "\n";
  for (const auto& name : TopologicalOrder(spec)) {
    const BlockSpec* b = spec.FindBlock(name);
    for (const auto& up : b->upstream) out += "    " + up + " --> " + b->name + "\n";
  }
  return out;
}

std::string RenderDot(const PipelineSpec& spec) {
  std::string out = "digraph \"" + spec.name + "\" {\n    rankdir=LR;\n";
  for (const auto& b : spec.blocks)
    out += "    \"" + b.name + "\" [shape=" + DotShape(b.type) + ", label=\"" + b.name + "\\n" +
           BlockTypeName(b.type) + RuleNote(b, "\\n") + "\"" +
           (b.trigger_rule != "all_success" ? ", style=dashed" : "") + "];\n";
  for (const auto& name : TopologicalOrder(spec)) {
    const BlockSpec* b = spec.FindBlock(name);
    for (const auto& up : b->upstream) out += "    \"" + up + "\" -> \"" + b->name + "\";\n";
  }
  return out + "}\n";
}

}  // namespace pgpipe::core
