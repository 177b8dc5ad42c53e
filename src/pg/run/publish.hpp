// The executor's layer 3: how an exporter publishes, shared by the plain exporter and the fused
// chain. replace builds the new table beside the old one (under a name with a random part) and
// swaps it in at commit, so readers never see it half-loaded and a failed run leaves the target
// exactly as it was; append inserts; fail refuses an existing table. Runs publishing to one
// target take turns.
#pragma once

#include <string>

#include "pg/run/context.hpp"

namespace pgpipe::pg {

struct Publication {
  std::string target;  // schema.table, quoted
  bool exists = false;
  std::string fresh;   // replace of an existing table: the new table to build, quoted
};

// Takes the target's locks, creates its schema only when it is missing (CREATE on the database
// is needed for that alone), refuses `fail` when the target exists; returns where to write.
Publication BeginPublish(const core::TargetSpec& target);

// replace: drops the old table and renames the fresh one into its place (2BP01 named when other
// objects depend on the old one). Nothing to do otherwise.
void FinishPublish(const Publication& publication, const core::TargetSpec& target);

// Refuses `fail` when the target exists, without taking the publish locks: the early check of
// a load split across workers, whose relation is built before its exporter's transaction.
void CheckPublishable(const core::TargetSpec& target);

// Publishes staging table `relid` (new, loaded and tested by this run) as the target, under
// BeginPublish's locks: moves it into the target's schema, then swaps it in (replace) or names
// it the target (a new target).
void AdoptStaged(const Publication& publication, const core::TargetSpec& target, unsigned int relid);

// Runs exporter `block` in the current transaction: publishes its SQL, or its one upstream's
// output, after running its tests on what would be published.
void Export(Run& run, const core::BlockSpec& block, AttemptResult& result);

}  // namespace pgpipe::pg
