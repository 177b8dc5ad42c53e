// Acting as the extension's owner: see privilege.hpp.
extern "C" {
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
}

#include "core/error.hpp"
#include "pg/privilege.hpp"

namespace pgpipe::pg {

namespace {

constexpr const char* kCatalogSearchPath = "pg_catalog, pipeline, pg_temp";

// pg_extension.extowner of pg_pipeline; ERROR when the extension is not installed here.
Oid LookupExtensionOwner() {
  Oid ext = get_extension_oid("pg_pipeline", false);
  Relation rel = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
  SysScanDesc scan = systable_beginscan(rel, ExtensionOidIndexId, true, nullptr, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  Oid owner = HeapTupleIsValid(tuple) ? ((Form_pg_extension)GETSTRUCT(tuple))->extowner : InvalidOid;
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  if (!OidIsValid(owner)) elog(ERROR, "pg_pipeline: extension %u has no owner", ext);
  return owner;
}

}  // namespace

Oid ExtensionOwner() {
  return PgCall([] { return LookupExtensionOwner(); });
}

Oid CurrentRole() {
  return PgCall([] { return GetUserId(); });
}

bool CanActAs(Oid role, Oid owner) {
  return PgCall([&] { return has_privs_of_role(role, owner); });
}

std::string RoleName(Oid role) {
  const char* name = PgCall([&] { return GetUserNameFromId(role, true); });
  return name ? name : "";
}

ExtensionOwnerScope::ExtensionOwnerScope() {
  Oid owner = ExtensionOwner();
  PgCall([&] {
    GetUserIdAndSecContext(&saved_user_, &saved_context_);
    guc_level_ = NewGUCNestLevel();
    (void)set_config_option("search_path", kCatalogSearchPath, PGC_SUSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    // Last, so that an error above leaves the role untouched (its GUC level is popped by the
    // abort that error causes).
    SetUserIdAndSecContext(owner, saved_context_ | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
  });
}

ExtensionOwnerScope::~ExtensionOwnerScope() {
  // Neither call can raise an error: AtEOXact_GUC only pops the values it saved, and
  // SetUserIdAndSecContext sets two variables. (After an error the transaction is aborting,
  // which restores both anyway; restoring first keeps the caller's identity for what follows.)
  AtEOXact_GUC(true, guc_level_);
  SetUserIdAndSecContext(saved_user_, saved_context_);
}

RoleScope::RoleScope(Oid role) {
  PgCall([&] {
    GetUserIdAndSecContext(&saved_user_, &saved_context_);
    SetUserIdAndSecContext(role, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
  });
}

RoleScope::~RoleScope() { SetUserIdAndSecContext(saved_user_, saved_context_); }

std::vector<SqlRow> CatalogQuery(const std::string& sql, const std::vector<SqlValue>& params) {
  return AsExtensionOwner([&] { return SpiQuery(sql, params); });
}

uint64_t CatalogExec(const std::string& sql, const std::vector<SqlValue>& params) {
  return AsExtensionOwner([&] { return SpiExec(sql, params); });
}

SqlValue CatalogScalar(const std::string& sql, const std::vector<SqlValue>& params) {
  return AsExtensionOwner([&] { return SpiScalar(sql, params); });
}

}  // namespace pgpipe::pg
