// Cron expressions: see cron.hpp. Supports *, lists, ranges, steps (*/5, 1-30/2), names of
// months and weekdays, 7 for Sunday, and @hourly/@daily/@weekly/@monthly/@yearly. As in cron,
// when both day fields are restricted a day matches if either does.
#include "core/cron.hpp"

#include <array>
#include <bitset>
#include <cctype>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

struct Field {
  std::bitset<64> allowed;
  bool star = false;
};

int ParseValue(std::string text, int min, int max, const std::vector<std::string>& names,
               const std::string& expression) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < names.size(); ++i)
    if (text == names[i]) return static_cast<int>(i) + min;
  try {
    size_t used = 0;
    int v = std::stoi(text, &used);
    if (used == text.size() && v >= min && v <= max) return v;
  } catch (const std::exception&) {
  }
  throw Error(sqlstate::kInvalidParameterValue,
              "invalid cron expression \"" + expression + "\": \"" + text + "\" is not between " +
                  std::to_string(min) + " and " + std::to_string(max));
}

Field ParseField(const std::string& text, int min, int max, const std::vector<std::string>& names,
                 const std::string& expression) {
  Field f;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    int step = 1;
    size_t slash = item.find('/');
    if (slash != std::string::npos) {
      step = ParseValue(item.substr(slash + 1), 1, max, {}, expression);
      item = item.substr(0, slash);
    }
    int lo, hi;
    if (item == "*") {
      lo = min;
      hi = max;
      if (step == 1) f.star = true;
    } else if (size_t dash = item.find('-'); dash != std::string::npos) {
      lo = ParseValue(item.substr(0, dash), min, max, names, expression);
      hi = ParseValue(item.substr(dash + 1), min, max, names, expression);
    } else {
      lo = hi = ParseValue(item, min, max, names, expression);
      if (slash != std::string::npos) hi = max;
    }
    for (int v = lo; v <= hi; v += step) f.allowed.set(v);
  }
  return f;
}

}  // namespace

std::time_t CronPreviousFire(const std::string& expression_in, std::time_t t) {
  std::string expression = expression_in;
  if (expression == "@hourly") expression = "0 * * * *";
  if (expression == "@daily" || expression == "@midnight") expression = "0 0 * * *";
  if (expression == "@weekly") expression = "0 0 * * 0";
  if (expression == "@monthly") expression = "0 0 1 * *";
  if (expression == "@yearly" || expression == "@annually") expression = "0 0 1 1 *";
  std::stringstream ss(expression);
  std::vector<std::string> parts;
  for (std::string p; ss >> p;) parts.push_back(p);
  if (parts.size() != 5)
    throw Error(sqlstate::kInvalidParameterValue,
                "invalid cron expression \"" + expression_in + "\": it needs 5 fields", "",
                "Write minute hour day-of-month month day-of-week, such as \"0 6 * * *\".");
  static const std::vector<std::string> months = {"jan", "feb", "mar", "apr", "may", "jun",
                                                  "jul", "aug", "sep", "oct", "nov", "dec"};
  static const std::vector<std::string> days = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  Field minute = ParseField(parts[0], 0, 59, {}, expression_in);
  Field hour = ParseField(parts[1], 0, 23, {}, expression_in);
  Field dom = ParseField(parts[2], 1, 31, {}, expression_in);
  Field month = ParseField(parts[3], 1, 12, months, expression_in);
  Field dow = ParseField(parts[4], 0, 7, days, expression_in);
  if (dow.allowed.test(7)) dow.allowed.set(0);
  std::time_t m = t - (t % 60);
  for (int i = 0; i < 5 * 366 * 24 * 60; ++i, m -= 60) {
    std::tm tm;
    gmtime_r(&m, &tm);
    if (!minute.allowed.test(tm.tm_min) || !hour.allowed.test(tm.tm_hour) ||
        !month.allowed.test(tm.tm_mon + 1))
      continue;
    bool dom_ok = dom.allowed.test(tm.tm_mday), dow_ok = dow.allowed.test(tm.tm_wday);
    bool day_ok = (dom.star || dow.star) ? (dom_ok && dow_ok) : (dom_ok || dow_ok);
    if (day_ok) return m;
  }
  throw Error(sqlstate::kInvalidParameterValue,
              "cron expression \"" + expression_in + "\" never fires");
}

}  // namespace pgpipe::core
