// The background workers that execute runs, and how they are started. pipeline.run starts one
// as the calling role and waits: the run commits its history in the worker, apart from the
// caller's transaction, so a failed run stays recorded though the caller's statement fails. The
// launcher starts one per queued run it claims; a run's worker starts block workers for blocks
// that do not depend on each other.
//
// A worker connects as the run's role when that role may log in (session_user is then the
// role, and its ALTER ROLE settings apply), else as the bootstrap superuser and then for good as
// the role (SetUserIdAndSecContext with SECURITY_LOCAL_USERID_CHANGE, which forbids SET ROLE
// and SET SESSION AUTHORIZATION back): Postgres 15 cannot start a worker session for a role that
// may not log in. Signals: SIGINT is a user's cancel, SIGTERM the server's shutdown.
#pragma once

#include <cstdint>
#include <string>

struct BackgroundWorkerHandle;

namespace pgpipe::pg {

// Runs pipeline `name` in a new background worker as the current role, waits for it, and returns
// the run id; throws the failing block's error (with the run named in the context) on failure.
int64_t RunInWorker(const std::string& project, const std::string& name, const std::string& variables_json);

// Starts a worker executing queued run `run_id` as role `owner`; nullptr when no worker slot is
// free. Used by the launcher; it does not wait.
BackgroundWorkerHandle* StartQueuedRunWorker(int64_t run_id, unsigned int owner);

// Starts a block worker running block `block` of run `run_id` as role `owner`; it notifies this
// process when it exits. nullptr when no worker slot is free.
BackgroundWorkerHandle* StartBlockWorker(int64_t run_id, const std::string& block, unsigned int owner);

// Starts load worker `index` of the split load whose shared memory is segment `segment`
// (src/pg/load/parallel_shm.hpp: it names the role and database); it notifies this process
// when it exits. nullptr when no worker slot is free.
BackgroundWorkerHandle* StartLoadWorker(unsigned int segment, int index, const std::string& name);

// Whether `role` may log in (a worker can then connect as it); reads the catalog, in a
// transaction of its own when none is open.
bool RoleCanLogin(unsigned int role);

// Connects this background worker to `database` as `role` (see the file comment), with the
// run workers' signal handlers: SIGINT cancels the statement, SIGTERM also sets
// g_shutdown_requested.
void ConnectAs(unsigned int database, unsigned int role, bool login);

}  // namespace pgpipe::pg
