// The pipeline model: what a pipeline file says, after parsing and validation. Plain data; the
// YAML parser (pipeline_yaml.cpp) builds it, validation (validate.cpp) checks it, spec_json.cpp
// writes it as the canonical JSON stored in the catalog.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace pgpipe::core {

// 1-based position in the pipeline file; line 0 means unknown. An imported Mage pipeline is
// made of several files (its metadata.yaml, its block files): `file` names the one the position
// is in, relative to the project folder ("" for the pipeline file itself).
struct Position {
  int line = 0;
  int column = 0;
  std::string file;
  std::string ToString() const;  // "line 3, column 5" or "line 3, column 5 of transformers/x.sql"
};

// Where a scalar's text lies in the file, so that a byte offset inside the text (a template
// error) is reported as the file's line and column, whatever the scalar's style: plain, quoted,
// literal (|) or folded (>), one line or many.
struct TextPosition {
  // A piece of the text that lies on one line of the file byte for byte: the byte at text
  // offset `offset` is at `at`, the next one a column further, and so on.
  struct Run {
    size_t offset = 0;
    Position at;
  };
  Position start;          // the scalar itself (its first character, quote, or | > indicator)
  std::vector<Run> runs;   // in offset order; empty when not located
  // From this offset on, the text no longer matches the file byte for byte (an escape such as
  // \t or \x41 in a double-quoted scalar): those offsets are reported at `start`.
  size_t exact_until = std::numeric_limits<size_t>::max();

  // The file position of byte `offset` of the text (`start` when it cannot be exact).
  Position At(size_t offset) const;
};


// kCustom is Mage's custom block: Python only, its output (if it returns a DataFrame) read like
// a transformer's.
enum class BlockType { kDataLoader, kTransformer, kDataExporter, kSensor, kConditional, kCallback, kCustom };

const char* BlockTypeName(BlockType type);
std::optional<BlockType> ParseBlockType(const std::string& name);
const std::vector<std::string>& BlockTypeNames();

// One typed column of a loader's source, in file order.
struct ColumnSpec {
  std::string name;
  std::string written_type;  // as the user wrote it: "Int64", "numeric(10,2)"
  std::string pg_type;       // the Postgres type name it maps to: "bigint"
  Position where;
};

// Most load workers one load may be split across (a block's `parallel`, pipeline.load_workers).
inline constexpr int kMaxLoadWorkers = 32;

// Where a data_loader gets its bytes and how to read them.
struct SourceSpec {
  std::string url;
  // Several files loaded in this order into one table (the first is `url` too): a compiled
  // Mage loader that concatenated monthly files. Each must have the same header.
  std::vector<std::string> urls;
  // Read as pandas' read_csv does (a compiled Mage loader): declared columns the file lacks are
  // NULL columns, and these strings are NULL, quoted or not.
  std::vector<std::string> optional_columns;
  std::vector<std::string> na_values;
  std::string format = "csv";
  std::string compression = "auto";  // auto | gzip | none
  std::vector<ColumnSpec> columns;
  std::vector<std::string> parse_dates;
  bool header = true;
  std::string delimiter = ",";
  std::string quote = "\"";
  std::string escape;
  std::string null_string;
  std::string encoding = "UTF8";
  double connect_timeout_s = 0;  // 0 = the GUC's value
  double timeout_s = 0;
  int64_t max_bytes = 0;               // downloaded (compressed) bytes, 0 = the GUC's value
  int64_t max_decompressed_bytes = 0;  // bytes after inflation, 0 = the GUC's value
  bool create = false;  // load_csv: create the target from the columns when it is missing
  int retries = 0;           // load_csv: attempts after the first, for transient failures
  double retry_delay_s = 0;  // load_csv: wait before each retry (a server's Retry-After may be longer)
  int parallel = 0;     // load workers a block's load is split across; 0 = pipeline.load_workers
  Position where;
  TextPosition url_at;
};

// Where a data_exporter publishes.
struct TargetSpec {
  std::string schema = "public";
  std::string table;
  std::string if_exists = "replace";  // replace | append | upsert | replace_where | fail
  // replace_where: the rows of the target this condition (a template) matches are deleted and
  // the output inserted, in one transaction; every output row must match it (re-running is then
  // idempotent: a backfill's month replaces that month only).
  std::string replace_where;
  // The columns that identify a row (unique_key, or Mage's unique_constraints): the target has a
  // unique index on them and rows go in with INSERT ... ON CONFLICT (them). Always set for upsert.
  std::vector<std::string> unique_key;
  std::string on_conflict;  // with a unique_key: update (the new row wins) | nothing (the old one)
  Position where;
};

// A check run on a block's output; a failure fails the block.
struct TestSpec {
  std::string kind;  // assert | not_null | unique | accepted_values | row_count | expression
  std::string sql;   // assert: query returning boolean; expression: row predicate
  std::vector<std::string> columns;
  std::vector<std::string> values;  // accepted_values, as SQL literals' text
  std::optional<int64_t> min_rows;
  std::optional<int64_t> max_rows;
  std::string message;
  std::string name;  // optional label for reports
  std::string severity = "error";  // error: a failure fails the block | warn: it is recorded
  Position where;
  TextPosition sql_at;  // of assert or expression
};

struct RetrySpec {
  int retries = 0;
  double delay_s = 0;
  double max_delay_s = 0;
  bool exponential_backoff = false;
};

struct BlockSpec {
  std::string name;
  BlockType type = BlockType::kTransformer;
  std::string description;
  std::vector<std::string> upstream;    // after validation: the union with others' downstream_blocks
  std::vector<std::string> downstream;  // derived, kept consistent with upstream
  std::string sql;                      // transformer / loader query / conditional / sensor condition
  std::optional<SourceSpec> source;
  std::optional<TargetSpec> target;
  std::vector<TestSpec> tests;
  RetrySpec retry;
  double timeout_s = 0;         // per attempt, 0 = none
  std::string materialize;      // "", view, table
  bool shared = false;          // a project block shared by the project's pipelines
  bool reference_only = false;  // `- name: x, shared: true` with no body: use the project's block
  std::string sensor_url;
  double interval_s = 0;        // sensor poll interval
  std::string on_success;       // callback SQL
  std::string on_failure;
  std::string yaml;             // the block's own YAML text, as stored for shared blocks
  std::string pin;              // a shared block: the hash of the definition it was resolved to
  std::string trigger_rule = "all_success";  // when it runs, given how its upstream blocks ended
  std::string language = "sql";   // sql | python (a Mage Python block, run by PL/Python)
  std::string python;             // python: the block file's text, run unchanged
  std::string file;               // python: the file it came from ("transformers/x.py"), for messages
  std::string configuration_json; // python: Mage's block configuration as JSON ("" none)
  // A block compiled from a Mage Python file (python/pg_pipeline_runtime/compile.py): the file
  // it came from; `python` keeps the file's text, for reference only.
  std::string compiled_from;
  // Renames of the output's columns, in order, after its SQL and before its tests (a compiled
  // block's rename(columns=...), or Mage's lower-casing on export): each {"map": {...}} or
  // {"expression": "<SQL over name>"}, as JSON.
  std::string rename_columns_json;
  // Queries whose one value is a run log line (a compiled block's print()s).
  std::vector<std::string> log_queries;
  Position where;
  Position name_at;             // of its name (uuid in Mage files)
  // Where each name of `upstream` / `downstream` was written, aligned with those lists as
  // parsed; validation keeps upstream_at aligned and leaves downstream_at empty.
  std::vector<Position> upstream_at;
  std::vector<Position> downstream_at;
  TextPosition sql_at, sensor_url_at, on_success_at, on_failure_at;
};

struct PipelineSettings {
  int max_active_runs = 1;
  std::string overlap = "queue";  // queue | skip
  double timeout_s = 0;
  std::string webhook_url;
  TextPosition webhook_url_at;
};

// A pipeline variable's default, kept as JSON text ("2021", "\"yellow\"", "[1,2]").
struct VariableSpec {
  std::string name;
  std::string json;
};

struct PipelineSpec {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  std::vector<VariableSpec> variables;
  PipelineSettings settings;
  std::vector<BlockSpec> blocks;
  std::vector<std::string> notices;  // Mage keys accepted but ignored, each once

  const BlockSpec* FindBlock(const std::string& name) const;
};

}  // namespace pgpipe::core
