// One load split across N load workers (parallel ingest). This process, the leader, downloads
// and inflates on the HttpSource's producer thread as a single load does, reads the header
// once, creates the load's new relation in a transaction of its own and commits it (a relation
// of an open transaction is invisible to other backends), then cuts the decompressed stream
// into chunks of whole records (core::CsvChunker) and hands each chunk to one of N load workers
// over its shm_mq (parallel_shm.hpp). Each worker runs one COPY, in its own transaction, into
// that relation (chunk_copy.hpp); the file's line numbers survive in their errors. Rows are not
// kept in file order.
//
// Atomic as a single load: the relation is new, recorded by the caller (a run's staging), and
// the caller publishes it only when every part succeeded. Any failure (a bad row, a cancel, a
// worker that dies) stops the other workers, drops the relation through the caller's hook, and
// throws the failing worker's error: its SQLSTATE, message, detail, hint and context, the line
// the file's (the lowest, when several failed). A cancel or a shutdown of the leader wins over
// the errors it causes in the workers.
//
// When it is worth it: a file that fits in one chunk is loaded by the leader itself, in one
// transaction, without starting a worker; so is all of it when no worker slot is free
// (max_worker_processes), and workers that cannot be started are done without. Memory is
// bounded by the chunk size and the queues: nothing grows with the file.
#pragma once

#include <functional>
#include <string>

#include "pg/load/copy_bridge.hpp"

namespace pgpipe::pg {

// Storage parameters of a split load's new relation: autovacuum must not take it between the
// workers' commits and its publication (an ALTER TABLE would wait for it); publishing resets
// them.
inline constexpr const char* kSplitLoadTableOptions = "autovacuum_enabled = false, toast.autovacuum_enabled = false";

struct ParallelLoadRequest {
  LoadRequest load;  // target: the new relation's qualified, quoted name; must not exist
  int workers = 2;   // load workers to split across (>= 2)
  int64_t run_id = 0;  // the run its workers register for (pipeline.cancel), 0 none
  // Called in the transaction that creates the relation, before it commits: record it.
  std::function<void(unsigned int relid)> record;
  // Called in a transaction of its own when the load fails after that commit: drop it.
  std::function<void(unsigned int relid)> drop;
};

// Why `source` cannot be split across workers ("" when it can): an encoding that may hide
// ASCII bytes inside multibyte characters (the chunker cuts at bytes), a dialect the chunker
// refuses (a line break or NUL as delimiter, quote or escape, a backslash quote).
std::string WhyNotSplit(const core::SourceSpec& source);

// Runs the load (see the file comment). Call it outside any transaction; it runs its own.
// result.relid is the relation; result.workers the workers that loaded parts (0: the leader
// loaded it all itself).
LoadResult LoadCsvParallel(const ParallelLoadRequest& request);

}  // namespace pgpipe::pg
