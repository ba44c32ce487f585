#include "rules/ramp.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "common/civil_time.hpp"

namespace sg::ramp {

namespace {

// 3000-01-01T00:00:00Z. A stamp this late is epoch milliseconds by mistake
// (today's are 13 digits), not a warmup start.
constexpr int64_t kMaxStamp = 32503680000;

// The day numbers of 0001-01-01 and 9999-12-31.
constexpr int64_t kFirstDay = -719162;
constexpr int64_t kLastDay = 2932896;

bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// A short, printable excerpt of untrusted text for a message.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : s) {
    if (++n > 32) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    }
  }
  return out + "\"";
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Ymd {
  int64_t y;
  unsigned m;
  unsigned d;
};

Ymd civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

const char* mode_name(RampCount mode) {
  return mode == RampCount::send_days ? "send days" : "calendar days";
}

// Index of the step `day` falls in; steps is ascending and starts with 0.
std::size_t step_of(const std::vector<uint32_t>& steps, uint32_t day) {
  auto it = std::upper_bound(steps.begin(), steps.end(), day);
  return it == steps.begin() ? 0 : static_cast<std::size_t>(it - steps.begin()) - 1;
}

std::optional<uint64_t> cap_on(const std::vector<RampStep>& steps, uint32_t day) {
  if (steps.empty()) return std::nullopt;
  uint64_t cap = steps.front().cap;  // a schedule not starting at day 0: its first step
  for (const auto& s : steps) {
    if (s.day > day) break;
    cap = s.cap;
  }
  return cap;
}

std::string describe_step(uint32_t step_day, const Caps& caps) {
  std::string s = "step [" + std::to_string(step_day) + ", ";
  s += caps.hourly ? std::to_string(*caps.hourly) + "/h" : std::string("no hourly cap");
  if (caps.daily) s += ", " + std::to_string(*caps.daily) + "/day";
  for (const auto& [op, cap] : caps.operator_daily)
    s += ", " + op + " " + std::to_string(cap) + "/day";
  return s + "]";
}

}  // namespace

std::optional<int64_t> parse_stamp(std::string_view text, std::string& error) {
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  if (text.empty()) {
    error = "empty: no warmup start (epoch seconds) in it";
    return std::nullopt;
  }
  if (text.front() == '-') {
    error = "negative: " + quoted(text) + " (want epoch seconds, e.g. from date +%s)";
    return std::nullopt;
  }
  std::size_t i = 0;
  int64_t v = 0;
  bool too_big = false;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (!too_big) {
      v = v * 10 + (text[i] - '0');
      if (v >= kMaxStamp) too_big = true;
    }
    ++i;
  }
  if (i == 0) {
    error = "not a number: " + quoted(text) + " (want epoch seconds, e.g. from date +%s)";
    return std::nullopt;
  }
  if (i < text.size()) {
    error = "trailing garbage after the number: " + quoted(text.substr(i)) +
            " (want only epoch seconds)";
    return std::nullopt;
  }
  if (too_big) {
    error = "out of range: " + quoted(text) +
            " is year 3000 or later (epoch milliseconds instead of seconds?)";
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> read_stamp(const std::string& path, std::string& error) {
  if (path.empty()) {
    error = "ramp stamp: no file named";
    return std::nullopt;
  }
  errno = 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    const int e = errno;
    error = path + ": " + (e == ENOENT ? "missing" : "cannot open") + " (" + std::strerror(e) + ")";
    return std::nullopt;
  }
  char buf[257];
  const std::size_t n = std::fread(buf, 1, sizeof buf, f);
  const bool failed = std::ferror(f) != 0;
  const int e = errno;
  std::fclose(f);
  if (failed) {
    error = path + ": cannot read (" + std::strerror(e) + ")";
    return std::nullopt;
  }
  if (n == sizeof buf) {
    error = path + ": over 256 bytes, not a stamp (want epoch seconds)";
    return std::nullopt;
  }
  std::string why;
  auto v = parse_stamp(std::string_view(buf, n), why);
  if (!v) error = path + ": " + why;
  return v;
}

std::optional<int64_t> day_number(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  for (char c : key)
    if (c < '0' || c > '9') return std::nullopt;
  auto num = [&](std::size_t from, std::size_t len) {
    unsigned v = 0;
    for (std::size_t i = from; i < from + len; ++i)
      v = v * 10 + static_cast<unsigned>(key[i] - '0');
    return v;
  };
  const unsigned y = num(0, 4), m = num(4, 2), d = num(6, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return std::nullopt;
  return days_from_civil(y, m, d);
}

namespace {

// The day as YYYY<sep>MM<sep>DD; "day#N" outside the supported years.
std::string format_day(int64_t day, const char* sep) {
  if (day < kFirstDay || day > kLastDay) return "day#" + std::to_string(day);
  const Ymd c = civil_from_days(day);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d%s%02u%s%02u", static_cast<int>(c.y), sep, c.m, sep, c.d);
  return buf;
}

}  // namespace

std::string day_key(int64_t day) {
  return format_day(day, "");
}

std::string iso_date(int64_t day) {
  return format_day(day, "-");
}

int64_t civil_day_number(int64_t epoch_ms) {
  if (auto d = day_number(civil_day(epoch_ms).key)) return *d;
  // Beyond what localtime can say (far outside any real stamp): UTC days.
  const int64_t day_ms = 86'400'000;
  return epoch_ms / day_ms - (epoch_ms % day_ms < 0 ? 1 : 0);
}

Count calendar_days(int64_t stamp_day, int64_t today) {
  Count c;
  c.stamp_day = stamp_day;
  c.mode = RampCount::calendar_days;
  if (today < stamp_day) {
    c.stamp_in_future = true;
    return c;
  }
  // today - stamp_day cannot overflow: both are day numbers of real instants.
  const uint64_t diff = static_cast<uint64_t>(today) - static_cast<uint64_t>(stamp_day);
  c.day = static_cast<uint32_t>(std::min<uint64_t>(diff, std::numeric_limits<uint32_t>::max()));
  return c;
}

std::optional<Count> send_days(const std::vector<SentDay>& history, int64_t stamp_day,
                               int64_t today, uint64_t minimum, std::string& error) {
  Count c;
  c.stamp_day = stamp_day;
  c.mode = RampCount::send_days;
  c.stamp_in_future = today < stamp_day;
  minimum = std::max<uint64_t>(minimum, 1);  // a day that sent nothing never counts
  std::set<int64_t> seen;
  uint32_t counted = 0;
  for (const auto& e : history) {
    auto d = day_number(e.day);
    if (!d) {
      error = "send history: day key " + quoted(e.day) + " is not a YYYYMMDD date";
      return std::nullopt;
    }
    if (!seen.insert(*d).second) {
      error = "send history: day " + e.day + " is listed twice";
      return std::nullopt;
    }
    if (*d >= stamp_day && *d < today && e.sent >= minimum) ++counted;
  }
  c.day = counted;
  return c;
}

std::vector<uint32_t> step_days(const RampConfig& ramp) {
  std::set<uint32_t> days{0};
  for (const auto& s : ramp.hourly) days.insert(s.day);
  for (const auto& s : ramp.daily) days.insert(s.day);
  for (const auto& [op, steps] : ramp.operators)
    for (const auto& s : steps) days.insert(s.day);
  return {days.begin(), days.end()};
}

Caps caps_on(const RampConfig& ramp, uint32_t day) {
  Caps caps;
  caps.hourly = cap_on(ramp.hourly, day);
  caps.daily = cap_on(ramp.daily, day);
  for (const auto& [op, steps] : ramp.operators)
    if (auto cap = cap_on(steps, day)) caps.operator_daily[op] = *cap;
  return caps;
}

Advanced advance(const RampConfig& ramp, const std::optional<RampState>& previous,
                 const Count& count, int64_t today) {
  const std::vector<uint32_t> steps = step_days(ramp);
  Advanced out;
  out.stamp_in_future = count.stamp_in_future;
  RampState& st = out.state;

  if (!previous) {
    out.first_start = true;
    st.day = count.day;
    st.updated_civil_day = today;
    st.stepped_civil_day = today;
  } else {
    const RampState& prev = *previous;
    const std::size_t from = step_of(steps, prev.day);
    bool may_step = today > prev.stepped_civil_day;
    if (today < prev.updated_civil_day) {
      out.clock_went_back = true;
      may_step = false;
    }
    uint32_t target = count.day;
    if (target < prev.day) {
      out.count_went_back = true;
      target = prev.day;
    }
    // The last day of the step we may reach today: the current one, or the next.
    const std::size_t reach = from + (may_step ? 1 : 0);
    const uint32_t limit =
        reach + 1 < steps.size() ? steps[reach + 1] - 1 : std::numeric_limits<uint32_t>::max();
    st.day = std::min(target, limit);
    out.held = st.day < target;
    st.updated_civil_day = std::max(today, prev.updated_civil_day);
    st.stepped_civil_day = step_of(steps, st.day) != from ? today : prev.stepped_civil_day;
  }
  st.step_index = static_cast<uint32_t>(step_of(steps, st.day));
  out.caps = caps_on(ramp, st.day);

  std::string& r = out.reason;
  r = "day " + std::to_string(count.day) + " since " + iso_date(count.stamp_day) + " (" +
      mode_name(count.mode) + (count.stamp_in_future ? ", stamp in the future" : "") +
      "): " + describe_step(steps[st.step_index], out.caps);
  if (out.held)
    r += ", held at day " + std::to_string(st.day) + " (at most one step a day)";
  else if (out.count_went_back)
    r += ", kept at day " + std::to_string(st.day) + " (the ramp never goes back)";
  if (out.clock_went_back)
    r += "; today (" + iso_date(today) + ") is before the last update (" +
         iso_date(previous->updated_civil_day) + "): no step";
  if (out.first_start) r += "; first start: day taken from the stamp";
  return out;
}

}  // namespace sg::ramp
