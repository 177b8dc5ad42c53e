// Connection profiles: see profiles.hpp.
extern "C" {
#include "postgres.h"
}

#include "pg/catalog/profiles.hpp"

#include "core/error.hpp"
#include "pg/privilege.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

// The owner (an oid, as text) of `project` when the calling role may act as it; throws otherwise.
std::string ProjectOwnerFor(const std::string& project) {
  auto rows = CatalogQuery("SELECT owner::oid, owner::text FROM pipeline.projects WHERE name = $1", {project});
  if (rows.empty())
    throw Error(sqlstate::kUndefinedObject, "project \"" + project + "\" does not exist", "",
                "Create it with pipeline.create_project('" + project + "') or import one with pipeline.import_project(dir).");
  if (!CanActAs(CurrentRole(), static_cast<Oid>(std::stoul(rows[0][0].value_or("0")))))
    throw Error(sqlstate::kInsufficientPrivilege,
                "project \"" + project + "\" belongs to role \"" + rows[0][1].value_or("") + "\"",
                "Only the project's owner (and roles with its privileges) may set or read its connection profiles.");
  return *rows[0][0];
}

// Refuses settings that are not an object, or a remote profile that cannot be reached.
void CheckSettings(const std::string& profile, const std::string& settings_json) {
  auto facts = SpiQuery(
      "SELECT jsonb_typeof(s), jsonb_typeof(s -> 'pg_pipeline_remote'), "
      "(SELECT string_agg(k, ', ' ORDER BY k) FROM unnest(ARRAY['POSTGRES_DBNAME', 'POSTGRES_HOST', 'POSTGRES_USER']) k "
      "  WHERE coalesce(s ->> k, '') = '') "
      "FROM (SELECT $1::jsonb AS s) x",
      {settings_json});
  if (facts[0][0] != SqlValue("object"))
    throw Error(sqlstate::kInvalidParameterValue,
                "settings of profile \"" + profile + "\" must be a JSON object, not " + facts[0][0].value_or("null"), "",
                "Pass them as '{\"POSTGRES_DBNAME\": \"ny_taxi\", ...}'.");
  if (facts[0][1] && *facts[0][1] != "boolean")
    throw Error(sqlstate::kInvalidParameterValue,
                "pg_pipeline_remote in profile \"" + profile + "\" must be true or false, not a " + *facts[0][1]);
  if (SpiScalar("SELECT ($1::jsonb -> 'pg_pipeline_remote') = 'true'::jsonb", {settings_json}) == SqlValue("t") &&
      facts[0][2])
    throw Error(sqlstate::kInvalidParameterValue,
                "remote profile \"" + profile + "\" needs " + *facts[0][2],
                "With \"pg_pipeline_remote\": true, Python blocks reach the server these settings name.",
                "Add POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DBNAME, POSTGRES_USER and POSTGRES_PASSWORD, or "
                "leave pg_pipeline_remote out to mean this database.");
}

}  // namespace

void SetProfile(const std::string& project, const std::string& profile, const std::string& settings_json,
                bool merge) {
  if (!core::IsProfileName(profile))
    throw Error(sqlstate::kInvalidName, "invalid profile name \"" + profile + "\"",
                "Profile names are 1 to 63 letters, digits, _ . and -, starting with a letter, a digit or _.");
  const std::string owner = ProjectOwnerFor(project);
  std::string settings = settings_json;
  if (merge) {
    SqlValue old = CatalogScalar("SELECT settings::text FROM pipeline.profiles WHERE project = $1 AND profile = $2",
                                 {project, profile});
    if (old) settings = *SpiScalar("SELECT ($1::jsonb || $2::jsonb)::text", {*old, settings_json});
  }
  CheckSettings(profile, settings);
  CatalogExec("INSERT INTO pipeline.profiles (project, profile, settings, owner) "
              "VALUES ($1, $2, $3::jsonb, $4::oid::regrole) "
              "ON CONFLICT (project, profile) DO UPDATE SET settings = excluded.settings, owner = excluded.owner",
              {project, profile, settings, owner});
}

bool DropProfile(const std::string& project, const std::string& profile) {
  ProjectOwnerFor(project);
  return CatalogExec("DELETE FROM pipeline.profiles WHERE project = $1 AND profile = $2", {project, profile}) > 0;
}

}  // namespace pgpipe::pg
