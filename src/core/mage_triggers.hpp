// Mage's triggers (pipelines/<name>/triggers.yaml): the schedules among them become
// pipeline.schedule calls when the importer is asked to; every trigger is reported.
#pragma once

#include <string>
#include <vector>

#include "core/import_row.hpp"
#include "core/yaml_load.hpp"

namespace pgpipe::core {

// A Mage trigger that is an active time schedule.
struct MageSchedule {
  std::string name;            // the trigger's name
  std::string cron;            // five fields, as pg_cron reads them
  std::string written;         // as Mage wrote it ("@daily", "0 6 * * *")
  std::string variables_json;  // the trigger's variables, a JSON object
};

// Mage's interval presets as cron expressions ("@daily" -> "0 0 * * *"); "" for anything else
// (@once among them: it is not a schedule).
std::string MageIntervalAsCron(const std::string& interval);

// Reads `text` (`file` names it: "pipelines/x/triggers.yaml") for pipeline `pipeline`. Returns
// the schedules; `rows` receives a row for every trigger that is not one (skipped, with why) and
// for a file that cannot be read (refused). Never throws for the file's content.
std::vector<MageSchedule> ReadMageTriggers(const std::string& text, const std::string& file,
                                           const std::string& pipeline, const YamlLimits& limits,
                                           std::vector<ImportRow>* rows);

// The row of a schedule not imported because the caller did not ask for schedules.
ImportRow ScheduleNotAsked(const std::string& pipeline, const MageSchedule& schedule);

}  // namespace pgpipe::core
