// Mage triggers: see mage_triggers.hpp.
#include "core/mage_triggers.hpp"

#include <yaml-cpp/yaml.h>

#include <sstream>

#include "core/error.hpp"
#include "core/spec_json.hpp"
#include "core/yaml_get.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// " (line L, column C of file)" for a node.
std::string At(const YAML::Node& node, const std::string& file) {
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return " (" + file + ")";
  return " (line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) + " of " +
         file + ")";
}

// Whether `cron` has the five fields pg_cron reads (their values are checked when scheduled).
bool FiveFields(const std::string& cron) {
  std::istringstream in(cron);
  std::string field;
  int n = 0;
  while (in >> field) ++n;
  return n == 5;
}

}  // namespace

// Mage's presets, as cron's usual expansions of them.
std::string MageIntervalAsCron(const std::string& interval) {
  if (interval == "@hourly") return "0 * * * *";
  if (interval == "@daily") return "0 0 * * *";
  if (interval == "@weekly") return "0 0 * * 0";
  if (interval == "@monthly") return "0 0 1 * *";
  if (interval == "@yearly" || interval == "@annually") return "0 0 1 1 *";
  return "";
}

// Each trigger: a schedule, or a row saying why not.
std::vector<MageSchedule> ReadMageTriggers(const std::string& text, const std::string& file,
                                           const std::string& pipeline, const YamlLimits& limits,
                                           std::vector<ImportRow>* rows) {
  std::vector<MageSchedule> out;
  YAML::Node root;
  try {
    root = LoadBoundedYaml(text, limits, file);
  } catch (const Error& e) {
    rows->push_back({pipeline, "", "trigger", "", "refused", file + ": " + e.message()});
    return out;
  }
  if (!root.IsDefined() || root.IsNull()) return out;
  YAML::Node triggers = root.IsMap() ? Get(root, "triggers") : YAML::Node(YAML::NodeType::Undefined);
  if (!triggers.IsDefined() || triggers.IsNull()) return out;
  if (!triggers.IsSequence()) {
    rows->push_back({pipeline, "", "trigger", "", "refused", "triggers must be a list" + At(triggers, file)});
    return out;
  }
  JsonLimits json_limits{EffectiveMaxTextBytes(limits, text.size()), limits.max_depth};
  for (const auto& t : triggers) {
    if (!t.IsMap()) {
      rows->push_back({pipeline, "", "trigger", "", "refused", "a trigger must be a mapping" + At(t, file)});
      continue;
    }
    const std::string name = Str(t, "name");
    const std::string type = Str(t, "schedule_type", "time");
    const std::string status = Str(t, "status", "active");
    const std::string interval = Str(t, "schedule_interval");
    auto skip = [&](const std::string& why) {
      rows->push_back({pipeline, name, "trigger", "", "skipped", why + At(t, file)});
    };
    if (type == "api") {
      skip("an API trigger: call pipeline.trigger('" + pipeline + "') instead");
      continue;
    }
    if (type != "time") {
      skip("a trigger of type " + type + ": pg_pipeline imports time schedules only");
      continue;
    }
    if (status != "active") {
      skip("schedule '" + interval + "' is " + status + " in Mage, so it is not imported");
      continue;
    }
    if (interval.empty() || interval == "@once") {
      skip("runs once, not on a schedule: call pipeline.run('" + pipeline + "') or pipeline.trigger instead");
      continue;
    }
    std::string cron = MageIntervalAsCron(interval);
    if (cron.empty()) cron = interval;
    if (!FiveFields(cron)) {
      rows->push_back({pipeline, name, "trigger", "", "refused",
                       "schedule '" + interval + "' is not a five-field cron expression" +
                           At(Get(t, "schedule_interval"), file)});
      continue;
    }
    YAML::Node variables = Get(t, "variables");
    std::string variables_json = "{}";
    if (variables.IsDefined() && variables.IsMap()) variables_json = YamlToJson(variables, json_limits);
    out.push_back({name, cron, interval, variables_json});
  }
  return out;
}

// The row's fixed wording.
ImportRow ScheduleNotAsked(const std::string& pipeline, const MageSchedule& schedule) {
  return {pipeline, schedule.name, "trigger", "", "skipped",
          "schedule '" + schedule.written + "' not imported: pass schedules => true"};
}

}  // namespace pgpipe::core
