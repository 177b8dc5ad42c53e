// The canonical JSON of a spec, read back: see spec_read.hpp. The JSON is our own output, so a
// field of the wrong kind means the catalog row was damaged: the error says which field.
#include "core/spec_read.hpp"

#include <algorithm>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/trigger_rule.hpp"
#include "core/spec_json.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

[[noreturn]] void Damaged(const std::string& what) {
  throw Error(sqlstate::kDataCorrupted, "the stored pipeline spec is damaged: " + what, "",
              "Register the pipeline again.");
}

// A JSON object's member, checked for kind when present.
class Obj {
 public:
  Obj(const YAML::Node& node, std::string where) : node_(node), where_(std::move(where)) {
    if (!node_.IsMap()) Damaged(where_ + " is not an object");
  }
  bool Has(const char* key) const { return node_[key].IsDefined() && !node_[key].IsNull(); }
  std::string Str(const char* key, const std::string& fallback = {}) const {
    if (!Has(key)) return fallback;
    if (!node_[key].IsScalar()) Damaged(where_ + "." + key + " is not a string");
    return node_[key].Scalar();
  }
  double Num(const char* key, double fallback = 0) const {
    std::string v = Str(key);
    if (v.empty()) return fallback;
    try {
      return std::stod(v);
    } catch (const std::exception&) {
      Damaged(where_ + "." + key + " is not a number");
    }
  }
  bool Bool(const char* key, bool fallback) const {
    std::string v = Str(key);
    if (v.empty()) return fallback;
    if (v != "true" && v != "false") Damaged(where_ + "." + key + " is not a boolean");
    return v == "true";
  }
  std::vector<std::string> List(const char* key) const {
    std::vector<std::string> out;
    if (!Has(key)) return out;
    if (!node_[key].IsSequence()) Damaged(where_ + "." + key + " is not a list");
    for (const auto& item : node_[key]) {
      if (!item.IsScalar()) Damaged(where_ + "." + key + " holds a non-string");
      out.push_back(item.Scalar());
    }
    return out;
  }
  YAML::Node Get(const char* key) const { return node_[key]; }
  Position Where() const {
    if (!Has("position")) return {};
    Obj p(node_["position"], where_ + ".position");
    return {static_cast<int>(p.Num("line")), static_cast<int>(p.Num("column")), p.Str("file")};
  }

 private:
  YAML::Node node_;
  std::string where_;
};

SourceSpec ReadSource(const Obj& o, const std::string& where) {
  SourceSpec s;
  s.url = o.Str("url");
  s.format = o.Str("format", "csv");
  s.compression = o.Str("compression", "auto");
  if (o.Has("columns")) {
    YAML::Node columns = o.Get("columns");
    if (!columns.IsSequence()) Damaged(where + ".columns is not a list");
    for (const auto& c : columns) {
      Obj col(c, where + ".columns[]");
      s.columns.push_back({col.Str("name"), col.Str("written_type"), col.Str("type"), {}});
    }
  }
  s.parse_dates = o.List("parse_dates");
  s.header = o.Bool("header", true);
  s.delimiter = o.Str("delimiter", ",");
  s.quote = o.Str("quote", "\"");
  s.escape = o.Str("escape");
  s.null_string = o.Str("null");
  s.encoding = o.Str("encoding", "UTF8");
  s.connect_timeout_s = o.Num("connect_timeout");
  s.timeout_s = o.Num("timeout");
  s.max_bytes = static_cast<int64_t>(o.Num("max_bytes"));
  s.max_decompressed_bytes = static_cast<int64_t>(o.Num("max_decompressed_bytes"));
  s.urls = o.List("urls");
  s.optional_columns = o.List("optional_columns");
  s.na_values = o.List("na_values");
  s.parallel = static_cast<int>(o.Num("parallel"));  // (parallel ingest; absent: 0, the GUC's)
  return s;
}

TestSpec ReadTest(const Obj& o) {
  TestSpec t;
  t.kind = o.Str("kind");
  t.sql = o.Str("sql");
  t.columns = o.List("columns");
  t.values = o.List("values");
  if (o.Has("min")) t.min_rows = static_cast<int64_t>(o.Num("min"));
  if (o.Has("max")) t.max_rows = static_cast<int64_t>(o.Num("max"));
  t.message = o.Str("message");
  t.name = o.Str("name");
  t.severity = o.Str("severity", "error");
  t.where = o.Where();
  return t;
}

BlockSpec ReadBlock(const YAML::Node& node, size_t index) {
  const std::string where = "blocks[" + std::to_string(index) + "]";
  Obj o(node, where);
  BlockSpec b;
  b.name = o.Str("name");
  if (b.name.empty()) Damaged(where + " has no name");
  auto type = ParseBlockType(o.Str("type"));
  if (!type) Damaged(where + ".type \"" + o.Str("type") + "\" is not a block type");
  b.type = *type;
  b.description = o.Str("description");
  b.upstream = o.List("upstream");
  b.downstream = o.List("downstream");
  b.sql = o.Str("sql");
  if (o.Has("source")) b.source = ReadSource(Obj(o.Get("source"), where + ".source"), where + ".source");
  if (o.Has("target")) {
    Obj t(o.Get("target"), where + ".target");
    TargetSpec target;
    target.schema = t.Str("schema", "public");
    target.table = t.Str("table");
    target.if_exists = t.Str("if_exists", "replace");
    target.unique_key = t.List("unique_key");
    target.on_conflict = t.Str("on_conflict");
    target.replace_where = t.Str("where");
    if (!target.unique_key.empty() && target.on_conflict != "update" && target.on_conflict != "nothing")
      Damaged(where + ".target.on_conflict \"" + target.on_conflict + "\" is not update or nothing");
    b.target = target;
  }
  if (o.Has("tests")) {
    YAML::Node tests = o.Get("tests");
    if (!tests.IsSequence()) Damaged(where + ".tests is not a list");
    for (const auto& t : tests) b.tests.push_back(ReadTest(Obj(t, where + ".tests[]")));
  }
  if (o.Has("retry")) {
    Obj r(o.Get("retry"), where + ".retry");
    b.retry = RetrySpec{static_cast<int>(r.Num("retries")), r.Num("delay"), r.Num("max_delay"),
                        r.Bool("exponential_backoff", false)};
  }
  b.timeout_s = o.Num("timeout");
  b.materialize = o.Str("materialize");
  b.shared = o.Bool("shared", false);
  b.pin = o.Str("pin");
  b.trigger_rule = o.Str("trigger_rule", "all_success");
  b.language = o.Str("language", "sql");
  b.compiled_from = o.Str("compiled_from");
  if (o.Has("rename_columns")) b.rename_columns_json = YamlToJson(o.Get("rename_columns"));
  b.log_queries = o.List("log");
  b.python = o.Str("python");
  b.file = o.Str("file");
  if (o.Has("configuration")) b.configuration_json = YamlToJson(o.Get("configuration"));
  const auto& rules = TriggerRuleNames();
  if (std::find(rules.begin(), rules.end(), b.trigger_rule) == rules.end())
    Damaged(where + ".trigger_rule \"" + b.trigger_rule + "\" is not a trigger rule");
  b.sensor_url = o.Str("url");
  b.interval_s = o.Num("interval");
  b.on_success = o.Str("on_success");
  b.on_failure = o.Str("on_failure");
  b.where = o.Where();
  return b;
}

}  // namespace

PipelineSpec SpecFromJson(const std::string& json) {
  YAML::Node root;
  try {
    root = YAML::Load(json);
  } catch (const YAML::Exception& e) {
    Damaged(std::string("not JSON (") + e.what() + ")");
  }
  Obj o(root, "the spec");
  PipelineSpec spec;
  spec.name = o.Str("name");
  if (spec.name.empty()) Damaged("it has no name");
  spec.description = o.Str("description");
  spec.tags = o.List("tags");
  if (o.Has("variables")) {
    YAML::Node vars = o.Get("variables");
    if (!vars.IsMap()) Damaged("variables is not an object");
    for (auto it = vars.begin(); it != vars.end(); ++it)
      spec.variables.push_back({it->first.Scalar(), YamlToJson(it->second)});
  }
  if (o.Has("settings")) {
    Obj s(o.Get("settings"), "settings");
    spec.settings.max_active_runs = static_cast<int>(s.Num("max_active_runs", 1));
    spec.settings.overlap = s.Str("overlap", "queue");
    spec.settings.timeout_s = s.Num("timeout");
    spec.settings.webhook_url = s.Str("webhook_url");
  }
  YAML::Node blocks = o.Get("blocks");
  if (!blocks.IsSequence() || blocks.size() == 0) Damaged("blocks is not a non-empty list");
  for (size_t i = 0; i < blocks.size(); ++i) spec.blocks.push_back(ReadBlock(blocks[i], i));
  return spec;
}

}  // namespace pgpipe::core
