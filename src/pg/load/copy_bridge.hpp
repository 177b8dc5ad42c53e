// The loader's bridge into Postgres's COPY FROM: bytes from a core::HttpSource (download and
// gzip inflate on another thread) go through COPY's data-source callback, so parsing, type
// input, bad-row messages and pg_stat_progress_copy are Postgres's own. Used by
// pipeline.load_csv and by data_loader blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/http_source.hpp"
#include "core/spec.hpp"
#include "pg/load/projection.hpp"

namespace pgpipe::pg {

// The most conditions one load counts as it goes (LoadRequest::count_if).
constexpr int kMaxLoadCounts = 32;

struct LoadRequest {
  core::SourceSpec source;  // url (already evaluated), CSV options, column types
  std::string target;       // table name, optionally schema-qualified, SQL syntax
  bool create = false;      // create the target from the header and column types when missing
  bool must_be_new = false; // ... and refuse one that exists (a run's staging or fused target)
  bool unlogged = false;    // ... as an UNLOGGED table (staging)
  std::string options;      // ... WITH these storage parameters ("" none)
  std::string where;        // a row filter (SQL boolean over the target's columns), as COPY's WHERE
  Projection projection;    // a new target's columns beyond the file's (projection.hpp)
  // Conditions over the target's columns (SQL booleans, at most kMaxLoadCounts) whose true rows
  // among those loaded the load counts as it reads them, into LoadResult::counted: a block's
  // counting tests judged without a scan of what was loaded. They name only the columns in
  // count_if_columns; when the file lacks one of those (an optional column), nothing is counted.
  std::vector<std::string> count_if;
  std::vector<std::string> count_if_columns;
};

struct LoadResult {
  uint64_t rows = 0;           // rows inserted
  uint64_t rows_excluded = 0;  // rows the WHERE filter dropped
  int64_t bytes_downloaded = 0;
  int64_t bytes_decompressed = 0;
  int64_t na_fields = 0;       // fields na_values made NULL
  bool created = false;
  double seconds = 0;
  unsigned int relid = 0;  // a load split across workers: its relation
  int workers = 0;         // ... and the load workers that loaded parts of it
  std::vector<std::string> finish;  // a projection: the statements that finish its table
  std::vector<int64_t> counted;     // per LoadRequest::count_if condition, the loaded rows it was true of
                                    // (empty when nothing was counted)
};

// Whether the conditions of `request` can be counted by a load whose file loads into `columns`:
// every column they name is one of them.
bool CountableWith(const LoadRequest& request, const std::vector<std::string>& columns);

// Whether a load can count conditions as it reads (LoadRequest::count_if): the catalog has
// pipeline._count_row (pg_pipeline 0.3 on) and the current role may execute it.
bool LoadCountingAvailable();

// The fetch options for `source` under the pipeline.* GUCs: timeouts, stall limits, redirects,
// size cap, and for roles other than superusers pipeline.allowed_url_prefixes.
core::FetchOptions FetchOptionsFor(const core::SourceSpec& source);

// Whether bytes of a file in this encoding may not be what they look like: a client-only
// multibyte encoding (SJIS, BIG5, GBK, UHC, GB18030) hides ASCII-valued bytes inside its
// characters, so a scan for quotes and delimiters outside COPY would go wrong; or an unknown name.
bool EncodingHidesAscii(const std::string& encoding);

// "N fields of the file read as NULL (na_values)", or "" when none were.
std::string NaNote(const LoadResult& loaded);

// Streams the source into the target in the current transaction. If the process exits while a
// load runs (pg_terminate_backend: a FATAL exits without unwinding C++ frames), an exit callback
// stops and joins the download thread first; throws core::Error naming the
// cause (HTTP, network, gzip, header, a bad row with its line and column). On any error the
// transaction aborts, so the target is left exactly as it was.
LoadResult LoadCsv(const LoadRequest& request);

}  // namespace pgpipe::pg
