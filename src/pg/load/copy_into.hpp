// The parts of a load that the single COPY (copy_bridge.cpp) and a load split across workers
// (parallel_load.cpp, chunk_copy.cpp) share: reading the header line, making the target ready
// (created when asked, its columns matched to the header), and the one function that runs
// Postgres's COPY FROM a data-source callback into a relation, with DoCopy's checks and an
// optional WHERE. Internal to src/pg/load; include after postgres.h and commands/copy.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/http_source.hpp"
#include "core/spec.hpp"
#include "pg/load/copy_bridge.hpp"

namespace pgpipe::pg {

// What one COPY reads and how: CSV options, the file's columns in file order (COPY's column
// list), a row filter, and whether the data starts with a header line COPY skips.
struct CopySpec {
  const core::SourceSpec* source = nullptr;
  const std::vector<std::string>* columns = nullptr;
  const char* where = nullptr;  // SQL boolean over the target's columns, or nullptr
  bool header = false;
  // Conditions over the target's columns whose true rows, among those inserted, the COPY counts
  // as it reads (CopyCounts::counted): count_if_n of them (at most kMaxLoadCounts).
  const char* const* count_if = nullptr;
  int count_if_n = 0;
};

struct CopyCounts {
  uint64_t rows = 0;      // rows inserted
  uint64_t excluded = 0;  // rows the WHERE dropped
  int64_t counted[kMaxLoadCounts] = {};  // per CopySpec::count_if condition, the rows it was true of
};

// COPY FROM `callback` into `rel` (opened by the caller with RowExclusiveLock; left open): the
// INSERT privilege and row-level security checks DoCopy makes, the WHERE built as DoCopy builds
// it (then the counted conditions, evaluated on the rows that pass it: pipeline._count_row),
// BeginCopyFrom, CopyFrom, EndCopyFrom. `began` (may be null) gets the COPY state before any
// byte is read. Call it inside the caller's PgCall: it holds no C++ object and may ereport.
CopyCounts CopyFromCallback(Relation rel, const CopySpec& spec, copy_data_source_cb callback,
                            void (*began)(CopyFromState));

// Reads the source until its first line is complete; returns every byte read (COPY or the
// chunker must see them again) and sets *columns to the header's fields.
std::string ReadHeader(core::HttpSource& source, const core::SourceSpec& spec,
                       std::vector<std::string>* columns);

// The load's target made ready in the current transaction: looked up, refused when it exists
// and must be new, created from the header (or the declared columns) when missing and asked
// to (with the request's projection: in its output's order, computed columns generated), and
// the column each field of the file loads into, in file order.
struct PreparedTarget {
  Oid relid = InvalidOid;
  bool created = false;
  std::vector<std::string> columns;
  std::vector<std::string> finish;  // a projection's statements, to run after the load
};
PreparedTarget PrepareTarget(const LoadRequest& request, const std::vector<std::string>& header);

// Makes `source` the process's open source until the guard goes (the load ended by any way
// but exit): a FATAL during a load exits without unwinding the frame that owns the source, so
// an exit callback stops its thread first.
class OpenSourceGuard {
 public:
  explicit OpenSourceGuard(core::HttpSource* source);
  ~OpenSourceGuard();
  OpenSourceGuard(const OpenSourceGuard&) = delete;
  OpenSourceGuard& operator=(const OpenSourceGuard&) = delete;
};

// The COPY progress slots COPY itself leaves unused that loads fill: compressed bytes
// downloaded and the download's size (pipeline.load_progress), and for a part of a split load,
// the pid of the process that split it (pipeline.progress adds the parts up under it).
constexpr int kProgressBytesDownloaded = 10;
constexpr int kProgressDownloadSize = 11;
constexpr int kProgressLoadLeader = 12;

}  // namespace pgpipe::pg
