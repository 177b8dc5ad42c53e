// The pipeline model: what a pipeline file says, after parsing and validation. Plain data; the
// YAML parser (pipeline_yaml.cpp) builds it, validation (validate.cpp) checks it, spec_json.cpp
// writes it as the canonical JSON stored in the catalog.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgpipe::core {

// 1-based position in the pipeline file; line 0 means unknown.
struct Position {
  int line = 0;
  int column = 0;
  std::string ToString() const;  // "line 3, column 5"
};

enum class BlockType { kDataLoader, kTransformer, kDataExporter, kSensor, kConditional, kCallback };

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
  int64_t max_bytes = 0;
  bool create = false;  // load_csv: create the target from the columns when it is missing
  int parallel = 0;     // load workers a block's load is split across; 0 = pipeline.load_workers
  Position where;
};

// Where a data_exporter publishes.
struct TargetSpec {
  std::string schema = "public";
  std::string table;
  std::string if_exists = "replace";  // replace | append | fail
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
  Position where;
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
  Position where;
};

struct PipelineSettings {
  int max_active_runs = 1;
  std::string overlap = "queue";  // queue | skip
  double timeout_s = 0;
  std::string webhook_url;
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
