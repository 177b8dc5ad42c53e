// Registering and loading pipelines: see catalog.hpp. All catalog access is SQL through SPI, as
// the calling role, so row-level security and privileges apply exactly as they would to the user.
extern "C" {
#include "postgres.h"

#include "parser/parse_type.h"
}

#include "core/dtypes.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/spec_json.hpp"
#include "core/validate.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

std::string At(const core::Position& p) { return p.line ? " at " + p.ToString() : ""; }

// Asks the server whether every column type of every loader exists.
void CheckColumnTypes(const core::PipelineSpec& spec) {
  for (const auto& block : spec.blocks) {
    if (!block.source) continue;
    for (const auto& column : block.source->columns) {
      const char* type_name = column.pg_type.c_str();
      bool exists = false;
      try {
        exists = PgCall([&] {
          Oid type_oid = InvalidOid;
          int32 typmod = -1;
          parseTypeString(type_name, &type_oid, &typmod, true);
          return OidIsValid(type_oid);
        });
      } catch (const Error&) {
        exists = false;  // a syntax error in the type name; the transaction aborts below
      }
      if (!exists)
        throw Error(sqlstate::kUndefinedObject,
                    "unknown column type \"" + column.written_type + "\" for column \"" +
                        column.name + "\" in block \"" + block.name + "\"" + At(column.where),
                    "", core::DidYouMean(column.written_type, core::KnownTypeNames()));
    }
  }
}

}  // namespace

void EnsureProject(const std::string& project, bool create, const std::string& source_dir,
                   const std::string& io_config_json) {
  auto existing = SpiQuery(
      "SELECT owner::text, pg_has_role(owner, 'MEMBER') FROM pipeline.projects WHERE name = $1",
      {project});
  if (!existing.empty()) {
    if (create) {
      if (existing[0][1] != SqlValue("t"))
        throw Error(sqlstate::kInsufficientPrivilege,
                    "project \"" + project + "\" belongs to role \"" + *existing[0][0] + "\"", "",
                    "Import into a project of your own: pipeline.import_project(dir, 'name').");
      SpiExec("UPDATE pipeline.projects SET source_dir = $2, io_config = $3::jsonb WHERE name = $1",
              {project, source_dir, io_config_json});
    }
    return;
  }
  if (!create)
    throw Error(sqlstate::kUndefinedObject, "project \"" + project + "\" does not exist", "",
                "Create it with pipeline.create_project('" + project +
                    "') or import one with pipeline.import_project(dir).");
  SpiExec("INSERT INTO pipeline.projects (name, source_dir, io_config) VALUES ($1, $2, $3::jsonb)",
          {project, source_dir, io_config_json});
}

void ResolveSharedBlocks(core::PipelineSpec& spec, const std::string& project) {
  for (auto& block : spec.blocks) {
    if (!block.reference_only) continue;
    SqlValue yaml = SpiScalar(
        "SELECT yaml FROM pipeline.blocks WHERE project = $1 AND pipeline_id IS NULL AND name = $2",
        {project, block.name});
    if (!yaml)
      throw Error(sqlstate::kUndefinedObject,
                  "block \"" + block.name + "\" is marked shared, but project \"" + project +
                      "\" has no shared block of that name" + At(block.where),
                  "", "Define it once with shared: true and its type, sql and so on.");
    core::BlockSpec stored = core::ParseBlockYaml(*yaml);
    stored.upstream = block.upstream;
    stored.downstream = block.downstream;
    stored.where = block.where;
    stored.shared = true;
    stored.reference_only = false;
    block = stored;
  }
}

std::string RegisterPipeline(const std::string& yaml, const std::string& project,
                             std::vector<std::string>* notices) {
  core::PipelineSpec spec = core::ParsePipelineYamlUnvalidated(yaml);
  if (notices) notices->insert(notices->end(), spec.notices.begin(), spec.notices.end());
  EnsureProject(project, false);
  // Shared definitions written in this file are stored first, so references to them resolve.
  for (const auto& block : spec.blocks) {
    if (!block.shared || block.reference_only) continue;
    auto owner = SpiQuery(
        "SELECT owner::text, pg_has_role(owner, 'MEMBER') FROM pipeline.blocks "
        "WHERE project = $1 AND pipeline_id IS NULL AND name = $2",
        {project, block.name});
    if (!owner.empty() && owner[0][1] != SqlValue("t"))
      throw Error(sqlstate::kInsufficientPrivilege,
                  "shared block \"" + block.name + "\" of project \"" + project +
                      "\" belongs to role \"" + *owner[0][0] + "\"",
                  "", "Reference it as {name: " + block.name +
                          ", shared: true}, or give your block another name.");
    core::BlockSpec unlinked = block;  // links are per pipeline, not part of the shared body
    unlinked.upstream.clear();
    unlinked.downstream.clear();
    SpiExec(
        "INSERT INTO pipeline.blocks (project, pipeline_id, name, type, definition, yaml) "
        "VALUES ($1, NULL, $2, $3, $4::jsonb, $5) "
        "ON CONFLICT (project, pipeline_id, name) DO UPDATE SET type = excluded.type, "
        "definition = excluded.definition, yaml = excluded.yaml, updated_at = now() "
        "WHERE (blocks.definition, blocks.yaml) IS DISTINCT FROM (excluded.definition, excluded.yaml)",
        {project, block.name, core::BlockTypeName(block.type), core::BlockToJson(unlinked),
         core::SharedBlockYaml(block)});
  }
  ResolveSharedBlocks(spec, project);
  core::ValidatePipeline(spec);
  CheckColumnTypes(spec);

  bool visible = SpiScalar("SELECT 1 FROM pipeline.pipelines WHERE project = $1 AND name = $2",
                           {project, spec.name}).has_value();
  SqlValue foreign_owner;
  if (!visible) foreign_owner = SpiScalar("SELECT pipeline._owner_of($1, $2)", {project, spec.name});
  if (foreign_owner)
    throw Error(sqlstate::kInsufficientPrivilege,
                "pipeline \"" + spec.name + "\" in project \"" + project + "\" belongs to role \"" +
                    *foreign_owner + "\"",
                "", "Choose another name, or ask that role to grant you its membership.");

  std::string spec_json = core::SpecToJson(spec);
  auto existing = SpiQuery(
      "SELECT p.pipeline_id, v.version, v.yaml FROM pipeline.pipelines p "
      "JOIN pipeline.pipeline_versions v USING (pipeline_id) "
      "WHERE p.project = $1 AND p.name = $2 ORDER BY v.version DESC LIMIT 1 FOR UPDATE OF p",
      {project, spec.name});
  std::string pipeline_id;
  if (existing.empty()) {
    pipeline_id = *SpiScalar(
        "INSERT INTO pipeline.pipelines (project, name, description) VALUES ($1, $2, NULLIF($3, '')) "
        "RETURNING pipeline_id",
        {project, spec.name, spec.description});
    SpiExec("INSERT INTO pipeline.pipeline_versions (pipeline_id, version, yaml, spec) "
            "VALUES ($1::bigint, 1, $2, $3::jsonb)",
            {pipeline_id, yaml, spec_json});
  } else {
    pipeline_id = *existing[0][0];
    if (existing[0][2] == yaml) return spec.name;  // same file: same version
    SpiExec("INSERT INTO pipeline.pipeline_versions (pipeline_id, version, yaml, spec) "
            "SELECT $1::bigint, max(version) + 1, $2, $3::jsonb FROM pipeline.pipeline_versions "
            "WHERE pipeline_id = $1::bigint",
            {pipeline_id, yaml, spec_json});
    SpiExec("UPDATE pipeline.pipelines SET updated_at = now(), description = NULLIF($2, '') "
            "WHERE pipeline_id = $1::bigint",
            {pipeline_id, spec.description});
  }
  // Local blocks mirror the current version.
  SpiExec("DELETE FROM pipeline.blocks WHERE pipeline_id = $1::bigint", {pipeline_id});
  for (const auto& block : spec.blocks) {
    if (block.shared) continue;
    SpiExec("INSERT INTO pipeline.blocks (project, pipeline_id, name, type, definition, yaml) "
            "VALUES ($1, $2::bigint, $3, $4, $5::jsonb, $6)",
            {project, pipeline_id, block.name, core::BlockTypeName(block.type),
             core::BlockToJson(block), block.yaml});
  }
  return spec.name;
}

StoredPipeline LoadPipeline(const std::string& project, const std::string& name) {
  auto rows = SpiQuery(
      "SELECT p.pipeline_id, v.version, p.owner::text, v.yaml FROM pipeline.pipelines p "
      "JOIN pipeline.pipeline_versions v USING (pipeline_id) "
      "WHERE p.project = $1 AND p.name = $2 ORDER BY v.version DESC LIMIT 1",
      {project, name});
  if (rows.empty())
    throw Error(sqlstate::kUndefinedObject,
                "pipeline \"" + name + "\" does not exist in project \"" + project + "\"", "",
                "Register it with pipeline.register(yaml).");
  StoredPipeline stored;
  stored.pipeline_id = std::stoll(*rows[0][0]);
  stored.version = std::stoi(*rows[0][1]);
  stored.owner = *rows[0][2];
  stored.spec = core::ParsePipelineYamlUnvalidated(*rows[0][3]);
  ResolveSharedBlocks(stored.spec, project);
  core::ValidatePipeline(stored.spec);
  return stored;
}

}  // namespace pgpipe::pg
