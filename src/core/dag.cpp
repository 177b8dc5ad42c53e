// Graph algorithms and drawings over a PipelineSpec: see dag.hpp.
#include "core/dag.hpp"

#include <functional>
#include <queue>
#include <unordered_map>

#include "core/error.hpp"
#include "core/interrupts.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// Block index by name: one hash lookup per edge keeps every algorithm here linear.
std::unordered_map<std::string, size_t> IndexByName(const PipelineSpec& spec) {
  std::unordered_map<std::string, size_t> index;
  index.reserve(spec.blocks.size());
  for (size_t i = 0; i < spec.blocks.size(); ++i) index.emplace(spec.blocks[i].name, i);
  return index;
}

// For each block, the indexes of its upstream blocks that exist (repeats kept, as listed).
std::vector<std::vector<size_t>> UpstreamIndexes(const PipelineSpec& spec) {
  auto index = IndexByName(spec);
  std::vector<std::vector<size_t>> ups(spec.blocks.size());
  for (size_t i = 0; i < spec.blocks.size(); ++i) {
    for (const auto& up : spec.blocks[i].upstream) {
      auto it = index.find(up);
      if (it != index.end()) ups[i].push_back(it->second);
    }
  }
  return ups;
}

// Kahn's algorithm with a min-heap of file positions, so ties keep file order: the first
// block in the file whose upstream blocks are all placed goes next. O((n + e) log n). Returns
// fewer than n indexes when there is a cycle.
std::vector<size_t> OrderIndexes(const PipelineSpec& spec) {
  std::vector<std::vector<size_t>> ups = UpstreamIndexes(spec);
  const size_t n = spec.blocks.size();
  std::vector<std::vector<size_t>> downs(n);
  std::vector<size_t> waiting(n, 0);  // upstream links not yet placed
  for (size_t i = 0; i < n; ++i) {
    waiting[i] = ups[i].size();
    for (size_t up : ups[i]) downs[up].push_back(i);
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < n; ++i)
    if (waiting[i] == 0) ready.push(i);
  std::vector<size_t> order;
  order.reserve(n);
  InterruptPoller poller;
  while (!ready.empty()) {
    poller.Tick();
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t down : downs[i])
      if (--waiting[down] == 0) ready.push(down);
  }
  return order;
}

// Mermaid's brackets for a block type (opening or closing).
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

// Graphviz's node shape for a block type.
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

// Depth-first search along upstream links with an explicit stack (a recursive one would be
// as deep as the longest chain: 10^5 blocks would overflow the C++ stack). Visits blocks and
// links in the same order as the recursive search it replaces, so it names the same cycle.
std::vector<std::string> FindCycle(const PipelineSpec& spec) {
  std::vector<std::vector<size_t>> ups = UpstreamIndexes(spec);
  enum : char { kNew, kOnPath, kDone };
  std::vector<char> state(spec.blocks.size(), kNew);
  struct Step {
    size_t block;
    size_t next_link;  // the next of its upstream links to follow
  };
  std::vector<Step> path;
  InterruptPoller poller;
  for (size_t root = 0; root < spec.blocks.size(); ++root) {
    if (state[root] != kNew) continue;
    state[root] = kOnPath;
    path.push_back({root, 0});
    while (!path.empty()) {
      poller.Tick();
      Step& step = path.back();
      if (step.next_link == ups[step.block].size()) {
        state[step.block] = kDone;
        path.pop_back();
        continue;
      }
      size_t up = ups[step.block][step.next_link++];
      if (state[up] == kOnPath) {
        // Links point upstream: report the cycle in data-flow order, from `up` back to it.
        std::vector<std::string> cycle{spec.blocks[up].name};
        size_t k = path.size();
        while (path[k - 1].block != up) --k;
        for (size_t m = path.size(); m-- > k;) cycle.push_back(spec.blocks[path[m].block].name);
        cycle.push_back(spec.blocks[up].name);
        return cycle;
      }
      if (state[up] == kNew) {
        state[up] = kOnPath;
        path.push_back({up, 0});
      }
    }
  }
  return {};
}

namespace {

// Kahn's order; only when it cannot place every block is the cycle searched for and named.
std::vector<size_t> AcyclicOrder(const PipelineSpec& spec) {
  std::vector<size_t> order = OrderIndexes(spec);
  if (order.size() == spec.blocks.size()) return order;
  std::vector<std::string> cycle = FindCycle(spec);
  // A cycle through thousands of blocks is named by its ends, not in a message of megabytes.
  constexpr size_t kShown = 10;
  std::string path;
  for (size_t i = 0; i < cycle.size(); ++i) {
    if (cycle.size() > 2 * kShown + 1 && i == kShown) {
      path += " -> ... (" + std::to_string(cycle.size() - 2 * kShown) + " more)";
      i = cycle.size() - kShown - 1;
      continue;
    }
    path += (path.empty() ? "" : " -> ") + cycle[i];
  }
  throw Error(sqlstate::kInvalidObjectDefinition,
              "pipeline \"" + spec.name + "\" has a cycle: " + path,
              "A pipeline must be a directed acyclic graph.", "Remove one of these upstream links.");
}

}  // namespace

// The names in AcyclicOrder.
std::vector<std::string> TopologicalOrder(const PipelineSpec& spec) {
  std::vector<size_t> order = AcyclicOrder(spec);
  std::vector<std::string> names;
  names.reserve(order.size());
  for (size_t i : order) names.push_back(spec.blocks[i].name);
  return names;
}

// Mermaid: every block in file order, then every link in dependency order.
std::string RenderMermaid(const PipelineSpec& spec) {
  std::string out = "flowchart TD\n";
  for (const auto& b : spec.blocks)
    out += "    " + b.name + MermaidShape(b.type, true) + "\"" + b.name + "<br/><i>" +
           BlockTypeName(b.type) + "</i>" + RuleNote(b, "<br/>") + "\"" + MermaidShape(b.type, false) + "\n";
  for (size_t i : AcyclicOrder(spec)) {
    const BlockSpec& b = spec.blocks[i];
    for (const auto& up : b.upstream) out += "    " + up + " --> " + b.name + "\n";
  }
  return out;
}

// Graphviz DOT: every block in file order, then every link in dependency order.
std::string RenderDot(const PipelineSpec& spec) {
  std::string out = "digraph \"" + spec.name + "\" {\n    rankdir=LR;\n";
  for (const auto& b : spec.blocks)
    out += "    \"" + b.name + "\" [shape=" + DotShape(b.type) + ", label=\"" + b.name + "\\n" +
           BlockTypeName(b.type) + RuleNote(b, "\\n") + "\"" +
           (b.trigger_rule != "all_success" ? ", style=dashed" : "") + "];\n";
  for (size_t i : AcyclicOrder(spec)) {
    const BlockSpec& b = spec.blocks[i];
    for (const auto& up : b.upstream) out += "    \"" + up + "\" -> \"" + b.name + "\";\n";
  }
  return out + "}\n";
}

}  // namespace pgpipe::core
