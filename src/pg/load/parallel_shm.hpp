// The shared memory of one load split across workers: a DSM segment the leader (the process
// that downloads, inflates and chunks) makes once the load's relation exists, read by its load
// workers (src/pg/workers/load_worker.cpp). Its shm_toc holds:
//   kKeyShared     LoadShared: who the workers connect as, the relation, two flags, and one
//                  result slot per worker;
//   kKeySetup      what every part's COPY needs besides the relation (options, filter, column
//                  names), as a count and NUL-terminated strings (PackSetup / UnpackSetup);
//   kKeyQueue + i  worker i's shm_mq, leader to worker: chunk messages, each a ChunkHeader
//                  followed by the chunk's bytes (whole records).
//
// Protocol. The leader writes everything but the queues' contents before it starts a worker.
// A worker attaches, connects as the run's role, and runs one COPY in one transaction over the
// chunks it receives. The leader detaches from a queue when it has nothing more to send: after
// setting input_complete, that is the end of the data (the worker commits and reports kDone
// with its counts); without it, the leader gave up. A worker that fails on its own reports
// kFailed with its error and the file line COPY was at, and lowers fail_line to it; a worker
// stops (kStopped) at a chunk that begins past fail_line, at a detached queue without
// input_complete, on stop, or on SIGTERM. After a part failed, the leader detaches and waits
// for every worker to end (so the lowest failing line is found); on its own interrupt (cancel,
// timeout, shutdown) it sets stop and terminates them at once. The leader reads a slot only
// after its worker has set a final state or exited.
// Include after postgres.h and commands/copy.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include "port/atomics.h"
}

#include "core/error.hpp"
#include "core/spec.hpp"
#include "pg/boundary.hpp"
#include "pg/load/copy_into.hpp"

namespace pgpipe::pg {

constexpr uint64 kLoadMagic = 0x7067706c6f616431;  // "pgploadl"
constexpr uint64 kKeyShared = 1;
constexpr uint64 kKeySetup = 2;
constexpr uint64 kKeyQueue = 100;  // + worker index

// What a load worker's part came to.
enum PartState : uint32 { kPartStarting = 0, kPartLoading, kPartDone, kPartFailed, kPartStopped };

// One load worker's result, written by that worker only.
struct LoadPart {
  pg_atomic_uint32 state;  // a PartState
  int pid;
  uint64 rows;
  uint64 excluded;
  int64 counted[kMaxLoadCounts];  // kPartDone: per counted condition (LoadSetup::count_if), its rows
  int64 error_line;        // kPartFailed: the file line COPY was at (0 unknown)
  CaughtError error;       // kPartFailed: the error
};

struct LoadShared {
  Oid database;
  Oid role;
  bool login;             // the role may log in: workers connect as it
  int64 run_id;           // workers register for it (pipeline.cancel reaches them); 0 none
  int leader_pid;
  Oid relid;              // the load's relation, committed before any worker starts
  int workers;            // slots in parts
  pg_atomic_uint32 input_complete;  // every chunk was sent: a detached queue is the end of data
  pg_atomic_uint32 stop;            // the leader gave up: workers stop
  pg_atomic_uint64 fail_line;       // the lowest file line a part failed at (PG_UINT64_MAX none)
  LoadPart parts[FLEXIBLE_ARRAY_MEMBER];
};

// The header of a chunk message; the chunk's bytes follow it.
struct ChunkHeader {
  int64 first_line;   // core::CsvChunk's
  int64 line_offset;  // core::CsvChunk's
};

// What every part's COPY needs besides the relation, as the leader packs it.
struct LoadSetup {
  core::SourceSpec source;           // CSV options only: delimiter, quote, escape, null, encoding
  std::string where;                 // "" none
  std::vector<std::string> count_if; // conditions every part counts (LoadRequest::count_if)
  std::vector<std::string> columns;  // the file's columns, in file order
};

// The setup as bytes: a count, then NUL-terminated strings (none of them can hold a NUL): the
// options, the filter, how many counted conditions and they, then the columns.
inline std::string PackSetup(const LoadSetup& s) {
  std::vector<std::string> items = {s.source.delimiter, s.source.quote, s.source.escape,   s.source.null_string,
                                    s.source.encoding,  s.where,        std::to_string(s.count_if.size())};
  items.insert(items.end(), s.count_if.begin(), s.count_if.end());
  items.insert(items.end(), s.columns.begin(), s.columns.end());
  std::string out = std::to_string(items.size());
  out.push_back('\0');
  for (const auto& item : items) {
    out += item;
    out.push_back('\0');
  }
  return out;
}

// The setup from PackSetup's bytes (`size` of them at `data`).
inline LoadSetup UnpackSetup(const char* data, size_t size) {
  std::vector<std::string> items;
  for (size_t at = 0; at < size;) {
    size_t len = strnlen(data + at, size - at);
    items.emplace_back(data + at, len);
    at += len + 1;
  }
  const auto damaged = [] { return core::Error(core::sqlstate::kInternalError, "pg_pipeline: damaged setup of a split load"); };
  if (items.size() < 8 || std::stoul(items[0]) != items.size() - 1) throw damaged();
  const size_t counted = std::stoul(items[7]);
  if (counted > static_cast<size_t>(kMaxLoadCounts) || items.size() < 8 + counted) throw damaged();
  LoadSetup s;
  s.source.delimiter = items[1];
  s.source.quote = items[2];
  s.source.escape = items[3];
  s.source.null_string = items[4];
  s.source.encoding = items[5];
  s.where = items[6];
  s.count_if.assign(items.begin() + 8, items.begin() + 8 + counted);
  s.columns.assign(items.begin() + 8 + counted, items.end());
  return s;
}

// The COPY of one part (no header: the leader read it), as the setup says; `count_if` holds the
// counted conditions' pointers for as long as the spec is used.
inline CopySpec PartSpec(const LoadSetup& s, std::vector<const char*>* count_if) {
  CopySpec spec;
  spec.source = &s.source;
  spec.columns = &s.columns;
  spec.where = s.where.empty() ? nullptr : s.where.c_str();
  spec.header = false;
  count_if->clear();
  for (const auto& c : s.count_if) count_if->push_back(c.c_str());
  spec.count_if = count_if->data();
  spec.count_if_n = static_cast<int>(count_if->size());
  return spec;
}

}  // namespace pgpipe::pg
