// The executor's layer 4: fusion. The taxi shape (an HTTP loader whose one reader is a
// transformer "SELECT * FROM {{ loader }} WHERE <condition>", whose one reader is an exporter
// that replaces, creates or refuses its target) runs as one COPY with <condition> as its WHERE,
// straight into the exporter's new table: nothing is materialised twice. Whether the
// transformer has that shape is decided from Postgres's parse tree of its rendered SQL
// (sql_shape.hpp): anything more (LIMIT, GROUP BY, DISTINCT, a subquery, ...) runs unfused.
// Each block's tests still run and each block is still recorded; a failure is the block's whose
// part failed, retried only by the loader's policy and only when it is the loader's.
#pragma once

#include <optional>
#include <string>

#include "pg/run/context.hpp"

namespace pgpipe::pg {

struct Fusion {
  std::string loader, transformer, exporter;
};

// The fused chain starting at loader `name`, when the blocks have exactly that shape (this
// renders the transformer's SQL, in a transaction of its own).
std::optional<Fusion> FindFusion(Run& run, const std::string& name);

// Runs a fused chain with the loader's retries; records all three blocks. False on failure,
// with *failure naming the block whose part failed.
bool RunFused(Run& run, const Fusion& fusion, core::Error* failure);

}  // namespace pgpipe::pg
