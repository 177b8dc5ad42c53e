// A COPY fed chunk after chunk: see chunk_copy.hpp.
//
// As for the single COPY (copy_bridge.cpp), the data-source callback has no user-data argument
// in PG15: the chunks being read are file-static, set only while CopyFrom runs.
extern "C" {
#include "postgres.h"

#include "access/table.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "utils/backend_progress.h"
#include "utils/rel.h"
}

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/load/chunk_copy.hpp"

namespace pgpipe::pg {

namespace {

// The chunks the running COPY reads, while it reads.
struct ActiveChunks {
  ChunkFeed* feed;
  ChunkView chunk;
  size_t pos;
  bool first;             // no chunk handed out yet
  CopyFromState cstate;   // set once BeginCopyFrom returned
  int leader_pid;
};
ActiveChunks* g_chunks = nullptr;

// Called with the COPY state before COPY reads a byte.
void ChunksBegan(CopyFromState cstate) {
  g_chunks->cstate = cstate;
  if (g_chunks->leader_pid != 0) pgstat_progress_update_param(kProgressLoadLeader, g_chunks->leader_pid);
}

// The feed's next chunk for the callback, with C++ errors captured instead of thrown.
bool NextForCopy(ActiveChunks* s, CaughtError* caught, bool* failed) {
  try {
    return s->feed->Next(&s->chunk);
  } catch (...) {
    CatchInto(caught);
    *failed = true;
    return false;
  }
}

// Makes COPY's line counter the file's for the chunk about to be read (see chunk_copy.hpp).
void StartChunkLines(ActiveChunks* s) {
  CopyFromState c = s->cstate;
  if (c == nullptr || c->line_buf.len != 0 || INPUT_BUF_BYTES(c) != 0)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("pg_pipeline: a chunk of a split load began inside a record"),
                    errdetail("COPY would number the lines of this part wrongly.")));
  c->cur_lineno = static_cast<uint64>(s->first ? s->chunk.line_offset + 1 : s->chunk.first_line);
  s->first = false;
}

}  // namespace

}  // namespace pgpipe::pg

// COPY's data-source callback for chunks: at least one byte of the current chunk, never bytes of
// two chunks at once, or 0 at the end of the data.
extern "C" int ChunkReadCallback(void* outbuf, int minread, int maxread) {
  using namespace pgpipe::pg;
  ActiveChunks* s = g_chunks;
  if (s == nullptr) elog(ERROR, "pg_pipeline: chunk callback called with no active chunks");
  while (s->pos >= s->chunk.size) {
    CaughtError caught;
    bool failed = false;
    bool more = NextForCopy(s, &caught, &failed);
    if (failed) RaiseCaught(caught);
    if (!more) return 0;
    s->pos = 0;
    if (s->chunk.size > 0) StartChunkLines(s);
  }
  size_t n = std::min<size_t>(static_cast<size_t>(maxread), s->chunk.size - s->pos);
  memcpy(outbuf, s->chunk.data + s->pos, n);
  s->pos += n;
  return static_cast<int>(n);
}

namespace pgpipe::pg {

CopyCounts CopyChunks(Oid relid, const CopySpec& spec, ChunkFeed* feed, int leader_pid,
                      int64_t* error_line) {
  ActiveChunks active = {feed, ChunkView{}, 0, true, nullptr, leader_pid};
  struct ClearActive {
    ~ClearActive() { g_chunks = nullptr; }
  } clear_active;
  g_chunks = &active;
  try {
    // From opening the relation to closing it, one guard; the frames below it (COPY, the
    // callback) hold no C++ objects.
    return PgCall([&] {
      Relation rel = table_open(relid, RowExclusiveLock);
      CopyCounts counts = CopyFromCallback(rel, spec, ChunkReadCallback, ChunksBegan);
      table_close(rel, NoLock);
      return counts;
    });
  } catch (const core::Error&) {
    // (the COPY state lives in the transaction's memory, which the abort has not freed yet)
    if (error_line != nullptr) *error_line = active.cstate ? static_cast<int64_t>(active.cstate->cur_lineno) : 0;
    throw;
  }
}

}  // namespace pgpipe::pg
