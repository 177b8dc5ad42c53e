// Loading untrusted YAML with bounds. yaml-cpp shares the node of an anchor among its aliases,
// so parsing is linear, but every walk afterwards (conversion to JSON, block parsing) sees the
// expanded tree: a 488-byte file of nested aliases expands to 43 million nodes, and an alias
// inside its own anchor (`a: &a [*a]`) makes a cycle that a recursive walk never leaves.
// LoadBoundedYaml first replays the parser's events through a counter (linear in the text,
// whatever the aliases: an alias adds its anchor's recorded size, it is not walked), refuses
// what is too big, too deep, cyclic, or not one document, and only then builds the nodes.
#pragma once

#include <cstddef>
#include <string>

namespace YAML {
class Node;
}

namespace pgpipe::core {

// What one YAML text may cost. A zero means "derived from the text", as each field says.
struct YamlLimits {
  // The text itself, in bytes; 0 = no cap. src/pg passes pipeline.max_pipeline_size here.
  size_t max_bytes = 1024 * 1024;
  // Nodes of the expanded tree (an alias counts its anchor's nodes each time it is used).
  // 0 = max(100,000, one per byte of the text): a file without aliases holds at most one node
  // per two bytes, so it always fits, and aliases may still repeat parts of it freely.
  size_t max_nodes = 0;
  // Nesting of mappings and sequences in the expanded tree (the root mapping is level 1). Every
  // walk of a loaded tree recurses at most this deep. Pipeline files need about 6.
  size_t max_depth = 64;
  // Bytes of scalars (keys and values) in the expanded tree, and of any JSON made from it.
  // 0 = max(1 MiB, 10 x the text's size).
  size_t max_text_bytes = 0;
  // Blocks of one pipeline (checked by the pipeline parser, not here). Validation is linear,
  // so this only keeps one registration's catalog rows and run plan at a sane size.
  size_t max_blocks = 10000;
};

// The node cap that applies to a text of `text_bytes` bytes (max_nodes, or its derived value).
size_t EffectiveMaxNodes(const YamlLimits& limits, size_t text_bytes);

// The scalar-bytes and JSON cap that applies to a text of `text_bytes` bytes.
size_t EffectiveMaxTextBytes(const YamlLimits& limits, size_t text_bytes);

// Parses the single YAML document in `text` (an undefined node when there is none) after
// checking it against `limits`. `what` names the text in messages ("the pipeline file").
// Throws core::Error: 42601 for invalid YAML (a tab that indents a line named as such), a
// second document, a mapping key that is not a single value, an alias inside its own anchor;
// 54000 for a text, expansion or nesting over its limit. Every message ends with the line and
// column of the cause. Checks for interrupts every InterruptPoller::kEvery events.
YAML::Node LoadBoundedYaml(const std::string& text, const YamlLimits& limits,
                           const std::string& what);

}  // namespace pgpipe::core
