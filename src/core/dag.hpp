// The pipeline's block graph: dependency order, cycle detection, and drawings of it in Mermaid
// and Graphviz DOT.
#pragma once

#include <string>
#include <vector>

#include "core/spec.hpp"

namespace pgpipe::core {

// Block names in an order where every block comes after all its upstream blocks (stable: ties
// keep file order). Throws naming the blocks of a cycle. Upstream names must exist (validated).
std::vector<std::string> TopologicalOrder(const PipelineSpec& spec);

// The blocks of one cycle, in edge order with the first repeated at the end ("a -> b -> a"),
// or empty when the graph is acyclic.
std::vector<std::string> FindCycle(const PipelineSpec& spec);

// Mermaid flowchart text ("flowchart TD ...").
std::string RenderMermaid(const PipelineSpec& spec);

// Graphviz DOT text ("digraph ... { ... }").
std::string RenderDot(const PipelineSpec& spec);

}  // namespace pgpipe::core
