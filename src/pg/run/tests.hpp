// The executor's layer 2: a block's tests. Those that count offending rows are folded into one
// scan of the output; the others run on their own. A failure throws 23514 naming the block and
// the test, with the count of offending rows; a failure of a test with severity warn is a
// warning line of the result instead (counted in result.warnings), and the block goes on.
#pragma once

#include <string>

#include "pg/run/context.hpp"

namespace pgpipe::pg {

// Runs the tests of `block` on `self` (its output relation, quoted); with `count_rows` the scan
// also counts the output (into result.rows_out). Passing tests are logged in `result`.
void RunTests(Run& run, const core::BlockSpec& block, const std::string& self, bool count_rows,
              AttemptResult& result);

}  // namespace pgpipe::pg
