// Writes specs and YAML values as JSON text: see spec_json.hpp.
#include "core/spec_json.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <cstdio>

#include "core/error.hpp"
#include "core/interrupts.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// Builds one JSON object key by key.
class Obj {
 public:
  Obj& Raw(const char* key, const std::string& json) {
    out_ += (out_.size() > 1 ? "," : "") + JsonString(key) + ":" + json;
    return *this;
  }
  Obj& Str(const char* key, const std::string& value) { return Raw(key, JsonString(value)); }
  Obj& StrIf(const char* key, const std::string& value) {
    return value.empty() ? *this : Str(key, value);
  }
  Obj& Num(const char* key, double value) {
    char buf[64];
    if (value == std::floor(value) && std::fabs(value) < 1e15)
      std::snprintf(buf, sizeof buf, "%.0f", value);
    else
      std::snprintf(buf, sizeof buf, "%.17g", value);
    return Raw(key, buf);
  }
  Obj& Bool(const char* key, bool value) { return Raw(key, value ? "true" : "false"); }
  Obj& List(const char* key, const std::vector<std::string>& items) {
    std::string json = "[";
    for (size_t i = 0; i < items.size(); ++i) json += (i ? "," : "") + JsonString(items[i]);
    return Raw(key, json + "]");
  }
  std::string Done() { return out_ + "}"; }

 private:
  std::string out_ = "{";
};

// {"line":L,"column":C}, with "file" when the position is in another file than the pipeline's.
std::string PositionJson(const Position& p) {
  return "{\"line\":" + std::to_string(p.line) + ",\"column\":" + std::to_string(p.column) +
         (p.file.empty() ? "" : ",\"file\":" + JsonString(p.file)) + "}";
}

// A loader's source, every field written (defaults included).
std::string SourceJson(const SourceSpec& s) {
  std::string columns = "[";
  for (size_t i = 0; i < s.columns.size(); ++i) {
    const auto& c = s.columns[i];
    columns += (i ? "," : "") + Obj().Str("name", c.name).Str("type", c.pg_type)
                                    .Str("written_type", c.written_type).Done();
  }
  columns += "]";
  Obj o;
  o.Str("url", s.url).Str("format", s.format).Str("compression", s.compression)
      .Raw("columns", columns).List("parse_dates", s.parse_dates).Bool("header", s.header)
      .Str("delimiter", s.delimiter).Str("quote", s.quote).StrIf("escape", s.escape)
      .Str("null", s.null_string).Str("encoding", s.encoding)
      .Num("connect_timeout", s.connect_timeout_s).Num("timeout", s.timeout_s)
      .Num("max_bytes", static_cast<double>(s.max_bytes))
      .Num("max_decompressed_bytes", static_cast<double>(s.max_decompressed_bytes));
  if (!s.urls.empty()) o.List("urls", s.urls);
  if (!s.optional_columns.empty()) o.List("optional_columns", s.optional_columns);
  if (!s.na_values.empty()) o.List("na_values", s.na_values);
  if (s.parallel > 0) o.Num("parallel", s.parallel);  // (parallel ingest: only when set)
  return o.Done();
}

// One test, with only the fields its kind uses.
std::string TestJson(const TestSpec& t) {
  Obj o;
  o.Str("kind", t.kind).StrIf("sql", t.sql);
  if (!t.columns.empty()) o.List("columns", t.columns);
  if (!t.values.empty()) o.List("values", t.values);
  if (t.min_rows) o.Num("min", static_cast<double>(*t.min_rows));
  if (t.max_rows) o.Num("max", static_cast<double>(*t.max_rows));
  o.StrIf("message", t.message).StrIf("name", t.name);
  if (t.severity != "error") o.Str("severity", t.severity);
  o.Raw("position", PositionJson(t.where));
  return o.Done();
}

// A YAML decimal (already matched as one) as JSON writes numbers: no "+", no leading zeros, a
// digit on each side of the point (".5" -> 0.5, "007.50" -> 7.50, "1." -> 1.0).
std::string JsonNumber(const std::string& v) {
  std::string n = v[0] == '+' ? v.substr(1) : v;
  bool negative = !n.empty() && n[0] == '-';
  if (negative) n = n.substr(1);
  size_t first = n.find_first_not_of('0');
  // Strip leading zeros of the integer part, keeping one before a dot or exponent.
  if (first == std::string::npos) first = n.size() - 1;
  if (first > 0 && (first >= n.size() || n[first] == '.' || n[first] == 'e' || n[first] == 'E')) --first;
  n = n.substr(first);
  if (n[0] == '.') n = "0" + n;
  size_t dot = n.find('.');
  if (dot != std::string::npos && (dot + 1 == n.size() || !std::isdigit(static_cast<unsigned char>(n[dot + 1]))))
    n.insert(dot + 1, "0");
  return (negative ? "-" : "") + n;
}

}  // namespace

// Escapes quotes, backslashes and control characters.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

// Moves i past ASCII digits; true when there was at least one.
bool SkipDigits(const std::string& v, size_t& i) {
  size_t start = i;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
  return i > start;
}

// YAML 1.2 core schema integer: [-+]?[0-9]+. (Hand-written: libstdc++'s std::regex recurses
// once per character and overflows the stack on a scalar of some 100 KB.)
bool IsYamlInteger(const std::string& v) {
  size_t i = v.size() > 0 && (v[0] == '-' || v[0] == '+') ? 1 : 0;
  return SkipDigits(v, i) && i == v.size();
}

// YAML 1.2 core schema float (finite): [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsYamlReal(const std::string& v) {
  size_t i = v.size() > 0 && (v[0] == '-' || v[0] == '+') ? 1 : 0;
  if (i < v.size() && v[i] == '.') {
    ++i;
    if (!SkipDigits(v, i)) return false;
  } else {
    if (!SkipDigits(v, i)) return false;
    if (i < v.size() && v[i] == '.') {
      ++i;
      SkipDigits(v, i);
    }
  }
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '-' || v[i] == '+')) ++i;
    if (!SkipDigits(v, i)) return false;
  }
  return i == v.size();
}

// A YAML scalar as a JSON value.
std::string ScalarJson(const YAML::Node& node) {
  const std::string& v = node.Scalar();
  if (node.Tag() == "!") return JsonString(v);  // quoted in the file: always a string
  if (v == "true" || v == "false") return v;
  if (v == "True" || v == "TRUE") return "true";
  if (v == "False" || v == "FALSE") return "false";
  if (v == "~" || v == "null" || v == "Null" || v == "NULL") return "null";
  if (IsYamlInteger(v)) {
    // JSON has no leading zeros ("01" -> 1); integers too long for int64 stay strings.
    try {
      return std::to_string(std::stoll(v));
    } catch (const std::out_of_range&) {
      return JsonString(v);
    }
  }
  if (IsYamlReal(v)) {
    return JsonNumber(v);
  }
  return JsonString(v);
}

// Appends JSON to one string, throwing as soon as it is over the byte or depth limit.
class JsonWriter {
 public:
  explicit JsonWriter(const JsonLimits& limits) : limits_(limits) {}

  // Writes `node` and everything under it; `depth` counts the collections around it.
  void Write(const YAML::Node& node, size_t depth) {
    poller_.Tick();
    if (!node.IsDefined() || node.IsNull()) return Put("null", node);
    if (node.IsScalar()) return Put(ScalarJson(node), node);
    if (depth >= limits_.max_depth)
      throw Error(sqlstate::kProgramLimitExceeded,
                  "a YAML value nests deeper than " + std::to_string(limits_.max_depth) +
                      " levels" + At(node));
    bool map = node.IsMap();
    Put(map ? "{" : "[", node);
    bool first = true;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!first) Put(",", node);
      first = false;
      if (map) {
        Put(JsonString(it->first.Scalar()) + ":", it->first);
        Write(it->second, depth + 1);
      } else {
        Write(*it, depth + 1);
      }
    }
    Put(map ? "}" : "]", node);
  }

  std::string Take() { return std::move(out_); }

 private:
  // Appends `text` produced for `node`.
  void Put(const std::string& text, const YAML::Node& node) {
    if (out_.size() + text.size() > limits_.max_bytes)
      throw Error(sqlstate::kProgramLimitExceeded,
                  "a YAML value converts to more than " + std::to_string(limits_.max_bytes) +
                      " bytes of JSON (anchors and aliases count each time they are used)" +
                      At(node));
    out_ += text;
  }

  // " at line L, column C" of a node, or "" when it has no position.
  static std::string At(const YAML::Node& node) {
    YAML::Mark mark = node.Mark();
    if (mark.is_null()) return "";
    return " at line " + std::to_string(mark.line + 1) + ", column " +
           std::to_string(mark.column + 1);
  }

  const JsonLimits& limits_;
  std::string out_;
  InterruptPoller poller_;
};

}  // namespace

// Walks the node with a writer that enforces the limits.
std::string YamlToJson(const YAML::Node& node, const JsonLimits& limits) {
  JsonWriter writer(limits);
  writer.Write(node, 0);
  return writer.Take();
}

// One block, as stored in pipeline.blocks.definition.
std::string BlockToJson(const BlockSpec& b) {
  Obj o;
  o.Str("name", b.name).Str("type", BlockTypeName(b.type)).StrIf("description", b.description)
      .List("upstream", b.upstream).List("downstream", b.downstream).StrIf("sql", b.sql);
  if (b.source) o.Raw("source", SourceJson(*b.source));
  if (b.target) {
    Obj target;
    target.Str("schema", b.target->schema).Str("table", b.target->table).Str("if_exists", b.target->if_exists);
    if (!b.target->unique_key.empty())
      target.List("unique_key", b.target->unique_key).Str("on_conflict", b.target->on_conflict);
    target.StrIf("where", b.target->replace_where);
    o.Raw("target", target.Done());
  }
  std::string tests = "[";
  for (size_t i = 0; i < b.tests.size(); ++i) tests += (i ? "," : "") + TestJson(b.tests[i]);
  o.Raw("tests", tests + "]");
  o.Raw("retry", Obj().Num("retries", b.retry.retries).Num("delay", b.retry.delay_s)
                     .Num("max_delay", b.retry.max_delay_s)
                     .Bool("exponential_backoff", b.retry.exponential_backoff).Done());
  if (b.timeout_s > 0) o.Num("timeout", b.timeout_s);
  o.StrIf("materialize", b.materialize).Bool("shared", b.shared).StrIf("pin", b.pin)
      .StrIf("url", b.sensor_url);
  if (b.interval_s > 0) o.Num("interval", b.interval_s);
  if (b.trigger_rule != "all_success") o.Str("trigger_rule", b.trigger_rule);
  if (!b.compiled_from.empty()) o.Str("compiled_from", b.compiled_from).Str("python", b.python);
  if (!b.rename_columns_json.empty()) o.Raw("rename_columns", b.rename_columns_json);
  if (!b.log_queries.empty()) o.List("log", b.log_queries);
  if (b.language != "sql") {
    o.Str("language", b.language).Str("python", b.python).StrIf("file", b.file);
    if (!b.configuration_json.empty()) o.Raw("configuration", b.configuration_json);
  }
  o.StrIf("on_success", b.on_success).StrIf("on_failure", b.on_failure)
      .Raw("position", PositionJson(b.where));
  return o.Done();
}

// The whole validated spec, as stored in pipeline.pipeline_versions.spec.
std::string SpecToJson(const PipelineSpec& spec) {
  std::string variables = "{";
  for (size_t i = 0; i < spec.variables.size(); ++i)
    variables += (i ? "," : "") + JsonString(spec.variables[i].name) + ":" + spec.variables[i].json;
  variables += "}";
  std::string blocks = "[";
  for (size_t i = 0; i < spec.blocks.size(); ++i)
    blocks += (i ? "," : "") + BlockToJson(spec.blocks[i]);
  blocks += "]";
  const auto& s = spec.settings;
  return Obj()
      .Str("name", spec.name).StrIf("description", spec.description).List("tags", spec.tags)
      .Raw("variables", variables)
      .Raw("settings", Obj().Num("max_active_runs", s.max_active_runs).Str("overlap", s.overlap)
                           .Num("timeout", s.timeout_s).StrIf("webhook_url", s.webhook_url).Done())
      .Raw("blocks", blocks).Done();
}

}  // namespace pgpipe::core
