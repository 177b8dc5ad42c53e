// YAML to PipelineSpec. The grammar is written as tables of allowed keys per mapping, so an
// unknown key is always reported with the nearest valid one; Mage keys that mean nothing here
// are accepted and noted, so Mage files load unchanged.
#include "core/pipeline_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "core/csv_na.hpp"
#include "core/dtypes.hpp"
#include "core/error.hpp"
#include "core/interrupts.hpp"
#include "core/names.hpp"
#include "core/scalar_position.hpp"
#include "core/spec_json.hpp"
#include "core/url.hpp"
#include "core/validate.hpp"
#include "core/pg_free.hpp"
#include "core/trigger_rule.hpp"

namespace pgpipe::core {

namespace {

// The file the nodes being parsed were read from, when it is not the pipeline file itself (a
// Mage metadata.yaml being imported): set for the length of one parse by FileScope, so that
// every position recorded and every error raised names it. (One parse runs on one thread.)
thread_local const std::string* g_file_name = nullptr;

// Sets g_file_name for its lifetime.
class FileScope {
 public:
  explicit FileScope(const std::string& name) : saved_(g_file_name) { g_file_name = &name; }
  ~FileScope() { g_file_name = saved_; }
  FileScope(const FileScope&) = delete;
  FileScope& operator=(const FileScope&) = delete;

 private:
  const std::string* saved_;
};

// The node's 1-based position, or line 0 when it has none.
Position At(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1, g_file_name ? *g_file_name : std::string()};
}

// LocateScalar, its positions naming the file being parsed.
TextPosition Locate(const std::string& file, const YAML::Node& node) {
  TextPosition out = LocateScalar(file, node);
  if (g_file_name == nullptr || out.start.line == 0) return out;
  out.start.file = *g_file_name;
  for (auto& run : out.runs) run.at.file = *g_file_name;
  return out;
}

// True when `node` maps `key` to a scalar (safe on missing keys, unlike Node::IsScalar).
bool IsScalarAt(const YAML::Node& node, const char* key) {
  YAML::Node value = node[key];
  return value.IsDefined() && value.IsScalar();
}

// " at line L, column C" of the node, or "" when it has no position.
std::string AtText(const YAML::Node& node) {
  Position p = At(node);
  return p.line ? " at " + p.ToString() : "";
}

// Throws `message` with the node's position appended.
[[noreturn]] void Fail(const std::string& state, const std::string& message,
                       const YAML::Node& node, const std::string& hint = {},
                       const std::string& detail = {}) {
  throw Error(state, message + AtText(node), detail, hint);
}

// The items separated by `sep`.
std::string Join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

// Refuses a URL whose written scheme is not http or https; one that starts with a {{ template }}
// is checked when run, by HttpSource, once rendered.
void CheckUrlScheme(const std::string& url, const YAML::Node& node, const std::string& what) {
  if (url.empty()) return;
  std::optional<std::string> scheme = LiteralUrlScheme(url);
  if (!scheme || *scheme == "http" || *scheme == "https") return;
  if (scheme->empty())
    Fail(sqlstate::kInvalidParameterValue, what + " has no scheme", node,
         "Write the URL with http:// or https://.");
  Fail(sqlstate::kInvalidParameterValue, "unsupported URL scheme \"" + *scheme + "\" in " + what,
       node, "Only http and https URLs may be fetched.");
}

// A YAML mapping read against a table of the keys it may hold. Its entries are indexed once:
// yaml-cpp's node[key] scans the mapping decoding every key into a new string, and on a
// non-const node it adds the missing key (to a node that aliases may share).
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string what, const std::vector<std::string>& allowed,
            const std::vector<std::string>& mage_ignored, std::vector<std::string>* notices)
      : node_(node), what_(std::move(what)) {
    if (!node.IsMap()) Fail(sqlstate::kSyntaxError, what_ + " must be a mapping", node);
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (Find(key) != nullptr)
        Fail(sqlstate::kSyntaxError, "duplicate key \"" + key + "\" in " + what_, it->first);
      entries_.push_back({key, it->first, it->second});
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

  // Present and not null.
  bool Has(const char* key) const {
    const Entry* e = Find(key);
    return e != nullptr && !e->value.IsNull();
  }
  // The value under `key`, or an undefined node.
  YAML::Node Get(const char* key) const {
    const Entry* e = Find(key);
    return e != nullptr ? e->value : YAML::Node(YAML::NodeType::Undefined);
  }
  // The key node itself (for positions), or an undefined node.
  YAML::Node KeyNode(const char* key) const {
    const Entry* e = Find(key);
    return e != nullptr ? e->key : YAML::Node(YAML::NodeType::Undefined);
  }
  const YAML::Node& node() const { return node_; }
  const std::string& what() const { return what_; }

  // The scalar under `key`, or `fallback` when absent.
  std::string Str(const char* key, const std::string& fallback = {}) const {
    if (!Has(key)) return fallback;
    YAML::Node value = Get(key);
    if (!value.IsScalar())
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must be a single value", value);
    return value.Scalar();
  }

// The non-empty scalar under `key`; missing or empty is an error.
  std::string Required(const char* key) const {
    if (!Has(key))
      Fail(sqlstate::kInvalidParameterValue,
           "missing required key \"" + std::string(key) + "\" in " + what_, node_);
    std::string value = Str(key);
    if (value.empty())
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must not be empty", Get(key));
    return value;
  }

// A YAML boolean spelling under `key`, or `fallback` when absent.
  bool Bool(const char* key, bool fallback) const {
    if (!Has(key)) return fallback;
    std::string v = Str(key);
    if (v == "true" || v == "True" || v == "TRUE" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "False" || v == "FALSE" || v == "no" || v == "off") return false;
    Fail(sqlstate::kInvalidParameterValue,
         "key \"" + std::string(key) + "\" in " + what_ + " must be true or false, not \"" + v +
             "\"",
         Get(key));
  }

// A whole number of at least `min_value` under `key`, or `fallback` when absent.
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
         Get(key));
  }

// A duration (30s, 5m, 1h) under `key` in seconds, or `fallback` when absent.
  double Seconds(const char* key, double fallback) const {
    if (!Has(key)) return fallback;
    std::string v = Str(key);
    try {
      return ParseDurationSeconds(v);
    } catch (const std::exception&) {
      Fail(sqlstate::kInvalidParameterValue,
           "key \"" + std::string(key) + "\" in " + what_ + " must be a duration such as 30s, " +
               "5m or 1h, not \"" + v + "\"",
           Get(key));
    }
  }

  // One name or a list of names; `at`, when given, receives where each was written.
  std::vector<std::string> Names(const char* key, std::vector<Position>* at = nullptr) const {
    std::vector<std::string> out;
    if (!Has(key)) return out;
    YAML::Node value = Get(key);
    if (value.IsScalar()) {
      out.push_back(value.Scalar());
      if (at) at->push_back(At(value));
    } else if (value.IsSequence()) {
      for (const auto& item : value) {
        if (!item.IsScalar())
          Fail(sqlstate::kInvalidParameterValue,
               "key \"" + std::string(key) + "\" in " + what_ + " must list names", item);
        out.push_back(item.Scalar());
        if (at) at->push_back(At(item));
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
           Get(key), DidYouMean(v, choices));
    return v;
  }

 private:
  struct Entry {
    std::string name;
    YAML::Node key;
    YAML::Node value;
  };

  // The entry named `key` (a mapping holds a handful of keys: a scan is fastest).
  const Entry* Find(std::string_view key) const {
    for (const Entry& e : entries_)
      if (e.name == key) return &e;
    return nullptr;
  }

  YAML::Node node_;
  std::string what_;
  std::vector<Entry> entries_;
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

// optional_columns and na_values (read_csv's ways, from compiled Mage loaders): optional
// columns are declared ones, and NA strings are fields COPY can be told to read as NULL.
void CheckPandasCsv(const MapReader& r, const SourceSpec& s) {
  for (const auto& name : s.optional_columns) {
    bool declared = std::any_of(s.columns.begin(), s.columns.end(), [&](const ColumnSpec& c) { return c.name == name; });
    if (!declared)
      Fail(sqlstate::kInvalidParameterValue,
           "optional column \"" + name + "\" is not among the declared columns of the " + r.what(),
           r.Get("optional_columns"), "List it under columns (or dtype) with its type.");
  }
  if (!s.optional_columns.empty() && !s.header)
    Fail(sqlstate::kInvalidParameterValue, "optional_columns in the " + r.what() + " need header: true",
         r.Get("optional_columns"), "A column can be missing only from a header that names the others.");
  if (s.na_values.empty()) return;
  if (!s.null_string.empty())
    Fail(sqlstate::kInvalidParameterValue,
         "na_values and null \"" + s.null_string + "\" cannot be used together in the " + r.what(), r.Get("na_values"),
         "NA fields load as NULL through COPY's default null string (an empty field): drop null, or list it "
         "among na_values.");
  try {
    char quote = s.quote[0];
    CsvNaRewriter check(s.na_values, CsvDialect{s.delimiter[0], quote, s.escape.empty() ? quote : s.escape[0]},
                        s.header);
  } catch (const Error& e) {
    Fail(e.sqlstate(), "na_values in the " + r.what() + ": " + e.message(), r.Get("na_values"));
  }
}

// A loader's source; `block` is empty for pipeline.load_csv's options, which have no url key
// (the URL is an argument) and may say create. `file` is the text the node was loaded from.
SourceSpec ParseSource(const YAML::Node& node, const std::string& block, const std::string& file) {
  std::vector<std::string> keys = {"format", "compression", "columns", "dtype", "parse_dates",
                                   "header", "delimiter", "quote", "escape", "null", "encoding",
                                   "connect_timeout", "timeout", "max_bytes",
                                   "max_decompressed_bytes", "optional_columns", "na_values"};
  if (block.empty()) {
    keys.insert(keys.end(), {"create", "retries", "retry_delay"});
  } else {
    keys.insert(keys.end(), {"url", "urls", "parallel"});  // (parallel ingest: blocks only)
  }
  MapReader r(node, block.empty() ? "load_csv options" : "source of block \"" + block + "\"",
              keys, {}, nullptr);
  SourceSpec s;
  s.where = At(node);
  if (block.empty()) {
    s.create = r.Bool("create", false);
    s.retries = static_cast<int>(r.Int("retries", 0));
    s.retry_delay_s = r.Seconds("retry_delay", 0);
  } else if (r.Has("urls")) {
    // Several files into one table, in order; `url`, if given too, must be the first.
    s.urls = r.Names("urls");
    if (s.urls.empty())
      Fail(sqlstate::kInvalidParameterValue, "urls of block \"" + block + "\" must list at least one URL", r.Get("urls"));
    if (r.Has("url") && r.Str("url") != s.urls[0])
      Fail(sqlstate::kInvalidParameterValue, "source of block \"" + block + "\" has url and urls, and url is not the first of urls",
           r.Get("url"), "Give urls alone.");
    s.url = s.urls[0];
    YAML::Node list = r.Get("urls");
    for (size_t i = 0; i < s.urls.size(); ++i)
      CheckUrlScheme(s.urls[i], list.IsSequence() ? list[i] : list, "urls of block \"" + block + "\"");
  } else {
    s.url = r.Required("url");
  }
  s.url_at = Locate(file, r.Get("url"));
  if (s.urls.empty()) CheckUrlScheme(s.url, r.Get("url"), "url of block \"" + block + "\"");
  s.optional_columns = r.Names("optional_columns");
  s.na_values = r.Names("na_values");
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
  s.max_decompressed_bytes = r.Int("max_decompressed_bytes", 0);
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
  std::unordered_map<std::string, size_t> column_index;  // name -> position in s.columns
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
      if (!column_index.emplace(c.name, s.columns.size()).second)
        Fail(sqlstate::kDuplicateObject,
             "column \"" + c.name + "\" is listed twice in block \"" + block + "\"", it->first);
      s.columns.push_back(c);
    }
  }
  // Mage lists date columns in parse_dates only: they join the columns as timestamps.
  s.parse_dates = r.Names("parse_dates");
  for (const auto& date_column : s.parse_dates) {
    auto found = column_index.find(date_column);
    if (found != column_index.end()) {
      ColumnSpec& c = s.columns[found->second];
      if (c.pg_type == "text") c.pg_type = "timestamp";
    } else if (!s.columns.empty()) {
      column_index.emplace(date_column, s.columns.size());
      s.columns.push_back({date_column, "datetime64[ns]", "timestamp", At(r.Get("parse_dates"))});
    }
  }
  CheckPandasCsv(r, s);
  return s;
}

// An exporter's target table.
TargetSpec ParseTarget(const YAML::Node& node, const std::string& block) {
  MapReader r(node, "target of block \"" + block + "\"",
              {"schema", "table", "if_exists", "unique_key", "on_conflict", "unique_constraints",
               "unique_conflict_method", "where"},
              {}, nullptr);
  TargetSpec t;
  t.where = At(node);
  t.schema = r.Str("schema", "public");
  t.table = r.Required("table");
  t.if_exists = r.Choice("if_exists", "replace", {"replace", "append", "upsert", "replace_where", "fail"});
  t.replace_where = r.Str("where");
  if (t.if_exists == "replace_where" && t.replace_where.empty())
    Fail(sqlstate::kInvalidParameterValue,
         "if_exists: replace_where in block \"" + block + "\" needs where, the condition of the rows it replaces",
         r.Get("if_exists"), "Add where: \"month = '{{ to_char(interval_start, 'YYYY-MM') }}'\" (a column the output sets).");
  if (t.if_exists != "replace_where" && !t.replace_where.empty())
    Fail(sqlstate::kInvalidParameterValue,
         "where in the target of block \"" + block + "\" is only for if_exists: replace_where", r.Get("where"));
  if (t.if_exists == "replace_where" && (r.Has("unique_key") || r.Has("unique_constraints")))
    Fail(sqlstate::kInvalidParameterValue,
         "the target of block \"" + block + "\" has both replace_where and a unique key: choose one",
         r.Get("if_exists"));
  for (const auto& [kind, name] : {std::pair<const char*, std::string>{"schema", t.schema},
                                   std::pair<const char*, std::string>{"table", t.table}}) {
    std::string problem = IdentifierProblem(name);
    if (!problem.empty())
      Fail(sqlstate::kInvalidName,
           "invalid target " + std::string(kind) + " name \"" + name + "\" in block \"" + block +
               "\"",
           r.Get(kind), kIdentifierHint, problem);
  }
  std::string reserved = ReservedSchemaProblem(t.schema);
  if (!reserved.empty())
    Fail(sqlstate::kReservedName,
         "target schema \"" + t.schema + "\" of block \"" + block + "\" is reserved", r.Get("schema"),
         "Publish to a schema of your own.", reserved);
  // The key: ours (unique_key, on_conflict) or Mage's (unique_constraints,
  // unique_conflict_method: UPDATE | IGNORE), one spelling at a time.
  for (const auto& [ours, mage] : {std::pair<const char*, const char*>{"unique_key", "unique_constraints"},
                                   std::pair<const char*, const char*>{"on_conflict", "unique_conflict_method"}})
    if (r.Has(ours) && r.Has(mage))
      Fail(sqlstate::kInvalidParameterValue,
           "target of block \"" + block + "\" has both " + ours + " and " + mage + " (Mage's name for it)",
           r.Get(mage), "Keep one of them.");
  const char* key_name = r.Has("unique_constraints") ? "unique_constraints" : "unique_key";
  t.unique_key = r.Names(key_name);
  for (size_t i = 0; i < t.unique_key.size(); ++i)
    if (t.unique_key[i].empty() || std::find(t.unique_key.begin(), t.unique_key.begin() + i, t.unique_key[i]) !=
                                       t.unique_key.begin() + i)
      Fail(sqlstate::kInvalidParameterValue,
           std::string(key_name) + " of block \"" + block + "\" names " +
               (t.unique_key[i].empty() ? "an empty column" : "column \"" + t.unique_key[i] + "\" twice"),
           r.Get(key_name));
  if (r.Has("unique_conflict_method")) {
    std::string method = r.Str("unique_conflict_method");
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::toupper(c); });
    if (method != "UPDATE" && method != "IGNORE")
      Fail(sqlstate::kInvalidParameterValue,
           "key \"unique_conflict_method\" in target of block \"" + block + "\" must be UPDATE or IGNORE, not \"" +
               r.Str("unique_conflict_method") + "\"",
           r.Get("unique_conflict_method"));
    t.on_conflict = method == "UPDATE" ? "update" : "nothing";
  } else if (r.Has("on_conflict")) {
    t.on_conflict = r.Choice("on_conflict", "update", {"update", "nothing"});
  }
  if (t.unique_key.empty()) {
    if (t.if_exists == "upsert")
      Fail(sqlstate::kInvalidParameterValue,
           "if_exists: upsert in block \"" + block + "\" needs unique_key, the columns that identify a row",
           r.Get("if_exists"), "Add unique_key: [id] (the target gets a unique index on them when it is created).");
    if (!t.on_conflict.empty())
      Fail(sqlstate::kInvalidParameterValue,
           "target of block \"" + block + "\" says what to do on a conflict but names no unique_key",
           r.Has("on_conflict") ? r.Get("on_conflict") : r.Get("unique_conflict_method"),
           "Add unique_key: the columns that identify a row.");
  } else {
    if (t.on_conflict.empty()) t.on_conflict = "update";
    // (Mage's append with unique constraints is an upsert)
    if (t.if_exists == "append") t.if_exists = "upsert";
  }
  return t;
}

// One test of a block; `file` is the text the node was loaded from.
TestSpec ParseTest(const YAML::Node& node, const std::string& block, const std::string& file) {
  static const std::vector<std::string> kinds = {"assert", "not_null", "unique",
                                                 "accepted_values", "row_count", "expression"};
  MapReader r(node, "test of block \"" + block + "\"",
              {"assert", "not_null", "unique", "accepted_values", "row_count", "expression",
               "message", "name", "severity"},
              {}, nullptr);
  TestSpec t;
  t.where = At(node);
  t.message = r.Str("message");
  t.name = r.Str("name");
  t.severity = r.Choice("severity", "error", {"error", "warn"});
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
    t.sql_at = Locate(file, r.Get(t.kind.c_str()));
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

// A block's retry policy (retry, or Mage's retry_config).
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

// One block; `file` is the text the node was loaded from (for positions inside its SQL).
BlockSpec ParseBlock(const YAML::Node& node, size_t index, const std::string& file,
                     std::vector<std::string>* notices) {
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
      "interval", "on_success", "on_failure", "trigger_rule", "language", "python", "file",
      "compiled_from", "rename_columns", "log"};
  std::vector<std::string> mage_keys;
  for (const auto& k : kMageBlockKeys)
    if (k != "name" && k != "retry_config") mage_keys.push_back(k);
  // Mage's retry_config means what our retry means.
  std::vector<std::string> allowed = keys;
  allowed.push_back("retry_config");
  const size_t notices_before = notices ? notices->size() : 0;
  MapReader r(node, label, allowed, mage_keys, notices);
  BlockSpec b;
  b.where = At(node);
  if (name.empty())
    Fail(sqlstate::kInvalidParameterValue, "missing required key \"name\" in " + label, node);
  b.name = name;
  b.name_at = At(r.Has("uuid") ? r.Get("uuid") : r.Get("name"));
  std::string problem = IdentifierProblem(b.name);
  if (!problem.empty())
    Fail(sqlstate::kInvalidName, "invalid block name \"" + b.name + "\"",
         r.Has("uuid") ? r.Get("uuid") : r.Get("name"), kIdentifierHint, problem);
  const auto& reserved = ReservedTemplateNames();
  if (std::find(reserved.begin(), reserved.end(), b.name) != reserved.end())
    Fail(sqlstate::kReservedName, "block name \"" + b.name + "\" is reserved in templates",
         r.Has("uuid") ? r.Get("uuid") : r.Get("name"),
         "{{ self }} is a block's own output in its tests, and {{ run_id }}, {{ pipeline }}, "
         "{{ execution_date }}, {{ interval_start }} and {{ interval_end }} are the run's: give "
         "the block another name.");
  b.language = r.Str("language", "sql");
  if (b.language != "sql" && b.language != "python")
    Fail(sqlstate::kInvalidParameterValue,
         label + " is written in " + b.language + "; pg_pipeline runs SQL and Python blocks",
         r.Get("language"), "Rewrite the block in SQL or Python, or keep it in Mage.");
  b.shared = r.Bool("shared", false);
  if (!r.Has("type")) {
    if (b.shared && !r.Has("sql") && !r.Has("source") && !r.Has("target")) {
      b.reference_only = true;
      // A reference brings only its links; the body lives where the block is defined.
      for (const char* key : {"tests", "retry", "retry_config", "timeout", "materialize", "url",
                              "interval", "on_success", "on_failure", "description", "trigger_rule"})
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
  if (r.Has("upstream") && r.Has("upstream_blocks"))
    Fail(sqlstate::kInvalidParameterValue, label + " has both upstream and upstream_blocks",
         r.Get("upstream_blocks"), "upstream_blocks is Mage's name for upstream: keep one of them.");
  b.upstream = r.Names(r.Has("upstream") ? "upstream" : "upstream_blocks", &b.upstream_at);
  b.downstream = r.Names("downstream_blocks", &b.downstream_at);
  b.sql = r.Str("sql");
  b.sql_at = Locate(file, r.Get("sql"));
  if (r.Has("source")) b.source = ParseSource(r.Get("source"), b.name, file);
  if (r.Has("target")) b.target = ParseTarget(r.Get("target"), b.name);
  if (r.Has("tests")) {
    YAML::Node tests = r.Get("tests");
    if (!tests.IsSequence())
      Fail(sqlstate::kInvalidParameterValue, "tests of " + label + " must be a list", tests);
    for (const auto& t : tests) b.tests.push_back(ParseTest(t, b.name, file));
  }
  if (r.Has("retry") && r.Has("retry_config"))
    Fail(sqlstate::kInvalidParameterValue, label + " has both retry and retry_config",
         r.Get("retry_config"), "Keep one of them.");
  if (r.Has("retry")) b.retry = ParseRetry(r.Get("retry"), b.name);
  if (r.Has("retry_config")) b.retry = ParseRetry(r.Get("retry_config"), b.name);
  b.timeout_s = r.Seconds("timeout", 0);
  b.materialize = r.Has("materialize") ? r.Choice("materialize", "view", {"view", "table"}) : "";
  b.sensor_url = r.Str("url");
  b.sensor_url_at = Locate(file, r.Get("url"));
  CheckUrlScheme(b.sensor_url, r.Get("url"), "url of " + label);
  b.interval_s = r.Seconds("interval", 0);
  b.on_success = r.Str("on_success");
  b.on_success_at = Locate(file, r.Get("on_success"));
  b.on_failure = r.Str("on_failure");
  b.on_failure_at = Locate(file, r.Get("on_failure"));
  b.trigger_rule = r.Choice("trigger_rule", "all_success", TriggerRuleNames());
  b.python = r.Str("python");
  b.file = r.Str("file");
  // Mage's block configuration means something only to Python blocks (ignored on SQL ones).
  if (b.language == "python" && r.Has("configuration")) {
    b.configuration_json = YamlToJson(r.Get("configuration"));
    // (so it is not named as ignored, unless an earlier block had it ignored)
    if (notices)
      notices->erase(std::remove(notices->begin() + static_cast<std::ptrdiff_t>(notices_before), notices->end(),
                                 std::string("configuration")),
                     notices->end());
  }
  b.compiled_from = r.Str("compiled_from");
  if (r.Has("rename_columns")) {
    YAML::Node steps = r.Get("rename_columns");
    if (!steps.IsSequence())
      Fail(sqlstate::kInvalidParameterValue, "rename_columns of " + label + " must be a list of steps", steps);
    for (const auto& step : steps) {
      MapReader s(step, "rename_columns step of " + label, {"map", "expression"}, {}, nullptr);
      if (s.Has("map") == s.Has("expression"))
        Fail(sqlstate::kInvalidParameterValue,
             "a rename_columns step of " + label + " must have exactly one of map (old: new names) or expression "
             "(SQL over name)",
             step);
      if (s.Has("map") && !s.Get("map").IsMap())
        Fail(sqlstate::kInvalidParameterValue, "map of a rename_columns step of " + label + " must map old names to new",
             s.Get("map"));
      if (s.Has("expression")) s.Required("expression");
    }
    b.rename_columns_json = YamlToJson(steps);
  }
  b.log_queries = r.Names("log");
  b.yaml = YAML::Dump(node);
  return b;
}

// The pipeline's settings; `file` is the text the node was loaded from.
PipelineSettings ParseSettings(const YAML::Node& node, const std::string& file) {
  MapReader r(node, "settings", {"max_active_runs", "overlap", "timeout", "webhook_url"},
              {"triggers"}, nullptr);
  PipelineSettings s;
  s.max_active_runs = static_cast<int>(r.Int("max_active_runs", 1, 1));
  s.overlap = r.Choice("overlap", "queue", {"queue", "skip"});
  s.timeout_s = r.Seconds("timeout", 0);
  s.webhook_url = r.Str("webhook_url");
  s.webhook_url_at = Locate(file, r.Get("webhook_url"));
  CheckUrlScheme(s.webhook_url, r.Get("webhook_url"), "webhook_url of the pipeline");
  return s;
}

}  // namespace

namespace {

// The pipeline's keys, variables, settings and each block, from the tree loaded from `yaml`.
PipelineSpec ParseRoot(const YAML::Node& root, const std::string& yaml, const YamlLimits& limits) {
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
    JsonLimits json_limits{EffectiveMaxTextBytes(limits, yaml.size()), limits.max_depth};
    for (auto it = vars.begin(); it != vars.end(); ++it)
      spec.variables.push_back({it->first.Scalar(), YamlToJson(it->second, json_limits)});
  }
  if (r.Has("settings")) spec.settings = ParseSettings(r.Get("settings"), yaml);
  if (!r.Has("blocks"))
    Fail(sqlstate::kInvalidParameterValue, "missing required key \"blocks\" in the pipeline",
         root);
  YAML::Node blocks = r.Get("blocks");
  if (!blocks.IsSequence() || blocks.size() == 0)
    Fail(sqlstate::kInvalidParameterValue, "blocks must be a non-empty list", blocks);
  if (limits.max_blocks != 0 && blocks.size() > limits.max_blocks)
    Fail(sqlstate::kProgramLimitExceeded,
         "the pipeline has " + std::to_string(blocks.size()) + " blocks, more than the limit of " +
             std::to_string(limits.max_blocks),
         blocks[limits.max_blocks], "Split it into pipelines that trigger each other.");
  spec.blocks.reserve(blocks.size());
  size_t index = 0;
  InterruptPoller poller;
  for (const auto& block : blocks) {
    poller.Tick();
    spec.blocks.push_back(ParseBlock(block, index++, yaml, &spec.notices));
  }
  return spec;
}

}  // namespace

// Bounded load, then the tree.
PipelineSpec ParsePipelineYamlUnvalidated(const std::string& yaml, const YamlLimits& limits) {
  return ParseRoot(LoadBoundedYaml(yaml, limits, "the pipeline file"), yaml, limits);
}

// The tree, its positions naming `file_name`.
PipelineSpec ParsePipelineNodeUnvalidated(const YAML::Node& root, const std::string& text,
                                          const std::string& file_name, const YamlLimits& limits) {
  FileScope scope(file_name);
  return ParseRoot(root, text, limits);
}

// The options object as a source without url ("{}" when empty).
SourceSpec ParseLoadOptionsJson(const std::string& json, const YamlLimits& limits) {
  const std::string text = json.empty() ? "{}" : json;
  YAML::Node root = LoadBoundedYaml(text, limits, "the load_csv options");
  if (root.IsNull()) root = YAML::Load("{}");
  return ParseSource(root, "", text);
}

// One block loaded on its own.
BlockSpec ParseBlockYaml(const std::string& yaml, const YamlLimits& limits) {
  YAML::Node root = LoadBoundedYaml(yaml, limits, "the block");
  return ParseBlock(root, 0, yaml, nullptr);
}

// The block's YAML without its per-pipeline keys.
std::string SharedBlockYaml(const BlockSpec& block) {
  YAML::Node node = YAML::Load(block.yaml);
  for (const char* key : {"upstream", "upstream_blocks", "downstream_blocks", "shared"})
    node.remove(key);
  return YAML::Dump(node);
}

// Parse, then validate.
PipelineSpec ParsePipelineYaml(const std::string& yaml, const YamlLimits& limits) {
  PipelineSpec spec = ParsePipelineYamlUnvalidated(yaml, limits);
  ValidatePipeline(spec);
  return spec;
}

}  // namespace pgpipe::core
