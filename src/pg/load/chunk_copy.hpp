// One COPY fed chunk after chunk of whole CSV records (core::CsvChunker's chunks): a part of a
// load split across workers, or the whole of one its leader loads itself. It is one COPY per
// part, not one per chunk, so the part is one row of pg_stat_progress_copy from start to end.
//
// Line numbers stay the file's. When the data-source callback hands out a chunk's first byte,
// COPY has just counted the line of the chunk's first record (NextCopyFromRawFields counts a
// line before it reads one, and reads more only once everything before is consumed), so the
// callback sets cur_lineno there: for a part's first chunk to line_offset + 1 (COPY is then in
// the state a COPY of that chunk alone begins in, which line_offset is made for); for later
// chunks to first_line (the line ending is known by then, as in a COPY of the whole file). It
// checks that COPY is between records at that moment and fails loudly if not. The one case
// where COPY reads past a record's end is a first record ending in a lone '\r' (it looks for a
// '\n'); the leader never hands out a chunk of one such record as a part's first chunk.
// Include after postgres.h and commands/copy.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pg/load/copy_into.hpp"

namespace pgpipe::pg {

// A chunk as a part's COPY reads it; the bytes stay valid until the next call of Next.
struct ChunkView {
  const char* data = nullptr;
  size_t size = 0;
  int64_t first_line = 0;   // COPY's line of its first record in a COPY of the whole file
  int64_t line_offset = 0;  // a COPY of this chunk alone: its line + line_offset = the file's
};

// Where a chunk-fed COPY gets its chunks from.
class ChunkFeed {
 public:
  virtual ~ChunkFeed() = default;
  // Sets *out to the next chunk, or returns false at the end of the data. May wait (serving
  // interrupts) and throw core::Error.
  virtual bool Next(ChunkView* out) = 0;
};

// COPY into relation `relid` (opened here) from `feed`'s chunks, in the current transaction;
// `spec.header` must be false. `leader_pid` (0: none) goes in the kProgressLoadLeader progress
// slot. On failure *error_line (may be null) is COPY's line number when it failed, the file's.
CopyCounts CopyChunks(Oid relid, const CopySpec& spec, ChunkFeed* feed, int leader_pid,
                      int64_t* error_line);

}  // namespace pgpipe::pg
