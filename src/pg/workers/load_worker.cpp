// A load worker: one part of a load split across workers (src/pg/load/parallel_load.hpp). It
// attaches to the load's shared memory (parallel_shm.hpp, which describes the protocol),
// connects as the run's role, registers for the run so pipeline.cancel reaches it, and runs one
// COPY, in one transaction, into the load's relation over the chunks its queue brings. It
// reports its counts, or its error with the file line COPY was at, in its slot and exits. It
// commits only when its leader sent every chunk; the leader publishes (or drops) the relation.
extern "C" {
#include "postgres.h"

#include "commands/copy.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "utils/resowner.h"

PGDLLEXPORT void pipeline_load_worker_main(Datum main_arg);
}

#include <cstring>

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/load/chunk_copy.hpp"
#include "pg/load/parallel_shm.hpp"
#include "pg/run/context.hpp"
#include "pg/txn.hpp"
#include "pg/workers/run_worker.hpp"
#include "pg/workers/shmem.hpp"

namespace pgpipe::pg {

namespace {

using core::Error;

// Set when this worker stops because the load stopped (not a failure of its own).
bool g_told_to_stop = false;

// Chunks from the leader's queue. The bytes of a message stay valid until the next receive.
class QueueFeed : public ChunkFeed {
 public:
  QueueFeed(shm_mq_handle* queue, LoadShared* shared) : queue_(queue), shared_(shared) {}

  // The next chunk (waiting for it, serving interrupts), or false at the end of the data.
  bool Next(ChunkView* out) override {
    if (pg_atomic_read_u32(&shared_->stop) != 0) throw Stopped();
    Size size = 0;
    void* data = nullptr;
    shm_mq_handle* queue = queue_;
    shm_mq_result result = PgCall([&] { return shm_mq_receive(queue, &size, &data, false); });
    if (result == SHM_MQ_DETACHED) {
      pg_memory_barrier();
      if (pg_atomic_read_u32(&shared_->input_complete) != 0 && pg_atomic_read_u32(&shared_->stop) == 0)
        return false;
      throw Stopped();
    }
    if (result != SHM_MQ_SUCCESS || size < sizeof(ChunkHeader))
      throw Error(core::sqlstate::kInternalError, "pg_pipeline: damaged chunk message of a split load");
    ChunkHeader header;
    std::memcpy(&header, data, sizeof header);
    // (past a line another part failed at: a single COPY would never have read this chunk)
    if (static_cast<uint64>(header.first_line) > pg_atomic_read_u64(&shared_->fail_line)) throw Stopped();
    out->data = static_cast<const char*>(data) + sizeof header;
    out->size = size - sizeof header;
    out->first_line = header.first_line;
    out->line_offset = header.line_offset;
    return true;
  }

 private:
  // The error of a part that stops because the load stopped (marked so: not its own failure).
  static Error Stopped() {
    g_told_to_stop = true;
    return Error(core::sqlstate::kQueryCanceled, "the load this worker was part of stopped");
  }
  shm_mq_handle* queue_;
  LoadShared* shared_;
};

// Loads part `index`: the COPY over the queue's chunks, committed. Fills the slot's counts.
void LoadPartOf(dsm_segment* segment, shm_toc* toc, LoadShared* shared, int index, int64_t* error_line) {
  LoadPart& part = shared->parts[index];
  if (shared->run_id > 0) PgCall([shared] { RegisterRunWorker(shared->run_id); });
  shm_mq_handle* queue = PgCall([&] {
    shm_mq* mq = static_cast<shm_mq*>(shm_toc_lookup(toc, kKeyQueue + index, false));
    shm_mq_set_receiver(mq, MyProc);
    return shm_mq_attach(mq, segment, nullptr);
  });
  const char* packed = static_cast<const char*>(PgCall([toc] { return shm_toc_lookup(toc, kKeySetup, false); }));
  Size packed_size = 0;
  std::memcpy(&packed_size, packed, sizeof packed_size);
  LoadSetup setup = UnpackSetup(packed + sizeof packed_size, packed_size);
  pg_atomic_write_u32(&part.state, kPartLoading);

  std::vector<const char*> count_if;
  CopySpec spec = PartSpec(setup, &count_if);
  QueueFeed feed(queue, shared);
  BeginWork();
  CopyCounts counts;
  try {
    counts = CopyChunks(shared->relid, spec, &feed, shared->leader_pid, error_line);
    CommitWork();
  } catch (...) {
    AbortWork();
    throw;
  }
  part.rows = counts.rows;
  part.excluded = counts.excluded;
  std::memcpy(part.counted, counts.counted, sizeof part.counted);
}

}  // namespace

}  // namespace pgpipe::pg

// Entry point of a load worker: the argument is the load's DSM segment, bgw_extra the index.
void pipeline_load_worker_main(Datum main_arg) {
  using namespace pgpipe::pg;
  int index = 0;
  std::memcpy(&index, MyBgworkerEntry->bgw_extra, sizeof index);
  CurrentResourceOwner = ResourceOwnerCreate(nullptr, "pg_pipeline load worker");
  dsm_segment* segment = dsm_attach(DatumGetUInt32(main_arg));
  if (segment == nullptr) proc_exit(0);  // the leader is gone already: nothing to do
  dsm_pin_mapping(segment);
  shm_toc* toc = shm_toc_attach(kLoadMagic, dsm_segment_address(segment));
  LoadShared* shared = toc ? static_cast<LoadShared*>(shm_toc_lookup(toc, kKeyShared, true)) : nullptr;
  if (shared == nullptr || index < 0 || index >= shared->workers)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("pg_pipeline load worker found no load to work on")));
  LoadPart* part = &shared->parts[index];
  part->pid = MyProcPid;
  ConnectAs(shared->database, shared->role, shared->login);

  CaughtError caught;
  bool failed = false;
  int64_t error_line = 0;
  try {
    LoadPartOf(segment, toc, shared, index, &error_line);
  } catch (...) {
    CatchInto(&caught);
    failed = true;
  }
  if (failed) {
    // Told to stop (the leader's flag, its SIGTERM): not this part's own failure.
    bool stopped = g_told_to_stop || pg_atomic_read_u32(&shared->stop) != 0 || g_shutdown_requested;
    part->error = caught;
    part->error_line = error_line;
    if (!stopped && error_line > 0) {
      uint64 line = static_cast<uint64>(error_line);
      uint64 lowest = pg_atomic_read_u64(&shared->fail_line);
      while (line < lowest && !pg_atomic_compare_exchange_u64(&shared->fail_line, &lowest, line)) {
      }
    }
    pg_write_barrier();
    pg_atomic_write_u32(&part->state, stopped ? kPartStopped : kPartFailed);
  } else {
    pg_write_barrier();
    pg_atomic_write_u32(&part->state, kPartDone);
  }
  dsm_detach(segment);
  proc_exit(0);
}
