// Writes specs and YAML values as JSON text: see spec_json.hpp.
#include "core/spec_json.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <cstdio>
#include <regex>

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

std::string PositionJson(const Position& p) {
  return "{\"line\":" + std::to_string(p.line) + ",\"column\":" + std::to_string(p.column) + "}";
}

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
      .Num("max_bytes", static_cast<double>(s.max_bytes));
  if (s.parallel > 0) o.Num("parallel", s.parallel);  // (parallel ingest: only when set)
  return o.Done();
}

std::string TestJson(const TestSpec& t) {
  Obj o;
  o.Str("kind", t.kind).StrIf("sql", t.sql);
  if (!t.columns.empty()) o.List("columns", t.columns);
  if (!t.values.empty()) o.List("values", t.values);
  if (t.min_rows) o.Num("min", static_cast<double>(*t.min_rows));
  if (t.max_rows) o.Num("max", static_cast<double>(*t.max_rows));
  o.StrIf("message", t.message).StrIf("name", t.name).Raw("position", PositionJson(t.where));
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

std::string YamlToJson(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsSequence()) {
    std::string out = "[";
    for (size_t i = 0; i < node.size(); ++i) out += (i ? "," : "") + YamlToJson(node[i]);
    return out + "]";
  }
  if (node.IsMap()) {
    std::string out = "{";
    bool first = true;
    for (auto it = node.begin(); it != node.end(); ++it) {
      out += (first ? "" : ",") + JsonString(it->first.Scalar()) + ":" + YamlToJson(it->second);
      first = false;
    }
    return out + "}";
  }
  const std::string& v = node.Scalar();
  if (node.Tag() == "!") return JsonString(v);  // quoted in the file: always a string
  static const std::regex integer("[-+]?[0-9]+");
  static const std::regex real("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (v == "true" || v == "false") return v;
  if (v == "True" || v == "TRUE") return "true";
  if (v == "False" || v == "FALSE") return "false";
  if (v == "~" || v == "null" || v == "Null" || v == "NULL") return "null";
  if (std::regex_match(v, integer)) {
    // JSON has no leading zeros ("01" -> 1); integers too long for int64 stay strings.
    try {
      return std::to_string(std::stoll(v));
    } catch (const std::out_of_range&) {
      return JsonString(v);
    }
  }
  if (std::regex_match(v, real)) {
    return JsonNumber(v);
  }
  return JsonString(v);
}

std::string BlockToJson(const BlockSpec& b) {
  Obj o;
  o.Str("name", b.name).Str("type", BlockTypeName(b.type)).StrIf("description", b.description)
      .List("upstream", b.upstream).List("downstream", b.downstream).StrIf("sql", b.sql);
  if (b.source) o.Raw("source", SourceJson(*b.source));
  if (b.target)
    o.Raw("target", Obj().Str("schema", b.target->schema).Str("table", b.target->table)
                         .Str("if_exists", b.target->if_exists).Done());
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
  o.StrIf("on_success", b.on_success).StrIf("on_failure", b.on_failure)
      .Raw("position", PositionJson(b.where));
  return o.Done();
}

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
