// Small helpers about names: the nearest valid spelling for "did you mean" hints, SQL identifier
// checks for targets and blocks, durations written as "5s" / "2m" / 1.5.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

// The candidate closest to `word` by edit distance, or "" when none is close enough to suggest.
std::string NearestName(const std::string& word, const std::vector<std::string>& candidates);

// "did you mean "x"?" for the nearest candidate, or "" when there is none.
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

// Why `name` cannot be used as a simple SQL identifier (a schema, table or block name), as a
// sentence for errdetail, or "" when it can.
std::string IdentifierProblem(const std::string& name);

// The errhint that goes with IdentifierProblem.
inline const char* kIdentifierHint =
    "Names are ASCII letters, digits and underscores, start with a letter or an underscore, "
    "and are at most 63 bytes long.";

// Why `schema` may not be a target schema, as a sentence for errdetail, or "" when it may:
// pg_* (pg_catalog, pg_toast*, pg_temp*: PostgreSQL's) and information_schema belong to the
// system, pipeline and pipeline_staging to pg_pipeline. Compared case-insensitively.
std::string ReservedSchemaProblem(const std::string& schema);

// Names a template gives their own meaning, so no block may take them: self (a block's own
// output, in tests) and the run's built-in variables (run_id, pipeline, execution_date,
// interval_start, interval_end).
const std::vector<std::string>& ReservedTemplateNames();

// Seconds in "250ms", "5s", "2m", "1h", "1d" or a bare number of seconds; throws on anything else.
double ParseDurationSeconds(const std::string& text);

}  // namespace pgpipe::core
