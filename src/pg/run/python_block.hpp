// The executor's Python blocks: one attempt of a Mage Python block, run by the PL/Python runtime
// (python/pg_pipeline_runtime) in the block's transaction, as the run's role. The runtime reads
// the upstream outputs into DataFrames, runs the block file unchanged, writes a returned
// DataFrame into the staging table named here, and runs the file's @test functions; the
// executor records that table like any block's output, then runs the block's YAML tests on it.
#pragma once

#include "pg/run/context.hpp"

namespace pgpipe::pg {

// Runs Python block `b` (a loader, transformer, exporter or custom block) in the current
// transaction. Its output, if the block function returned a DataFrame, is a new staging table.
void RunPythonBlock(Run& run, BlockRun& state, const core::BlockSpec& b, AttemptResult& result);

// A Python sensor's or conditional's answer, in the current transaction.
bool PythonCondition(Run& run, const core::BlockSpec& b, AttemptResult& result);

}  // namespace pgpipe::pg
