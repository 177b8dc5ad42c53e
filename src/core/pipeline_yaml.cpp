// YAML to PipelineSpec. The grammar is written as tables of allowed keys per mapping, so an
// unknown key is always reported with the nearest valid one; Mage keys that mean nothing here
// are accepted and noted, so Mage files load unchanged.
#include "core/pipeline_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "core/dtypes.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/spec_json.hpp"
#include "core/validate.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

Position At(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// True when `node` maps `key` to a scalar (safe on missing keys, unlike Node::IsScalar).
bool IsScalarAt(const YAML::Node& node, const char* key) {
  YAML::Node value = node[key];
  return value.IsDefined() && value.IsScalar();
}

std::string AtText(const YAML::Node& node) {
  Position p = At(node);
  return p.line ? " at " + p.ToString() : "";
}

[[noreturn]] void Fail(const std::string& state, const std::string& message,
                       const YAML::Node& node, const std::string& hint = {},
                       const std::string& detail = {}) {
  throw Error(state, message + AtText(node), detail, hint);
}

std::string Join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

// A YAML mapping read against a table of the keys it may hold.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string what, std::vector<std::string> allowed,
            std::vector<std::string> mage_ignored, std::vector<std::string>* notices)
      : node_(node), what_(std::move(what)) {
    if (!node.IsMap()) Fail(sqlstate::kSyntaxError, what_ + " must be a mapping", node);
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (!seen.insert(key).second)
        Fail(sqlstate::kSyntaxError, "duplicate key \"" + key + "\" in " + what_, it->first);
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      if (std::find(mage_ignored.begin(), mage_ignored.end(), key) != mage_ignored.end()) {
        if (notices && std::find(notices->begin(), notices->end(), key) == notices->end())
          notices->push_back(key);
        continue;
      }
      Fail(sqlstate::kInvalidParameterValue, "unknown key \"" + key + "\" in " + what_, it->first,
           DidYouMean(key, allowed), "Valid keys are: " + Join(allowed) + ".");
    }
  }

  bool Has(const char* key) const { return node_[key].IsDefined() && !node_[key].IsNull(); }
  YAML::Node Get(const char* key) const { return node_[key]; }
  const YAML::Node& node() const { return node_; }
  const std::string& what() const { return what_; }

  // The scalar under `key`, or `fallback` when absent.
  std::string Str(const char* key, const std::string& fallback = {}) const {
    if (!Has(key)) return fallback;
    YAML::Node value = node_[key];
    if (!value.IsScalar())
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must be a single value", value);
    return value.Scalar();
  }

  std::string Required(const char* key) const {
    if (!Has(key))
      Fail(sqlstate::kInvalidParameterValue,
           "missing required key \"" + std::string(key) + "\" in " + what_, node_);
    std::string value = Str(key);
    if (value.empty())
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must not be empty", node_[key]);
    return value;
  }

  bool Bool(const char* key, bool fallback) const {
    if (!Has(key)) return fallback;
    std::string v = Str(key);
    if (v == "true" || v == "True" || v == "TRUE" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "False" || v == "FALSE" || v == "no" || v == "off") return false;
    Fail(sqlstate::kInvalidParameterValue,
         "key \"" + std::string(key) + "\" in " + what_ + " must be true or false, not \"" + v +
             "\"",
         node_[key]);
  }

  int64_t Int(const char* key, int64_t fallback, int64_t min_value = 0) const {
    if (!Has(key)) return fallback;
    std::string v = Str(key);
    try {
      size_t used = 0;
      long long parsed = std::stoll(v, &used);
      if (used == v.size() && parsed >= min_value) return parsed;
    } catch (const std::exception&) {
    }
    Fail(sqlstate::kInvalidParameterValue,
         "key \"" + std::string(key) + "\" in " + what_ + " must be a whole number of at least " +
             std::to_string(min_value) + ", not \"" + v + "\"",
         node_[key]);
  }

  double Seconds(const char* key, double fallback) const {
    if (!Has(key)) return fallback;
    std::string v = Str(key);
    try {
      return ParseDurationSeconds(v);
    } catch (const std::exception&) {
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must be a duration such as 30s, " +
               "5m or 1h, not \"" + v + "\"",
           node_[key]);
    }
  }

  // One name or a list of names.
  std::vector<std::string> Names(const char* key) const {
    std::vector<std::string> out;
    if (!Has(key)) return out;
    YAML::Node value = node_[key];
    if (value.IsScalar()) {
      out.push_back(value.Scalar());
    } else if (value.IsSequence()) {
      for (const auto& item : value) {
        if (!item.IsScalar())
          Fail(sqlstate::kInvalidParameterValue,
               "key \"" + std::string(key) + "\" in " + what_ + " must list names", item);
        out.push_back(item.Scalar());
      }
    } else {
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must be a name or a list of names",
           value);
    }
    return out;
  }

  // One of `choices`.
  std::string Choice(const char* key, const std::string& fallback,
                     const std::vector<std::string>& choices) const {
    std::string v = Str(key, fallback);
    if (std::find(choices.begin(), choices.end(), v) == choices.end())
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must be one of " + Join(choices) +
               ", not \"" + v + "\"",
           node_[key], DidYouMean(v, choices));
    return v;
  }

 private:
  YAML::Node node_;
  std::string what_;
};

// Mage keys with no meaning here; accepted so Mage's metadata.yaml files load unchanged.
const std::vector<std::string> kMagePipelineKeys = {
    "type", "cache_block_output_in_memory", "callbacks", "conditionals", "created_at",
    "data_integration", "executor_config", "executor_count", "executor_type", "extensions",
    "notification_config", "remote_variables_dir", "retry_config", "run_pipeline_in_one_process",
    "spark_config", "updated_at", "variables_dir", "widgets", "concurrency_config", "settings"};
const std::vector<std::string> kMageBlockKeys = {
    "all_upstream_blocks_executed", "color", "configuration", "executor_config", "executor_type",
    "has_callback", "name", "status", "extension_uuids", "callbacks", "conditionals",
    "language", "content", "retry_config", "groups"};

// A loader's source; `block` is empty for pipeline.load_csv's options, which have no url key
// (the URL is an argument) and may say create.
SourceSpec ParseSource(const YAML::Node& node, const std::string& block) {
  std::vector<std::string> keys = {"format", "compression", "columns", "dtype", "parse_dates",
                                   "header", "delimiter", "quote", "escape", "null", "encoding",
                                   "connect_timeout", "timeout", "max_bytes"};
  keys.push_back(block.empty() ? "create" : "url");
  if (!block.empty()) keys.push_back("parallel");  // (parallel ingest: blocks only)
  MapReader r(node, block.empty() ? "load_csv options" : "source of block \"" + block + "\"",
              keys, {}, nullptr);
  SourceSpec s;
  s.where = At(node);
  if (block.empty())
    s.create = r.Bool("create", false);
  else
    s.url = r.Required("url");
  s.format = r.Choice("format", "csv", {"csv"});
  s.compression = r.Choice("compression", "auto", {"auto", "gzip", "none"});
  s.header = r.Bool("header", true);
  s.delimiter = r.Str("delimiter", ",");
  s.quote = r.Str("quote", "\"");
  s.escape = r.Str("escape", "");
  s.null_string = r.Str("null", "");
  s.encoding = r.Str("encoding", "UTF8");
  s.connect_timeout_s = r.Seconds("connect_timeout", 0);
  s.timeout_s = r.Seconds("timeout", 0);
  s.max_bytes = r.Int("max_bytes", 0);
  if (!block.empty()) s.parallel = static_cast<int>(r.Int("parallel", 0, 1));  // (parallel ingest)
  if (s.parallel > kMaxLoadWorkers)
    Fail(sqlstate::kInvalidParameterValue,
         "parallel of block \"" + block + "\" must be at most " + std::to_string(kMaxLoadWorkers),
         r.Get("parallel"));
  if (s.delimiter.size() != 1)
    Fail(sqlstate::kInvalidParameterValue,
         "delimiter of block \"" + block + "\" must be a single one-byte character",
         r.Get("delimiter"));
  if (s.quote.size() != 1)
    Fail(sqlstate::kInvalidParameterValue,
         "quote of block \"" + block + "\" must be a single one-byte character", r.Get("quote"));
  if (r.Has("columns") && r.Has("dtype"))
    Fail(sqlstate::kInvalidParameterValue,
         "the " + r.what() + " has both columns and dtype", r.Get("dtype"),
         "dtype is Mage's name for columns: keep one of them.");
  const char* columns_key = r.Has("columns") ? "columns" : (r.Has("dtype") ? "dtype" : nullptr);
  if (columns_key) {
    YAML::Node columns = r.Get(columns_key);
    if (!columns.IsMap())
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(columns_key) + "\" of block \"" + block +
               "\" must map column names to types",
           columns);
    for (auto it = columns.begin(); it != columns.end(); ++it) {
      ColumnSpec c;
      c.name = it->first.Scalar();
      c.where = At(it->second);
      if (!it->second.IsScalar())
        Fail(sqlstate::kInvalidParameterValue,
             "type of column \"" + c.name + "\" in block \"" + block + "\" must be a type name",
             it->second);
      c.written_type = it->second.Scalar();
      c.pg_type = MapColumnType(c.written_type);
      if (c.pg_type.empty())
        Fail(sqlstate::kUndefinedObject,
             "unknown column type \"" + c.written_type + "\" for column \"" + c.name +
                 "\" in block \"" + block + "\"",
             it->second, DidYouMean(c.written_type, KnownTypeNames()));
      for (const auto& other : s.columns)
        if (other.name == c.name)
          Fail(sqlstate::kDuplicateObject,
               "column \"" + c.name + "\" is listed twice in block \"" + block + "\"", it->first);
      s.columns.push_back(c);
    }
  }
  // Mage lists date columns in parse_dates only: they join the columns as timestamps.
  s.parse_dates = r.Names("parse_dates");
  for (const auto& date_column : s.parse_dates) {
    bool found = false;
    for (auto& c : s.columns) {
      if (c.name == date_column) {
        found = true;
        if (c.pg_type == "text") c.pg_type = "timestamp";
      }
    }
    if (!found && !s.columns.empty())
      s.columns.push_back({date_column, "datetime64[ns]", "timestamp", At(r.Get("parse_dates"))});
  }
  return s;
}

TargetSpec ParseTarget(const YAML::Node& node, const std::string& block) {
  MapReader r(node, "target of block \"" + block + "\"", {"schema", "table", "if_exists"}, {},
              nullptr);
  TargetSpec t;
  t.where = At(node);
  t.schema = r.Str("schema", "public");
  t.table = r.Required("table");
  t.if_exists = r.Choice("if_exists", "replace", {"replace", "append", "fail"});
  for (const auto& [kind, name] : {std::pair<const char*, std::string>{"schema", t.schema},
                                   std::pair<const char*, std::string>{"table", t.table}}) {
    std::string problem = IdentifierProblem(name);
    if (!problem.empty())
      Fail(sqlstate::kInvalidName,
           "invalid target " + std::string(kind) + " name \"" + name + "\" in block \"" + block +
               "\"",
           r.Get(kind), kIdentifierHint, problem);
  }
  return t;
}

TestSpec ParseTest(const YAML::Node& node, const std::string& block) {
  static const std::vector<std::string> kinds = {"assert", "not_null", "unique",
                                                 "accepted_values", "row_count", "expression"};
  MapReader r(node, "test of block \"" + block + "\"",
              {"assert", "not_null", "unique", "accepted_values", "row_count", "expression",
               "message", "name"},
              {}, nullptr);
  TestSpec t;
  t.where = At(node);
  t.message = r.Str("message");
  t.name = r.Str("name");
  std::vector<std::string> present;
  for (const auto& kind : kinds)
    if (r.Has(kind.c_str())) present.push_back(kind);
  if (present.size() != 1)
    Fail(sqlstate::kInvalidParameterValue,
         "a test of block \"" + block + "\" must have exactly one of " + Join(kinds) +
             (present.empty() ? "" : " (it has " + Join(present) + ")"),
         node);
  t.kind = present[0];
  if (t.kind == "assert" || t.kind == "expression") {
    t.sql = r.Required(t.kind.c_str());
  } else if (t.kind == "not_null" || t.kind == "unique") {
    t.columns = r.Names(t.kind.c_str());
    if (t.columns.empty())
      Fail(sqlstate::kInvalidParameterValue,
           t.kind + " test of block \"" + block + "\" must name at least one column", node);
  } else if (t.kind == "accepted_values") {
    MapReader a(r.Get("accepted_values"), "accepted_values test of block \"" + block + "\"",
                {"column", "values"}, {}, nullptr);
    t.columns = {a.Required("column")};
    t.values = a.Names("values");
    if (t.values.empty())
      Fail(sqlstate::kInvalidParameterValue,
           "accepted_values test of block \"" + block + "\" must list its values", a.node());
  } else {
    MapReader c(r.Get("row_count"), "row_count test of block \"" + block + "\"", {"min", "max"},
                {}, nullptr);
    if (c.Has("min")) t.min_rows = c.Int("min", 0);
    if (c.Has("max")) t.max_rows = c.Int("max", 0);
    if (!t.min_rows && !t.max_rows)
      Fail(sqlstate::kInvalidParameterValue,
           "row_count test of block \"" + block + "\" needs min, max or both", c.node());
    if (t.min_rows && t.max_rows && *t.min_rows > *t.max_rows)
      Fail(sqlstate::kInvalidParameterValue,
           "row_count test of block \"" + block + "\" has min greater than max", c.node());
  }
  return t;
}

RetrySpec ParseRetry(const YAML::Node& node, const std::string& block) {
  MapReader r(node, "retry of block \"" + block + "\"",
              {"retries", "delay", "max_delay", "exponential_backoff"}, {}, nullptr);
  RetrySpec s;
  s.retries = static_cast<int>(r.Int("retries", 0));
  s.delay_s = r.Seconds("delay", 0);
  s.max_delay_s = r.Seconds("max_delay", 0);
  s.exponential_backoff = r.Bool("exponential_backoff", false);
  return s;
}

BlockSpec ParseBlock(const YAML::Node& node, size_t index, std::vector<std::string>* notices) {
  if (!node.IsMap())
    Fail(sqlstate::kSyntaxError, "block " + std::to_string(index + 1) + " must be a mapping", node);
  std::string label = "block " + std::to_string(index + 1);
  std::string name;
  // Mage files carry both: uuid is the identifier there, name only a display name.
  if (IsScalarAt(node, "uuid"))
    name = node["uuid"].Scalar();
  else if (IsScalarAt(node, "name"))
    name = node["name"].Scalar();
  if (!name.empty()) label = "block \"" + name + "\"";
  static const std::vector<std::string> keys = {
      "name", "uuid", "type", "description", "upstream", "upstream_blocks", "downstream_blocks",
      "sql", "source", "target", "tests", "retry", "timeout", "materialize", "shared", "url",
      "interval", "on_success", "on_failure"};
  std::vector<std::string> mage_keys;
  for (const auto& k : kMageBlockKeys)
    if (k != "name" && k != "retry_config") mage_keys.push_back(k);
  // Mage's retry_config means what our retry means.
  std::vector<std::string> allowed = keys;
  allowed.push_back("retry_config");
  MapReader r(node, label, allowed, mage_keys, notices);
  BlockSpec b;
  b.where = At(node);
  if (name.empty())
    Fail(sqlstate::kInvalidParameterValue, "missing required key \"name\" in " + label, node);
  b.name = name;
  std::string problem = IdentifierProblem(b.name);
  if (!problem.empty())
    Fail(sqlstate::kInvalidName, "invalid block name \"" + b.name + "\"",
         r.Has("uuid") ? r.Get("uuid") : r.Get("name"), kIdentifierHint, problem);
  if (r.Str("language", "sql") != "sql")
    Fail(sqlstate::kInvalidParameterValue,
         label + " is written in " + r.Str("language") + "; pg_pipeline runs SQL blocks only",
         r.Get("language"), "Rewrite the block as SQL, or keep it in Mage.");
  b.shared = r.Bool("shared", false);
  if (!r.Has("type")) {
    if (b.shared && !r.Has("sql") && !r.Has("source") && !r.Has("target")) {
      b.reference_only = true;
      // A reference brings only its links; the body lives where the block is defined.
      for (const char* key : {"tests", "retry", "retry_config", "timeout", "materialize", "url",
                              "interval", "on_success", "on_failure", "description"})
        if (r.Has(key))
          Fail(sqlstate::kInvalidParameterValue,
               "key \"" + std::string(key) + "\" cannot change shared block \"" + name +
                   "\" from here",
               r.Get(key),
               "A reference to a shared block names only its links (upstream); change the block "
               "where it is defined, or give it a type to define a local block.");
    } else {
      Fail(sqlstate::kInvalidParameterValue, "missing required key \"type\" in " + label, node,
           "Use one of: " + Join(BlockTypeNames()) + ".");
    }
  } else {
    std::string type = r.Str("type");
    auto parsed = ParseBlockType(type);
    if (!parsed)
      Fail(sqlstate::kInvalidParameterValue,
           "unknown block type \"" + type + "\" in " + label, r.Get("type"),
           DidYouMean(type, BlockTypeNames()),
           "Block types are: " + Join(BlockTypeNames()) + ".");
    b.type = *parsed;
  }
  b.description = r.Str("description");
  b.upstream = r.Names("upstream");
  for (const auto& u : r.Names("upstream_blocks"))
    if (std::find(b.upstream.begin(), b.upstream.end(), u) == b.upstream.end())
      b.upstream.push_back(u);
  b.downstream = r.Names("downstream_blocks");
  b.sql = r.Str("sql");
  if (r.Has("source")) b.source = ParseSource(r.Get("source"), b.name);
  if (r.Has("target")) b.target = ParseTarget(r.Get("target"), b.name);
  if (r.Has("tests")) {
    YAML::Node tests = r.Get("tests");
    if (!tests.IsSequence())
      Fail(sqlstate::kInvalidParameterValue, "tests of " + label + " must be a list", tests);
    for (const auto& t : tests) b.tests.push_back(ParseTest(t, b.name));
  }
  if (r.Has("retry") && r.Has("retry_config"))
    Fail(sqlstate::kInvalidParameterValue, label + " has both retry and retry_config",
         r.Get("retry_config"), "Keep one of them.");
  if (r.Has("retry")) b.retry = ParseRetry(r.Get("retry"), b.name);
  if (r.Has("retry_config")) b.retry = ParseRetry(r.Get("retry_config"), b.name);
  b.timeout_s = r.Seconds("timeout", 0);
  b.materialize = r.Has("materialize") ? r.Choice("materialize", "view", {"view", "table"}) : "";
  b.sensor_url = r.Str("url");
  b.interval_s = r.Seconds("interval", 0);
  b.on_success = r.Str("on_success");
  b.on_failure = r.Str("on_failure");
  b.yaml = YAML::Dump(node);
  return b;
}

YAML::Node LoadYaml(const std::string& yaml) {
  try {
    return YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw Error(sqlstate::kSyntaxError,
                "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                    std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

PipelineSettings ParseSettings(const YAML::Node& node) {
  MapReader r(node, "settings", {"max_active_runs", "overlap", "timeout", "webhook_url"},
              {"triggers"}, nullptr);
  PipelineSettings s;
  s.max_active_runs = static_cast<int>(r.Int("max_active_runs", 1, 1));
  s.overlap = r.Choice("overlap", "queue", {"queue", "skip"});
  s.timeout_s = r.Seconds("timeout", 0);
  s.webhook_url = r.Str("webhook_url");
  return s;
}

}  // namespace

PipelineSpec ParsePipelineYamlUnvalidated(const std::string& yaml) {
  YAML::Node root = LoadYaml(yaml);
  if (!root.IsDefined() || root.IsNull())
    throw Error(sqlstate::kInvalidParameterValue, "the pipeline file is empty");
  PipelineSpec spec;
  std::vector<std::string> keys = {"name", "uuid", "description", "tags", "variables", "blocks",
                                   "settings"};
  std::vector<std::string> mage = kMagePipelineKeys;
  mage.erase(std::remove(mage.begin(), mage.end(), "settings"), mage.end());
  MapReader r(root, "the pipeline", keys, mage, &spec.notices);
  if (IsScalarAt(root, "uuid"))
    spec.name = root["uuid"].Scalar();
  else if (r.Has("name"))
    spec.name = r.Str("name");
  if (spec.name.empty())
    Fail(sqlstate::kInvalidParameterValue, "missing required key \"name\" in the pipeline", root,
         "Name the pipeline with name: (or Mage's uuid:).");
  std::string problem = IdentifierProblem(spec.name);
  if (!problem.empty())
    Fail(sqlstate::kInvalidName, "invalid pipeline name \"" + spec.name + "\"",
         IsScalarAt(root, "uuid") ? root["uuid"] : r.Get("name"), kIdentifierHint, problem);
  spec.description = r.Str("description");
  spec.tags = r.Names("tags");
  if (r.Has("variables")) {
    YAML::Node vars = r.Get("variables");
    if (!vars.IsMap())
      Fail(sqlstate::kInvalidParameterValue, "variables must map names to values", vars);
    for (auto it = vars.begin(); it != vars.end(); ++it)
      spec.variables.push_back({it->first.Scalar(), YamlToJson(it->second)});
  }
  if (r.Has("settings")) spec.settings = ParseSettings(r.Get("settings"));
  if (!r.Has("blocks"))
    Fail(sqlstate::kInvalidParameterValue, "missing required key \"blocks\" in the pipeline",
         root);
  YAML::Node blocks = r.Get("blocks");
  if (!blocks.IsSequence() || blocks.size() == 0)
    Fail(sqlstate::kInvalidParameterValue, "blocks must be a non-empty list", blocks);
  size_t index = 0;
  for (const auto& block : blocks) spec.blocks.push_back(ParseBlock(block, index++, &spec.notices));
  return spec;
}

SourceSpec ParseLoadOptionsJson(const std::string& json) {
  YAML::Node root = LoadYaml(json.empty() ? "{}" : json);
  if (root.IsNull()) root = YAML::Load("{}");
  return ParseSource(root, "");
}

BlockSpec ParseBlockYaml(const std::string& yaml) {
  YAML::Node root = LoadYaml(yaml);
  return ParseBlock(root, 0, nullptr);
}

std::string SharedBlockYaml(const BlockSpec& block) {
  YAML::Node node = YAML::Load(block.yaml);
  for (const char* key : {"upstream", "upstream_blocks", "downstream_blocks", "shared"})
    node.remove(key);
  return YAML::Dump(node);
}

PipelineSpec ParsePipelineYaml(const std::string& yaml) {
  PipelineSpec spec = ParsePipelineYamlUnvalidated(yaml);
  ValidatePipeline(spec);
  return spec;
}

}  // namespace pgpipe::core
