// Acting as someone: the one place where pg_pipeline changes who it is.
//
// The catalog belongs to the extension's owner and nobody else writes it. SQL functions act as
// the calling role (they check what it owns with CanActAs); the writes themselves, and every
// catalog read a worker trusts, go through AsExtensionOwner, which runs a piece of our own SQL
// as the extension's owner under search_path pg_catalog, pipeline, pg_temp and in a
// security-restricted operation (as Postgres does for maintenance commands and pg_cron for
// cron.schedule), then puts the caller's role and search_path back. User SQL never runs inside.
#pragma once

#include <utility>

#include "pg/boundary.hpp"
#include "pg/spi.hpp"

namespace pgpipe::pg {

// The role that owns the extension (it ran CREATE EXTENSION, a superuser).
Oid ExtensionOwner();

// The role this backend acts as now (GetUserId).
Oid CurrentRole();

// True when `role` has the privileges of `owner` (pg_has_role(role, owner, 'USAGE')).
bool CanActAs(Oid role, Oid owner);

// The role's name, for messages ("" when it no longer exists).
std::string RoleName(Oid role);

// Switches to the extension's owner and the fixed search_path until destroyed; see the file
// comment. The transaction's abort restores both too, so a Postgres error inside is safe.
class ExtensionOwnerScope {
 public:
  ExtensionOwnerScope();
  ~ExtensionOwnerScope();
  ExtensionOwnerScope(const ExtensionOwnerScope&) = delete;
  ExtensionOwnerScope& operator=(const ExtensionOwnerScope&) = delete;

 private:
  Oid saved_user_;
  int saved_context_;
  int guc_level_;
};

// Runs fn() as the extension's owner (see ExtensionOwnerScope) and returns what it returns.
template <typename F>
decltype(auto) AsExtensionOwner(F&& fn) {
  ExtensionOwnerScope scope;
  return std::forward<F>(fn)();
}

// Acts as `role` until destroyed (a worker or the launcher doing something on a role's behalf,
// such as queueing the run a missed schedule firing owes it). search_path is left alone: the
// caller has fixed it already. The transaction's abort restores the role too.
class RoleScope {
 public:
  explicit RoleScope(Oid role);
  ~RoleScope();
  RoleScope(const RoleScope&) = delete;
  RoleScope& operator=(const RoleScope&) = delete;

 private:
  Oid saved_user_;
  int saved_context_;
};

// Catalog SQL as the extension's owner: SpiQuery, SpiExec and SpiScalar inside AsExtensionOwner.
std::vector<SqlRow> CatalogQuery(const std::string& sql, const std::vector<SqlValue>& params = {});
uint64_t CatalogExec(const std::string& sql, const std::vector<SqlValue>& params = {});
SqlValue CatalogScalar(const std::string& sql, const std::vector<SqlValue>& params = {});

}  // namespace pgpipe::pg
