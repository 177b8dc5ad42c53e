// Bounded YAML loading: see yaml_load.hpp. The counter is a yaml-cpp EventHandler; it throws
// core::Error from inside the parser's callbacks, which yaml-cpp unwinds like its own errors.
#include "core/yaml_load.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/interrupts.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

constexpr size_t kMinMaxNodes = 100000;
constexpr size_t kMinMaxTextBytes = 1024 * 1024;

// " at line L, column C" for a parser mark.
std::string AtMark(const YAML::Mark& mark) {
  return " at line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1);
}

// Counts the expanded tree from the parser's events and throws at the first excess.
class BoundsCounter : public YAML::EventHandler {
 public:
  BoundsCounter(const std::string& what, size_t max_nodes, size_t max_depth, size_t max_bytes)
      : what_(what), max_nodes_(max_nodes), max_depth_(max_depth), max_bytes_(max_bytes) {}

  // A second document is refused where it starts (Load would silently ignore it).
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1)
      throw Error(sqlstate::kSyntaxError, what_ + " has a second YAML document" + AtMark(mark),
                  "", "A pipeline is one YAML document: remove the \"---\" line, or register "
                      "each pipeline on its own.");
  }
  // Nothing to count at a document's end.
  void OnDocumentEnd() override {}

  // Remembers an anchor's name for messages about its aliases.
  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_name_ = name; }

  // An empty node: one node, no text; never a mapping key.
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (EnterChild(mark) == Slot::kKey)
      throw Error(sqlstate::kSyntaxError, "a mapping key must not be empty" + AtMark(mark));
    AddLeaf(mark, anchor, 0);
  }

  // A scalar: one node and its bytes of text.
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    EnterChild(mark);
    AddLeaf(mark, anchor, value.size());
  }

  // An alias adds what its anchor recorded: its size is known, it is not walked again.
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Slot slot = EnterChild(mark);
    Tick();
    if (anchor >= anchors_.size() || !anchors_[anchor].done)
      throw Error(sqlstate::kSyntaxError,
                  "alias *" + NameOf(anchor) + " refers to a node that contains it" +
                      AtMark(mark),
                  "", "An alias may repeat a node written before it, never one it is part of.");
    const AnchorSize& size = anchors_[anchor];
    if (slot == Slot::kKey && size.height > 0) NotAScalarKey(mark, size.is_map);
    if (stack_.size() + size.height > max_depth_) TooDeep(mark);
    nodes_ += size.nodes;
    bytes_ += size.bytes;
    if (!stack_.empty()) stack_.back().height = std::max(stack_.back().height, size.height);
    CheckTotals(mark);
  }

  // A sequence opens a level.
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor, false);
  }
  // A sequence closes its level.
  void OnSequenceEnd() override { Close(); }

  // A mapping opens a level.
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor, true);
  }
  // A mapping closes its level.
  void OnMapEnd() override { Close(); }

 private:
  enum class Slot { kTop, kKey, kValue, kItem };

  // An open mapping or sequence, with the totals when it started.
  struct Frame {
    bool is_map;
    YAML::anchor_t anchor;
    uint64_t nodes_before;
    uint64_t bytes_before;
    size_t children = 0;
    size_t height = 0;  // levels of collections below it, itself excluded
  };

  // The expanded size of an anchored node, known once the node is closed.
  struct AnchorSize {
    bool done = false;
    bool is_map = false;
    uint64_t nodes = 0;
    uint64_t bytes = 0;
    size_t height = 0;  // collection levels, itself included (0 for a scalar)
    std::string name;
  };

  // Counts one more child of the innermost collection and says where it sits.
  Slot EnterChild(const YAML::Mark&) {
    if (stack_.empty()) return Slot::kTop;
    Frame& parent = stack_.back();
    size_t index = parent.children++;
    if (!parent.is_map) return Slot::kItem;
    return index % 2 == 0 ? Slot::kKey : Slot::kValue;
  }

  // A scalar or null: one node of `bytes` text bytes.
  void AddLeaf(const YAML::Mark& mark, YAML::anchor_t anchor, size_t bytes) {
    Tick();
    nodes_ += 1;
    bytes_ += bytes;
    if (anchor != 0) Record(anchor, AnchorSize{true, false, 1, bytes, 0, TakeName()});
    CheckTotals(mark);
  }

  // A mapping or sequence starts: one node, one level deeper.
  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    if (EnterChild(mark) == Slot::kKey) NotAScalarKey(mark, is_map);
    Tick();
    if (anchor != 0) Record(anchor, AnchorSize{false, is_map, 0, 0, 0, TakeName()});
    stack_.push_back(Frame{is_map, anchor, nodes_, bytes_});
    if (stack_.size() > max_depth_) TooDeep(mark);
    nodes_ += 1;
    CheckTotals(mark);
  }

  // A collection ends: its anchor, if any, learns its expanded size.
  void Close() {
    Frame frame = stack_.back();
    stack_.pop_back();
    size_t height = frame.height + 1;
    if (!stack_.empty()) stack_.back().height = std::max(stack_.back().height, height);
    if (frame.anchor != 0) {
      AnchorSize& size = anchors_[frame.anchor];
      size.done = true;
      size.nodes = nodes_ - frame.nodes_before;
      size.bytes = bytes_ - frame.bytes_before;
      size.height = height;
    }
  }

  // Stores what is known of anchor `id` (yaml-cpp numbers anchors 1, 2, ... per document).
  void Record(YAML::anchor_t id, AnchorSize size) {
    if (anchors_.size() <= id) anchors_.resize(id + 1);
    anchors_[id] = std::move(size);
  }

  // The name of the anchor being defined (set by OnAnchor just before its node).
  std::string TakeName() {
    std::string name;
    name.swap(pending_name_);
    return name;
  }

  // An anchor's name for messages.
  std::string NameOf(YAML::anchor_t id) const {
    return id < anchors_.size() && !anchors_[id].name.empty() ? anchors_[id].name : "?";
  }

  // Counts one event towards the next interrupt check.
  void Tick() { poller_.Tick(); }

  // Throws once the expanded tree is over a cap; `mark` is where it went over.
  void CheckTotals(const YAML::Mark& mark) const {
    if (nodes_ > max_nodes_)
      throw Error(sqlstate::kProgramLimitExceeded,
                  what_ + " expands to more than " + std::to_string(max_nodes_) +
                      " YAML nodes (anchors and aliases count each time they are used)" +
                      AtMark(mark),
                  "", "An alias may repeat a part of the file, not multiply it.");
    if (bytes_ > max_bytes_)
      throw Error(sqlstate::kProgramLimitExceeded,
                  what_ + " expands to more than " + std::to_string(max_bytes_) +
                      " bytes of text (anchors and aliases count each time they are used)" +
                      AtMark(mark),
                  "", "An alias may repeat a part of the file, not multiply it.");
  }

  // Throws the nesting limit, at the mark where it was passed.
  [[noreturn]] void TooDeep(const YAML::Mark& mark) const {
    throw Error(sqlstate::kProgramLimitExceeded,
                what_ + " nests deeper than " + std::to_string(max_depth_) + " levels" +
                    AtMark(mark));
  }

  // Throws for a mapping or sequence used as a mapping key.
  [[noreturn]] static void NotAScalarKey(const YAML::Mark& mark, bool is_map) {
    throw Error(sqlstate::kSyntaxError, std::string("a mapping key must be a single value, not a ") +
                                            (is_map ? "mapping" : "sequence") + AtMark(mark));
  }

  const std::string& what_;
  const uint64_t max_nodes_;
  const size_t max_depth_;
  const uint64_t max_bytes_;
  int documents_ = 0;
  uint64_t nodes_ = 0;
  uint64_t bytes_ = 0;
  std::vector<Frame> stack_;
  std::vector<AnchorSize> anchors_;
  std::string pending_name_;
  InterruptPoller poller_;
};

// Line `line` (0-based) of text, without its line break.
std::string LineOf(const std::string& text, int line) {
  size_t start = 0;
  for (int i = 0; i < line && start != std::string::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos || start > text.size()) return {};
  size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// yaml-cpp's error, unless the line it stopped on is indented with a tab: then that is named
// (yaml-cpp says "illegal block entry" or "illegal tab when looking for indentation").
Error SyntaxError(const std::string& text, const YAML::ParserException& e) {
  std::string line = LineOf(text, e.mark.line);
  size_t indent_end = line.find_first_not_of(" \t");
  size_t tab = line.find('\t');
  if (e.mark.line >= 0 && tab != std::string::npos && tab < indent_end)
    return Error(sqlstate::kSyntaxError,
                 "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                     std::to_string(tab + 1) + ": a tab indents this line",
                 "", "YAML indents with spaces only.");
  return Error(sqlstate::kSyntaxError, "invalid YAML at line " + std::to_string(e.mark.line + 1) +
                                           ", column " + std::to_string(e.mark.column + 1) +
                                           ": " + e.msg);
}

}  // namespace

// max_nodes, or one per byte of the text and at least kMinMaxNodes.
size_t EffectiveMaxNodes(const YamlLimits& limits, size_t text_bytes) {
  return limits.max_nodes != 0 ? limits.max_nodes : std::max(kMinMaxNodes, text_bytes);
}

// max_text_bytes, or ten times the text and at least kMinMaxTextBytes.
size_t EffectiveMaxTextBytes(const YamlLimits& limits, size_t text_bytes) {
  return limits.max_text_bytes != 0 ? limits.max_text_bytes
                                    : std::max(kMinMaxTextBytes, 10 * text_bytes);
}

// Size check, then the counting pass over the events, then the real load.
YAML::Node LoadBoundedYaml(const std::string& text, const YamlLimits& limits,
                           const std::string& what) {
  if (limits.max_bytes != 0 && text.size() > limits.max_bytes)
    throw Error(sqlstate::kProgramLimitExceeded,
                what + " is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                    std::to_string(limits.max_bytes) + " bytes",
                "", "Split the pipeline, or ask an administrator to raise "
                    "pipeline.max_pipeline_size.");
  CheckInterrupts();
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    BoundsCounter counter(what, EffectiveMaxNodes(limits, text.size()), limits.max_depth,
                          EffectiveMaxTextBytes(limits, text.size()));
    // The second call only looks for a second document: the counter throws on its start.
    while (parser.HandleNextDocument(counter)) {
    }
  } catch (const YAML::DeepRecursion& e) {
    throw Error(sqlstate::kProgramLimitExceeded,
                what + " nests deeper than " + std::to_string(limits.max_depth) + " levels" +
                    AtMark(e.mark));
  } catch (const YAML::ParserException& e) {
    throw SyntaxError(text, e);
  }
  CheckInterrupts();
  // Bounded now: the same text parses the same way (its errors were raised above).
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw SyntaxError(text, e);
  }
}

}  // namespace pgpipe::core
