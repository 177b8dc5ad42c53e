// Names, identifiers and durations: see names.hpp.
#include "core/names.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// ASCII lower case.
std::string Lower(const std::string& s) {
  std::string out = s;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Case-insensitive Levenshtein distance.
size_t EditDistance(const std::string& a_in, const std::string& b_in) {
  const std::string a = Lower(a_in), b = Lower(b_in);
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

// The candidate at the smallest edit distance, if close enough for the word's length.
std::string NearestName(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = static_cast<size_t>(-1);
  for (const auto& candidate : candidates) {
    size_t d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  // Suggest only plausible typos: at most a third of the word wrong, and never more than 3 edits.
  size_t limit = std::max<size_t>(1, std::min<size_t>(3, (word.size() + 2) / 3));
  if (best.empty() || best_distance > limit) {
    // A prefix or suffix match ("upstream" for "upstream_block") is also a good guess.
    for (const auto& candidate : candidates) {
      std::string w = Lower(word), c = Lower(candidate);
      if (w.size() >= 4 && (c.rfind(w, 0) == 0 || w.rfind(c, 0) == 0)) return candidate;
    }
    return "";
  }
  return best;
}

// NearestName as a hint sentence.
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string nearest = NearestName(word, candidates);
  return nearest.empty() ? "" : "Did you mean \"" + nearest + "\"?";
}

// The first rule `name` breaks, as a sentence.
std::string IdentifierProblem(const std::string& name) {
  if (name.empty()) return "The name is empty.";
  if (name.size() > 63) return "The name is longer than 63 bytes.";
  // The catalog's CHECK constraints say the same: ASCII letters, digits and underscores.
  unsigned char first = static_cast<unsigned char>(name[0]);
  if (!(std::isalpha(first) || first == '_'))
    return "The name does not start with an ASCII letter or an underscore.";
  for (unsigned char c : name) {
    if (c >= 0x80) return "The name contains a character that is not ASCII.";
    if (!(std::isalnum(c) || c == '_'))
      return std::string("The name contains the character '") + static_cast<char>(c) + "'.";
  }
  return "";
}

// The system's prefix and names first, then pg_pipeline's own schemas.
std::string ReservedSchemaProblem(const std::string& schema) {
  std::string lower = Lower(schema);
  if (lower.compare(0, 3, "pg_") == 0 || lower == "information_schema")
    return "Schemas named pg_* and information_schema belong to PostgreSQL.";
  if (lower == "pipeline" || lower == "pipeline_staging")
    return "Schemas pipeline and pipeline_staging belong to pg_pipeline.";
  return "";
}

// The list, built once.
const std::vector<std::string>& ReservedTemplateNames() {
  static const std::vector<std::string> names = {"self", "run_id", "pipeline", "execution_date",
                                                 "interval_start", "interval_end"};
  return names;
}

// A number with an optional unit (ms, s, m, h, d) in seconds.
double ParseDurationSeconds(const std::string& text) {
  if (text.empty()) throw std::invalid_argument("empty duration");
  const char* begin = text.c_str();
  char* end = nullptr;
  double value = std::strtod(begin, &end);
  if (end == begin || value < 0) throw std::invalid_argument("not a duration");
  std::string unit(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  unit = Lower(unit);
  if (unit.empty() || unit == "s" || unit == "sec" || unit == "second" || unit == "seconds")
    return value;
  if (unit == "ms") return value / 1000.0;
  if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") return value * 60;
  if (unit == "h" || unit == "hour" || unit == "hours") return value * 3600;
  if (unit == "d" || unit == "day" || unit == "days") return value * 86400;
  throw std::invalid_argument("unknown duration unit");
}

}  // namespace pgpipe::core
