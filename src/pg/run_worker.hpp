// The background worker that executes runs, and how a backend starts one and waits for it.
// pipeline.run starts a worker as the calling role and waits: the run commits its history in
// the worker, apart from the caller's transaction, so a failed run stays recorded even though
// the caller's statement fails. (The launcher of the background-worker issue will start the same
// worker for queued runs.)
#pragma once

#include <cstdint>
#include <string>

struct BackgroundWorkerHandle;

namespace pgpipe::pg {

// Runs pipeline `name` in a new background worker as the current role, waits for it, and returns
// the run id; throws the failing block's error (with the run named in the context) on failure.
int64_t RunInWorker(const std::string& project, const std::string& name,
                    const std::string& variables_json);

// Starts a worker executing queued run `run_id` as role `owner`, and returns its handle (nullptr
// when no worker slot is free). Used by the launcher; it does not wait.
struct BackgroundWorkerHandle* StartQueuedRunWorker(int64_t run_id, unsigned int owner);

// Starts a block worker running block `block` of run `run_id` as role `owner`; it notifies this
// process when it exits. nullptr when no worker slot is free.
struct BackgroundWorkerHandle* StartBlockWorker(int64_t run_id, const std::string& block,
                                                unsigned int owner);

}  // namespace pgpipe::pg
