// Registering and reading pipelines: see registry.hpp.
//
// Who may do what: any pipeline user may register into any project and reference any shared
// block of it; only a role with the privileges of a shared block's owner may change that block,
// and only one with the privileges of a pipeline's owner may change, run or see that pipeline.
// Reads and writes run as the extension's owner (privilege.hpp) with these checks made here,
// explicitly, instead of relying on row-level security for writes.
extern "C" {
#include "postgres.h"

#include "parser/parse_type.h"
}

#include "core/dtypes.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/pipeline_yaml.hpp"
#include "core/spec_json.hpp"
#include "core/spec_read.hpp"
#include "core/validate.hpp"
#include "pg/gucs.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog/registry.hpp"
#include "pg/privilege.hpp"
#include "pg/python/runtime.hpp"
#include "pg/spi.hpp"
#include "pg/subxact.hpp"

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

std::string At(const core::Position& p) { return p.line ? " at " + p.ToString() : ""; }

Oid ToOid(const SqlValue& v) { return static_cast<Oid>(std::stoul(v.value_or("0"))); }

// The file without the newlines and spaces that end it: psql's backticks and pg_read_file
// disagree about the last newline, and that is not a new version.
std::string TrimEnd(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

// Whether the server knows the type name; a name it cannot even parse is unknown too (the
// parse error is rolled back with its subtransaction, not swallowed).
bool TypeExists(const std::string& type_name) {
  bool exists = false;
  auto error = InSubtransaction([&] {
    const char* name = type_name.c_str();
    exists = PgCall([name] {
      Oid type_oid = InvalidOid;
      int32 typmod = -1;
      parseTypeString(name, &type_oid, &typmod, true);
      return OidIsValid(type_oid);
    });
  });
  return !error && exists;
}

// Every column type of every loader exists in this server.
void CheckColumnTypes(const core::PipelineSpec& spec) {
  for (const auto& block : spec.blocks) {
    if (!block.source) continue;
    for (const auto& column : block.source->columns)
      if (!TypeExists(column.pg_type))
        throw Error(sqlstate::kUndefinedObject,
                    "unknown column type \"" + column.written_type + "\" for column \"" +
                        column.name + "\" in block \"" + block.name + "\"" + At(column.where),
                    "", core::DidYouMean(column.written_type, core::KnownTypeNames()));
  }
}

}  // namespace

std::string SharedBodyJson(const core::BlockSpec& block) {
  core::BlockSpec body = block;
  body.upstream.clear();
  body.downstream.clear();
  body.where = {};
  for (auto& test : body.tests) test.where = {};
  if (body.target) body.target->where = {};
  return core::BlockToJson(body);
}

namespace {

// Stores the shared blocks this file defines; a block of another role's is refused.
void StoreSharedDefinitions(const core::PipelineSpec& spec, const std::string& project, Oid caller) {
  for (const auto& block : spec.blocks) {
    if (!block.shared || block.reference_only) continue;
    auto owner = CatalogQuery(
        "SELECT owner::oid, owner::text FROM pipeline.blocks "
        "WHERE project = $1 AND pipeline_id IS NULL AND name = $2",
        {project, block.name});
    if (!owner.empty() && !CanActAs(caller, ToOid(owner[0][0])))
      throw Error(sqlstate::kInsufficientPrivilege,
                  "shared block \"" + block.name + "\" of project \"" + project +
                      "\" belongs to role \"" + *owner[0][1] + "\"",
                  "", "Reference it as {name: " + block.name +
                          ", shared: true}, or give your block another name.");
    CatalogExec(
        "INSERT INTO pipeline.blocks (project, pipeline_id, name, type, definition, yaml, owner) "
        "VALUES ($1, NULL, $2, $3, $4::jsonb, $5, $6::oid::regrole) "
        "ON CONFLICT (project, pipeline_id, name) DO UPDATE SET type = excluded.type, "
        "definition = excluded.definition, yaml = excluded.yaml, updated_at = now() "
        "WHERE (blocks.definition, blocks.yaml) IS DISTINCT FROM (excluded.definition, excluded.yaml)",
        {project, block.name, core::BlockTypeName(block.type), SharedBodyJson(block),
         core::SharedBlockYaml(block), std::to_string(caller)});
  }
}

// Replaces references to the project's shared blocks by their stored definitions, and pins
// every shared block to the hash of the definition it was resolved to.
void ResolveSharedBlocks(core::PipelineSpec& spec, const std::string& project) {
  for (auto& block : spec.blocks) {
    if (!block.shared) continue;
    auto stored = CatalogQuery(
        "SELECT yaml, hash FROM pipeline.blocks WHERE project = $1 AND pipeline_id IS NULL AND name = $2",
        {project, block.name});
    if (stored.empty())
      throw Error(sqlstate::kUndefinedObject,
                  "block \"" + block.name + "\" is marked shared, but project \"" + project +
                      "\" has no shared block of that name" + At(block.where),
                  "", "Define it once with shared: true and its type, sql and so on.");
    if (block.reference_only) {
      core::BlockSpec resolved = core::ParseBlockYaml(*stored[0][0], PipelineYamlLimits());
      resolved.upstream = block.upstream;
      resolved.downstream = block.downstream;
      resolved.where = block.where;
      resolved.shared = true;
      resolved.reference_only = false;
      block = resolved;
    }
    block.pin = *stored[0][1];
  }
}

// A spec read from the catalog: parsed, validated (downstream links derived again).
core::PipelineSpec ReadSpec(const std::string& json) {
  core::PipelineSpec spec = core::SpecFromJson(json);
  core::ValidatePipeline(spec);
  return spec;
}

}  // namespace

void EnsureProject(const std::string& project, bool create, const std::string& source_dir) {
  Oid caller = CurrentRole();
  auto existing = CatalogQuery("SELECT owner::oid, owner::text FROM pipeline.projects WHERE name = $1", {project});
  if (!existing.empty()) {
    if (!create) return;
    if (!CanActAs(caller, ToOid(existing[0][0])))
      throw Error(sqlstate::kInsufficientPrivilege,
                  "project \"" + project + "\" belongs to role \"" + *existing[0][1] + "\"", "",
                  "Import into a project of your own: pipeline.import_project(dir, 'name').");
    CatalogExec("UPDATE pipeline.projects SET source_dir = $2 WHERE name = $1", {project, source_dir});
    return;
  }
  if (!create)
    throw Error(sqlstate::kUndefinedObject, "project \"" + project + "\" does not exist", "",
                "Create it with pipeline.create_project('" + project +
                    "') or import one with pipeline.import_project(dir).");
  std::string problem = core::IdentifierProblem(project);
  if (!problem.empty())
    throw Error(sqlstate::kInvalidName, "invalid project name \"" + project + "\"", problem,
                core::kIdentifierHint);
  CatalogExec("INSERT INTO pipeline.projects (name, owner, source_dir) VALUES ($1, $2::oid::regrole, NULLIF($3, ''))",
              {project, std::to_string(caller), source_dir});
}

void CreateProject(const std::string& project) {
  if (CatalogScalar("SELECT owner::text FROM pipeline.projects WHERE name = $1", {project}))
    throw Error(sqlstate::kDuplicateObject, "project \"" + project + "\" already exists");
  EnsureProject(project, true);
}

std::string RegisterPipeline(const std::string& yaml, const std::string& project,
                             std::vector<std::string>* notices) {
  return RegisterSpec(core::ParsePipelineYamlUnvalidated(yaml, PipelineYamlLimits()), yaml, project, notices);
}

std::string RegisterSpec(core::PipelineSpec spec, const std::string& yaml, const std::string& project,
                         std::vector<std::string>* notices) {
  const Oid caller = CurrentRole();
  if (notices) notices->insert(notices->end(), spec.notices.begin(), spec.notices.end());
  EnsureProject(project, false);
  // Shared definitions written in this file are stored first, so references to them resolve.
  StoreSharedDefinitions(spec, project, caller);
  ResolveSharedBlocks(spec, project);
  core::ValidatePipeline(spec);
  CheckColumnTypes(spec);
  std::string python;
  for (const auto& b : spec.blocks)
    if (b.language == "python") python += (python.empty() ? "" : ", ") + b.name;
  if (!python.empty()) RequirePython(caller, "pipeline \"" + spec.name + "\" has Python blocks (" + python + ")");

  auto existing = CatalogQuery(
      "SELECT p.pipeline_id, p.owner::oid, p.owner::text, v.yaml, v.spec::text FROM pipeline.pipelines p "
      "JOIN pipeline.pipeline_versions v USING (pipeline_id) "
      "WHERE p.project = $1 AND p.name = $2 ORDER BY v.version DESC LIMIT 1 FOR UPDATE OF p",
      {project, spec.name});
  if (!existing.empty() && !CanActAs(caller, ToOid(existing[0][1])))
    throw Error(sqlstate::kInsufficientPrivilege,
                "pipeline \"" + spec.name + "\" in project \"" + project + "\" belongs to role \"" +
                    *existing[0][2] + "\"",
                "", "Choose another name, or ask that role to grant you its privileges.");

  const std::string spec_json = core::SpecToJson(spec);
  const std::string who = std::to_string(caller);
  std::string pipeline_id;
  if (existing.empty()) {
    pipeline_id = *CatalogScalar(
        "INSERT INTO pipeline.pipelines (project, name, description, owner) "
        "VALUES ($1, $2, NULLIF($3, ''), $4::oid::regrole) RETURNING pipeline_id",
        {project, spec.name, spec.description, who});
    CatalogExec("INSERT INTO pipeline.pipeline_versions (pipeline_id, version, yaml, spec, created_by) "
                "VALUES ($1::bigint, 1, $2, $3::jsonb, $4::oid::regrole)",
                {pipeline_id, yaml, spec_json, who});
  } else {
    pipeline_id = *existing[0][0];
    // Same file resolving to the same blocks: same version. (Compared as jsonb, which is how it
    // was stored.)
    bool same_spec = CatalogScalar("SELECT $1::jsonb = $2::jsonb", {*existing[0][4], spec_json}) == SqlValue("t");
    if (TrimEnd(*existing[0][3]) == TrimEnd(yaml) && same_spec) return spec.name;
    CatalogExec("INSERT INTO pipeline.pipeline_versions (pipeline_id, version, yaml, spec, created_by) "
                "SELECT $1::bigint, max(version) + 1, $2, $3::jsonb, $4::oid::regrole "
                "FROM pipeline.pipeline_versions WHERE pipeline_id = $1::bigint",
                {pipeline_id, yaml, spec_json, who});
    CatalogExec("UPDATE pipeline.pipelines SET updated_at = now(), description = NULLIF($2, '') "
                "WHERE pipeline_id = $1::bigint",
                {pipeline_id, spec.description});
  }
  // Local blocks mirror the current version.
  CatalogExec("DELETE FROM pipeline.blocks WHERE pipeline_id = $1::bigint", {pipeline_id});
  for (const auto& block : spec.blocks) {
    if (block.shared) continue;
    CatalogExec("INSERT INTO pipeline.blocks (project, pipeline_id, name, type, definition, yaml, owner) "
                "VALUES ($1, $2::bigint, $3, $4, $5::jsonb, $6, $7::oid::regrole)",
                {project, pipeline_id, block.name, core::BlockTypeName(block.type),
                 core::BlockToJson(block), block.yaml, who});
  }
  return spec.name;
}

StoredPipeline FindPipeline(const std::string& project, const std::string& name) {
  const Oid caller = CurrentRole();
  auto rows = CatalogQuery(
      "SELECT p.pipeline_id, v.version, p.owner::oid, v.spec::text FROM pipeline.pipelines p "
      "JOIN pipeline.pipeline_versions v USING (pipeline_id) "
      "WHERE p.project = $1 AND p.name = $2 ORDER BY v.version DESC LIMIT 1",
      {project, name});
  if (rows.empty() || !CanActAs(caller, ToOid(rows[0][2])))
    throw Error(sqlstate::kUndefinedObject,
                "pipeline \"" + name + "\" does not exist in project \"" + project + "\"", "",
                "Register it with pipeline.register(yaml).");
  StoredPipeline stored;
  stored.pipeline_id = std::stoll(*rows[0][0]);
  stored.version = std::stoi(*rows[0][1]);
  stored.owner = ToOid(rows[0][2]);
  stored.project = project;
  stored.spec = ReadSpec(*rows[0][3]);
  return stored;
}

core::PipelineSpec LoadVersionSpec(int64_t pipeline_id, int version) {
  auto rows = CatalogQuery(
      "SELECT v.spec::text, p.project, p.name FROM pipeline.pipeline_versions v "
      "JOIN pipeline.pipelines p USING (pipeline_id) WHERE v.pipeline_id = $1::bigint AND v.version = $2::int",
      {std::to_string(pipeline_id), std::to_string(version)});
  if (rows.empty())
    throw Error(sqlstate::kUndefinedObject, "version " + std::to_string(version) + " of pipeline " +
                                                std::to_string(pipeline_id) + " does not exist");
  const std::string& project = *rows[0][1];
  const std::string& name = *rows[0][2];
  core::PipelineSpec spec;
  try {
    spec = ReadSpec(*rows[0][0]);
  } catch (const Error& e) {
    throw e.WithContext("version " + std::to_string(version) + " of pipeline \"" + name + "\"");
  }
  for (const auto& block : spec.blocks) {
    if (!block.shared || block.pin.empty()) continue;
    SqlValue now = CatalogScalar(
        "SELECT hash FROM pipeline.blocks WHERE project = $1 AND pipeline_id IS NULL AND name = $2",
        {project, block.name});
    if (now == SqlValue(block.pin)) continue;
    throw Error("55000",
                "shared block \"" + block.name + "\" of project \"" + project + "\" " +
                    (now ? "changed" : "was removed") + " after version " + std::to_string(version) +
                    " of pipeline \"" + name + "\" was registered",
                "A pipeline version runs the shared blocks it was registered with, and refuses to "
                "run once one of them changes.",
                "Register the pipeline again to use the block as it is now.");
  }
  return spec;
}

}  // namespace pgpipe::pg
