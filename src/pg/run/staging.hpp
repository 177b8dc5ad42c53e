// The executor's layer 2: staging relations, the outputs of loaders and transformers.
//
// Each role stages in a schema of its own, made by the extension on first use, owned by that
// role and recorded in pipeline.staging_schemas: no other role can create anything there, so
// nobody can pre-create a relation a run will use. A run creates each staging relation new
// (never reusing one), under a name with a random part, and records it by OID in
// pipeline.staging after checking its owner and kind. Clean-up drops only relations recorded
// so, RESTRICT (never CASCADE onto someone else's objects), views before the tables they read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/run/context.hpp"

namespace pgpipe::pg {

// Eight hex digits from the strong random source: name parts nobody can guess.
std::string RandomHex();

// Makes sure role `role` has its staging schema (in a transaction of its own, before a run's
// blocks: two workers of one role must not wait on each other for it). Returns it, quoted.
std::string EnsureStagingSchema(unsigned int role);

// A fresh name for the output of `block` in run `run`, in the run owner's staging schema.
std::string NewStagingName(const Run& run, const std::string& block);

// Records `relation`, just created by the run's role as `relkind` ('r' or 'v') for `block`, as
// staging of the run, after checking that it is that role's, of that kind, in its staging
// schema. Returns its OID.
unsigned int RecordStaging(const Run& run, const std::string& block, const std::string& relation,
                           char relkind);

// Whether `relid` is still a staging relation recorded for role `owner` (a resumed run reuses
// only such outputs). `rows_known` > 0 and an empty table means crash recovery emptied it.
bool StagingIntact(unsigned int relid, unsigned int owner, int64_t rows_known);

// Drops staging relation `relid` when it is recorded (a load that failed after committing
// its new relation: parallel ingest). Nothing when it is not.
void DropStagingRelation(unsigned int relid);

// Drops what earlier attempts of `block` in run `run_id` left recorded that is no block's output:
// a load whose worker died after its relation was committed (parallel ingest).
void DropLeftoverStaging(int64_t run_id, const std::string& block);

// Forgets staging relation `relid` (it was published: moved out of the staging schema).
void ForgetStaging(unsigned int relid);

// Drops the staging a run made or reused (after it succeeded). Each drop is its own
// subtransaction: what cannot be dropped (another role built a view on it) is left, logged.
void DropRunStaging(const Run& run);

// Drops staging of runs that ended longer ago than `age_s` seconds (retention), only `owner`'s
// when given (a worker sweeping for its role), everybody's otherwise (the launcher).
void DropExpiredStaging(int age_s, std::optional<unsigned int> owner);

// Drops the staging recorded for the runs listed (pruning history, dropping a pipeline).
void DropStagingOfRuns(const std::vector<int64_t>& run_ids);

}  // namespace pgpipe::pg
