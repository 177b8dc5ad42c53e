// A load split across workers: see parallel_load.hpp; the shared memory and the protocol with
// the workers: parallel_shm.hpp.
//
// The leader, after the relation is committed (Distribute):
//   - feeds the chunker what the source has read; every chunk it completes joins `pending`
//     (a chunk of one record ending in a lone '\r' waits to be joined to the next: see
//     chunk_copy.hpp);
//   - on the first chunk that is not the last, starts the workers (a one-chunk file starts none
//     and the leader loads it itself, as it loads everything when no worker could start);
//   - hands pending chunks to workers round the ring: shm_mq_sendv without waiting; a message
//     a full queue took only in part stays in flight on that queue and is retried as it was;
//   - reads the source only when nothing is pending, so at most one read's chunks and one
//     message per worker are held: memory does not grow with the file;
//   - sleeps on its latch (workers set it as they read and when they exit) and, when it waits
//     for the source, on the source's eventfd; every wake-up looks at the workers' slots.
// At the end of the data it sets input_complete, detaches from the queues and waits until every
// worker has reported. Failure (Abandon): stop, detach, terminate and wait for the workers with
// interrupts held, drop the relation, report the error parallel_load.hpp describes.
extern "C" {
#include "postgres.h"

#include "access/table.h"
#include "commands/copy.h"
#include "commands/progress.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "utils/backend_progress.h"
#include "utils/memutils.h"
}

#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include "core/csv_chunker.hpp"
#include "core/error.hpp"
#include "core/url.hpp"
#include "pg/boundary.hpp"
#include "pg/gucs.hpp"
#include "pg/load/chunk_copy.hpp"
#include "pg/load/copy_bridge.hpp"
#include "pg/load/parallel_load.hpp"
#include "pg/load/parallel_shm.hpp"
#include "pg/txn.hpp"
#include "pg/wait.hpp"
#include "pg/workers/run_worker.hpp"

// Reads nothing and ends at once: the leader's COPY that only checks (Leader::CreateRelation).
extern "C" int EmptyCopySource(void*, int, int) { return 0; }

namespace pgpipe::pg {

using core::Error;
namespace sqlstate = core::sqlstate;

namespace {

constexpr Size kQueueBytes = 4 * 1024 * 1024;  // each worker's queue: a few chunks
constexpr int kReadBytes = 256 * 1024;          // one read from the source

// Any exception as our Error (ours as it is, anything else as XX000).
Error AsLoadError(const std::exception& e) {
  if (const Error* ours = dynamic_cast<const Error*>(&e)) return *ours;
  return Error(sqlstate::kInternalError, std::string("internal error: ") + e.what());
}

// Whether an error is an interrupt of this process (a cancel, a timeout, a shutdown): it wins
// over the errors it causes in the workers.
bool IsInterrupt(const Error& e) { return e.sqlstate() == sqlstate::kQueryCanceled || e.sqlstate().rfind("57P", 0) == 0; }

// Holds Postgres's interrupts (cancel, termination) while it lives: clean-up must finish.
struct InterruptsHeld {
  InterruptsHeld() { HOLD_INTERRUPTS(); }
  ~InterruptsHeld() { RESUME_INTERRUPTS(); }
};

// The chunks the leader holds: what the chunker completed and nobody has yet.
class ChunkStream {
 public:
  ChunkStream(core::HttpSource* source, const core::SourceSpec& spec, size_t chunk_bytes)
      : source_(source),
        chunker_(core::CsvDialect{spec.delimiter[0], spec.quote[0],
                                  spec.escape.empty() ? spec.quote[0] : spec.escape[0]},
                 chunk_bytes, spec.header),
        buffer_(kReadBytes, '\0') {}

  // Chunks the bytes read before the chunker existed (the header line and what came with it).
  void FeedPrefix(const std::string& prefix) { Add(prefix.data(), prefix.size()); }

  // Reads the source once: true when that brought bytes or the end; false when it has nothing
  // yet (wait on ReadyFd).
  bool ReadOnce() {
    int n = source_->Read(buffer_.data(), kReadBytes);
    if (n == core::HttpSource::kWouldBlock) return false;
    if (n == 0) {
      std::vector<core::CsvChunk> out;
      chunker_.Finish(&out);
      for (auto& c : out) Queue(std::move(c));
      if (carry_) pending_.push_back(std::move(*carry_));
      carry_.reset();
      finished_ = true;
    } else {
      Add(buffer_.data(), static_cast<size_t>(n));
    }
    return true;
  }

  // The next chunk, read from the source as needed (waiting on it, serving interrupts); false
  // at the end of the data.
  bool Take(core::CsvChunk* out) {
    while (pending_.empty()) {
      if (finished_) return false;
      if (!ReadOnce()) WaitOnLatch(1000, source_->ReadyFd());
    }
    *out = std::move(pending_.front());
    pending_.pop_front();
    return true;
  }

  // The chunks waiting for a worker (the leader takes them from the front).
  std::deque<core::CsvChunk>& pending() { return pending_; }
  // True once the source ended and every chunk is pending or taken.
  bool finished() const { return finished_; }
  // Readable when the source has something for ReadOnce.
  int ReadyFd() const { return source_->ReadyFd(); }

 private:
  // Feeds n bytes to the chunker and queues the chunks they complete.
  void Add(const char* data, size_t n) {
    std::vector<core::CsvChunk> out;
    chunker_.Feed(data, n, &out);
    for (auto& c : out) Queue(std::move(c));
  }

  // A chunk of one record ending in a lone '\r' is joined to the next (chunk_copy.hpp).
  void Queue(core::CsvChunk chunk) {
    if (carry_) {
      carry_->bytes += chunk.bytes;
      carry_->records += chunk.records;
      carry_->last = chunk.last;
      chunk = std::move(*carry_);
      carry_.reset();
    }
    if (chunk.records == 1 && !chunk.last && !chunk.bytes.empty() && chunk.bytes.back() == '\r') {
      carry_ = std::move(chunk);
      return;
    }
    pending_.push_back(std::move(chunk));
  }

  core::HttpSource* source_;
  core::CsvChunker chunker_;
  std::string buffer_;
  std::deque<core::CsvChunk> pending_;
  std::optional<core::CsvChunk> carry_;
  bool finished_ = false;
};

// The leader loading it all itself: chunks straight from the stream into its own COPY.
class LocalFeed : public ChunkFeed {
 public:
  LocalFeed(ChunkStream* stream, core::HttpSource* source) : stream_(stream), source_(source) {}

  // The stream's next chunk (reading and waiting for it as needed), with the download's progress.
  bool Next(ChunkView* out) override {
    if (!stream_->Take(&current_)) return false;
    core::FetchStats stats = source_->Stats();
    const int index[2] = {kProgressBytesDownloaded, kProgressDownloadSize};
    const int64 value[2] = {stats.bytes_downloaded, stats.content_length};
    PgCall([&] { pgstat_progress_update_multi_param(2, index, value); });
    out->data = current_.bytes.data();
    out->size = current_.bytes.size();
    out->first_line = current_.first_line;
    out->line_offset = current_.line_offset;
    return true;
  }

 private:
  ChunkStream* stream_;
  core::HttpSource* source_;
  core::CsvChunk current_;
};

// A chunk on its way into one worker's queue (the header must stay put until it is all in).
struct InFlight {
  core::CsvChunk chunk;
  ChunkHeader header;
};

// The leader of one split load: its relation, its shared memory, its workers.
class Leader {
 public:
  explicit Leader(const ParallelLoadRequest& request) : r_(request) {}

  // The whole load (parallel_load.hpp); throws its error after cleaning up.
  LoadResult Run();

 private:
  void CreateRelation(const std::vector<std::string>& header);
  void MakeShared();
  void StartWorkers();
  void Distribute(ChunkStream& stream, core::HttpSource& source);
  bool SendPending(ChunkStream& stream);
  bool TrySend(size_t worker);
  void CheckParts();
  void WaitForParts();
  void LoadLocally(ChunkStream& stream, core::HttpSource& source);
  void ReportProgress(core::HttpSource& source);
  std::optional<Error> Drain();
  Error Abandon(const Error& error);
  void Release() noexcept;

  const ParallelLoadRequest& r_;
  PreparedTarget target_;
  LoadSetup setup_;
  bool created_ = false;
  MemoryContext mcx_ = nullptr;
  dsm_segment* segment_ = nullptr;
  LoadShared* shared_ = nullptr;
  shm_toc* toc_ = nullptr;
  std::vector<BackgroundWorkerHandle*> handles_;
  std::vector<shm_mq_handle*> queues_;
  std::vector<std::optional<InFlight>> in_flight_;
  size_t next_worker_ = 0;
  bool progress_started_ = false;
  int64 bytes_sent_ = 0;
  bool from_part_ = false;  // the error being handled is a worker's, rethrown by CheckParts
  CopyCounts local_;  // what the leader loaded itself
};

// The new relation, in a committed transaction of its own: created from the header, recorded
// by the caller, and checked by a COPY of no rows, so that whatever a part's COPY would refuse
// (privileges, row-level security, the filter, the options) fails here, before any worker.
void Leader::CreateRelation(const std::vector<std::string>& header) {
  LoadRequest create = r_.load;
  create.create = create.must_be_new = true;
  create.options = kSplitLoadTableOptions;
  InTransaction([&] {
    target_ = PrepareTarget(create, header);
    r_.record(target_.relid);
    setup_.source = r_.load.source;
    setup_.where = r_.load.where;
    if (CountableWith(r_.load, target_.columns)) setup_.count_if = r_.load.count_if;
    setup_.columns = target_.columns;
    std::vector<const char*> count_if;
    CopySpec spec = PartSpec(setup_, &count_if);
    const Oid relid = target_.relid;
    PgCall([&] {
      Relation rel = table_open(relid, RowExclusiveLock);
      CopyFromCallback(rel, spec, EmptyCopySource, nullptr);
      table_close(rel, NoLock);
    });
  });
  created_ = true;
}

// The DSM segment: the shared struct, the setup, one queue per worker (parallel_shm.hpp).
void Leader::MakeShared() {
  const int n = r_.workers;
  std::string packed = PackSetup(setup_);
  const Size shared_size = offsetof(LoadShared, parts) + sizeof(LoadPart) * n;
  const Size setup_size = sizeof(Size) + packed.size();
  const Oid role = PgCall([] { return GetUserId(); });
  const bool login = RoleCanLogin(role);
  mcx_ = PgCall([] {
    return AllocSetContextCreate(TopMemoryContext, "pg_pipeline parallel load", ALLOCSET_SMALL_SIZES);
  });
  PgCall([&] {
    MemoryContext old = MemoryContextSwitchTo(mcx_);
    shm_toc_estimator e;
    shm_toc_initialize_estimator(&e);
    shm_toc_estimate_chunk(&e, shared_size);
    shm_toc_estimate_chunk(&e, setup_size);
    for (int i = 0; i < n; ++i) shm_toc_estimate_chunk(&e, kQueueBytes);
    shm_toc_estimate_keys(&e, 2 + n);
    Size total = shm_toc_estimate(&e);
    segment_ = dsm_create(total, 0);
    dsm_pin_mapping(segment_);
    toc_ = shm_toc_create(kLoadMagic, dsm_segment_address(segment_), total);
    shared_ = static_cast<LoadShared*>(shm_toc_allocate(toc_, shared_size));
    memset(shared_, 0, shared_size);
    shared_->database = MyDatabaseId;
    shared_->role = role;
    shared_->login = login;
    shared_->run_id = r_.run_id;
    shared_->leader_pid = MyProcPid;
    shared_->relid = target_.relid;
    shared_->workers = n;
    pg_atomic_init_u32(&shared_->input_complete, 0);
    pg_atomic_init_u32(&shared_->stop, 0);
    pg_atomic_init_u64(&shared_->fail_line, PG_UINT64_MAX);
    for (int i = 0; i < n; ++i) pg_atomic_init_u32(&shared_->parts[i].state, kPartStarting);
    shm_toc_insert(toc_, kKeyShared, shared_);
    char* setup = static_cast<char*>(shm_toc_allocate(toc_, setup_size));
    const Size packed_size = packed.size();
    memcpy(setup, &packed_size, sizeof(Size));
    memcpy(setup + sizeof(Size), packed.data(), packed.size());
    shm_toc_insert(toc_, kKeySetup, setup);
    for (int i = 0; i < n; ++i) {
      shm_mq* mq = shm_mq_create(shm_toc_allocate(toc_, kQueueBytes), kQueueBytes);
      shm_toc_insert(toc_, kKeyQueue + i, mq);
    }
    MemoryContextSwitchTo(old);
  });
}

// Starts the workers, as many as there are free worker slots, and attaches to their queues.
void Leader::StartWorkers() {
  const dsm_handle handle = PgCall([&] { return dsm_segment_handle(segment_); });
  for (int i = 0; i < r_.workers; ++i) {
    std::string name = "pg_pipeline load worker " + std::to_string(i + 1) + " of " + std::to_string(r_.workers) +
                       (r_.run_id > 0 ? " of run " + std::to_string(r_.run_id) : "");
    MemoryContext old = PgCall([&] { return MemoryContextSwitchTo(mcx_); });
    BackgroundWorkerHandle* worker = StartLoadWorker(handle, i, name);
    PgCall([old] { MemoryContextSwitchTo(old); });
    if (worker == nullptr) break;  // no free slot: go on with fewer
    handles_.push_back(worker);
    shm_mq_handle* queue = PgCall([&] {
      MemoryContext prior = MemoryContextSwitchTo(mcx_);
      shm_mq* mq = static_cast<shm_mq*>(shm_toc_lookup(toc_, kKeyQueue + i, false));
      shm_mq_set_sender(mq, MyProc);
      shm_mq_handle* q = shm_mq_attach(mq, segment_, worker);
      MemoryContextSwitchTo(prior);
      return q;
    });
    queues_.push_back(queue);
  }
  in_flight_.resize(handles_.size());
}

// Publishes the leader's own progress: a COPY FROM row of type callback whose bytes are those
// handed to the workers, with the download's bytes in pg_pipeline's two slots.
void Leader::ReportProgress(core::HttpSource& source) {
  core::FetchStats stats = source.Stats();
  const Oid relid = target_.relid;
  if (!progress_started_) {
    PgCall([relid] {
      pgstat_progress_start_command(PROGRESS_COMMAND_COPY, relid);
      const int index[2] = {PROGRESS_COPY_COMMAND, PROGRESS_COPY_TYPE};
      const int64 value[2] = {PROGRESS_COPY_COMMAND_FROM, PROGRESS_COPY_TYPE_CALLBACK};
      pgstat_progress_update_multi_param(2, index, value);
    });
    progress_started_ = true;
  }
  const int index[3] = {PROGRESS_COPY_BYTES_PROCESSED, kProgressBytesDownloaded, kProgressDownloadSize};
  const int64 value[3] = {bytes_sent_, stats.bytes_downloaded, stats.content_length};
  PgCall([&] { pgstat_progress_update_multi_param(3, index, value); });
}

// Retries worker `w`'s message in flight, or gives it the next pending chunk; true when a
// message went in whole.
bool Leader::TrySend(size_t w) {
  InFlight& f = *in_flight_[w];
  shm_mq_iovec iov[2] = {{reinterpret_cast<const char*>(&f.header), sizeof f.header},
                         {f.chunk.bytes.data(), f.chunk.bytes.size()}};
  shm_mq_handle* queue = queues_[w];
  shm_mq_result result = PgCall([&] { return shm_mq_sendv(queue, iov, 2, true, true); });
  if (result == SHM_MQ_WOULD_BLOCK) return false;
  if (result == SHM_MQ_DETACHED) {
    CheckParts();  // a worker that failed says why
    throw Error(sqlstate::kInternalError,
                "load worker " + std::to_string(w + 1) + " stopped taking chunks before the end of the data");
  }
  bytes_sent_ += static_cast<int64>(f.chunk.bytes.size());
  in_flight_[w].reset();
  return true;
}

// Hands pending chunks to workers with room; true when anything moved.
bool Leader::SendPending(ChunkStream& stream) {
  bool moved = false;
  const size_t n = queues_.size();
  for (size_t w = 0; w < n; ++w)
    if (in_flight_[w] && TrySend(w)) moved = true;
  std::deque<core::CsvChunk>& pending = stream.pending();
  for (size_t tried = 0; !pending.empty() && tried < n; ++tried) {
    size_t w = next_worker_;
    next_worker_ = (next_worker_ + 1) % n;
    if (in_flight_[w]) continue;
    InFlight f;
    f.header.first_line = pending.front().first_line;
    f.header.line_offset = pending.front().line_offset;
    f.chunk = std::move(pending.front());
    pending.pop_front();
    in_flight_[w] = std::move(f);
    tried = 0;  // a free worker took one: every other may still have room
    if (TrySend(w)) moved = true;
  }
  return moved;
}

// Throws a worker's error when it failed (or was stopped by someone else), or an error of ours
// when it exited without reporting.
void Leader::CheckParts() {
  for (size_t w = 0; w < handles_.size(); ++w) {
    uint32 state = pg_atomic_read_u32(&shared_->parts[w].state);
    if (state == kPartFailed || state == kPartStopped) {
      pg_read_barrier();
      const CaughtError& c = shared_->parts[w].error;
      from_part_ = true;
      throw Error(c.sqlstate[0] ? c.sqlstate : sqlstate::kInternalError, c.message, c.detail, c.hint, c.context);
    }
    if (state == kPartDone) continue;
    pid_t pid;
    BackgroundWorkerHandle* handle = handles_[w];
    BgwHandleStatus status = PgCall([&] { return GetBackgroundWorkerPid(handle, &pid); });
    if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED) {
      pg_read_barrier();
      uint32 now = pg_atomic_read_u32(&shared_->parts[w].state);
      if (now != kPartStarting && now != kPartLoading) return CheckParts();  // it just reported
      from_part_ = true;
      throw Error(sqlstate::kInternalError,
                  "load worker " + std::to_string(w + 1) + " exited before finishing its part",
                  "", "See the server log.");
    }
  }
}

// The leader's loop (see the file comment).
void Leader::Distribute(ChunkStream& stream, core::HttpSource& source) {
  bool started = false;
  for (;;) {
    if (started) CheckParts();
    bool moved = false;
    if (!started && !stream.pending().empty()) {
      // One chunk that is the whole file: no worker is worth starting.
      if (stream.pending().front().last) return LoadLocally(stream, source);
      StartWorkers();
      started = true;
      if (handles_.empty()) return LoadLocally(stream, source);
    }
    if (started) moved = SendPending(stream);
    bool waiting_for_source = false;
    if (stream.pending().empty()) {
      if (stream.finished()) {
        bool in_flight = false;
        for (const auto& f : in_flight_) in_flight = in_flight || f.has_value();
        if (!in_flight) break;
      } else if (stream.ReadOnce()) {
        moved = true;
      } else {
        waiting_for_source = true;
      }
    }
    if (started) ReportProgress(source);
    if (!moved) WaitOnLatch(1000, waiting_for_source ? stream.ReadyFd() : -1);
  }
  if (!started) return;  // no records at all (a header, or nothing)
  pg_atomic_write_u32(&shared_->input_complete, 1);
  pg_memory_barrier();
  for (auto& queue : queues_) {
    shm_mq_handle* q = queue;
    PgCall([q] { shm_mq_detach(q); });
    queue = nullptr;
  }
  WaitForParts();
}

// Waits until every worker has reported; throws when one failed.
void Leader::WaitForParts() {
  for (;;) {
    CheckParts();
    bool all_done = true;
    for (size_t w = 0; w < handles_.size(); ++w)
      all_done = all_done && pg_atomic_read_u32(&shared_->parts[w].state) == kPartDone;
    if (all_done) return;
    WaitOnLatch(1000);  // a worker's exit sets our latch
  }
}

// The leader loads the rest itself, in one COPY in a transaction of its own.
void Leader::LoadLocally(ChunkStream& stream, core::HttpSource& source) {
  if (progress_started_) {
    PgCall([] { pgstat_progress_end_command(); });
    progress_started_ = false;
  }
  std::vector<const char*> count_if;
  CopySpec spec = PartSpec(setup_, &count_if);
  LocalFeed feed(&stream, &source);
  BeginWork();
  try {
    local_ = CopyChunks(target_.relid, spec, &feed, 0, nullptr);
    CommitWork();
  } catch (...) {
    AbortWork();
    throw;
  }
}

// Lets every worker end on its own after a failure that is no interrupt of ours: the leader
// sends nothing more and detaches, so each worker finishes the chunks it holds unless they
// begin past the lowest line a part failed at (fail_line), then stops. Every chunk before a
// failing row was handed out before it, so the lowest failing line found is the one a single
// COPY would have reported. Returns the interrupt that cut this short, if one did.
std::optional<Error> Leader::Drain() {
  for (auto& queue : queues_) {
    if (queue == nullptr) continue;
    shm_mq_handle* q = queue;
    queue = nullptr;
    PgCall([q] { shm_mq_detach(q); });
  }
  try {
    for (;;) {
      bool running = false;
      for (BackgroundWorkerHandle* h : handles_) {
        pid_t pid;
        BgwHandleStatus status = PgCall([&] { return GetBackgroundWorkerPid(h, &pid); });
        running = running || (status != BGWH_STOPPED && status != BGWH_POSTMASTER_DIED);
      }
      if (!running) return std::nullopt;
      WaitOnLatch(1000);  // a worker's exit sets our latch
    }
  } catch (const Error& e) {
    return e;  // cancelled (or timed out, or shut down) while waiting: stop them now
  }
}

// After a failure: stops everything, drops the relation, and returns the error to report (see
// parallel_load.hpp): an interrupt of the leader's own, else the failed part's with the lowest
// file line, else the leader's error.
Error Leader::Abandon(const Error& error) {
  std::optional<Error> interrupt;
  if (!from_part_ && IsInterrupt(error)) interrupt = error;
  if (!interrupt && shared_ != nullptr) interrupt = Drain();
  std::optional<Error> part_error;
  {
    InterruptsHeld held;
    if (shared_ != nullptr) {
      pg_atomic_write_u32(&shared_->stop, 1);
      pg_memory_barrier();
    }
    try {
      PgCall([&] {
        for (auto& queue : queues_)
          if (queue != nullptr) shm_mq_detach(queue);
        for (BackgroundWorkerHandle* h : handles_) TerminateBackgroundWorker(h);
        for (BackgroundWorkerHandle* h : handles_) WaitForBackgroundWorkerShutdown(h);
      });
    } catch (const Error&) {
      // (the postmaster died: nothing is left to wait for)
    }
    for (auto& queue : queues_) queue = nullptr;
    int64 best_line = 0;
    for (size_t w = 0; w < handles_.size(); ++w) {
      LoadPart& part = shared_->parts[w];
      if (pg_atomic_read_u32(&part.state) != kPartFailed) continue;
      int64 line = part.error_line;
      bool better = !part_error || (line > 0 && (best_line == 0 || line < best_line));
      if (!better) continue;
      const CaughtError& c = part.error;
      part_error = Error(c.sqlstate[0] ? c.sqlstate : sqlstate::kInternalError, c.message, c.detail, c.hint,
                         c.context);
      best_line = line;
    }
    // (our own cancel is being handled here; the canceller's mark in shared memory stays)
    PgCall([&] {
      QueryCancelPending = false;
      if (progress_started_) pgstat_progress_end_command();
    });
    progress_started_ = false;
    if (created_) {
      std::optional<Error> not_dropped;
      try {
        InTransaction([&] { r_.drop(target_.relid); });
      } catch (const Error& e) {
        not_dropped = e;
      }
      if (not_dropped) {
        // Left recorded as the run's staging: dropped with it, or by retention.
        const char* why = not_dropped->message();
        PgCall([why] { ereport(WARNING, (errmsg("pg_pipeline: could not drop the relation of a failed load: %s", why))); });
      }
    }
  }
  if (interrupt) return *interrupt;
  return part_error ? *part_error : error;
}

// Lets go of the workers' handles, the queues and the segment.
void Leader::Release() noexcept {
  try {
    PgCall([&] {
      for (auto& queue : queues_)
        if (queue != nullptr) shm_mq_detach(queue);
      if (progress_started_) pgstat_progress_end_command();
      if (segment_ != nullptr) dsm_detach(segment_);
      if (mcx_ != nullptr) MemoryContextDelete(mcx_);
    });
  } catch (const Error&) {
  }
  queues_.clear();
  handles_.clear();
  progress_started_ = false;
  segment_ = nullptr;
  shared_ = nullptr;
  mcx_ = nullptr;
}

LoadResult Leader::Run() {
  const core::SourceSpec& source = r_.load.source;
  const auto started = std::chrono::steady_clock::now();
  LoadResult result;
  core::HttpSource stream(FetchOptionsFor(source));
  OpenSourceGuard open(&stream);
  stream.Start();
  std::vector<std::string> header;
  std::string prefix;
  if (source.header) prefix = ReadHeader(stream, source, &header);
  CreateRelation(header);
  result.created = true;
  result.relid = target_.relid;
  result.finish = target_.finish;
  try {
    MakeShared();
    ChunkStream chunks(&stream, source, static_cast<size_t>(guc.load_chunk_kb) * 1024);
    chunks.FeedPrefix(prefix);
    Distribute(chunks, stream);
  } catch (const std::exception& caught) {
    Error error = Abandon(AsLoadError(caught));
    Release();
    throw error;
  }
  result.counted.assign(setup_.count_if.size(), 0);
  for (size_t w = 0; w < handles_.size(); ++w) {
    result.rows += shared_->parts[w].rows;
    result.rows_excluded += shared_->parts[w].excluded;
    for (size_t i = 0; i < result.counted.size(); ++i) result.counted[i] += shared_->parts[w].counted[i];
  }
  result.rows += local_.rows;
  result.rows_excluded += local_.excluded;
  for (size_t i = 0; i < result.counted.size(); ++i) result.counted[i] += local_.counted[i];
  result.workers = static_cast<int>(handles_.size());
  Release();
  core::FetchStats stats = stream.Stats();
  result.bytes_downloaded = stats.bytes_downloaded;
  result.bytes_decompressed = stats.bytes_decompressed;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace

std::string WhyNotSplit(const core::SourceSpec& source) {
  if (source.urls.size() > 1) return "it reads " + std::to_string(source.urls.size()) + " files, one after another";
  if (!source.na_values.empty()) return "its na_values are rewritten by a single reader";
  if (EncodingHidesAscii(source.encoding))
    return "its encoding " + source.encoding + " may hide ASCII bytes inside multibyte characters";
  try {
    core::CsvChunker check(core::CsvDialect{source.delimiter[0], source.quote[0],
                                            source.escape.empty() ? source.quote[0] : source.escape[0]},
                           1, source.header);
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

LoadResult LoadCsvParallel(const ParallelLoadRequest& request) {
  try {
    return Leader(request).Run();
  } catch (const Error& e) {
    throw e.WithContext("loading \"" + core::RedactUrl(request.load.source.url) + "\" into " +
                        request.load.target + " (split across " + std::to_string(request.workers) +
                        " load workers)");
  }
}

}  // namespace pgpipe::pg
