#include "common/civil_time.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace sg {

bool set_process_timezone(const std::string& zone) {
  // glibc silently treats an unknown TZ as UTC: check the zone file first.
  if (zone != "UTC") {
    struct stat st {};
    if (zone.empty() || zone.front() == '/' || zone.find("..") != std::string::npos ||
        ::stat(("/usr/share/zoneinfo/" + zone).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return false;
  }
  if (::setenv("TZ", zone.c_str(), 1) != 0) return false;
  ::tzset();
  return true;
}

CivilDay civil_day(int64_t now_ms) {
  time_t now = static_cast<time_t>(now_ms / 1000);
  std::tm local{};
  ::localtime_r(&now, &local);
  char key[40];  // room for any int, so -Wformat-truncation stays quiet
  std::snprintf(key, sizeof key, "%04d%02d%02d", local.tm_year + 1900, local.tm_mon + 1,
                local.tm_mday);
  // mktime normalises day 32 into the next month and finds the right UTC
  // offset across a daylight-saving change (tm_isdst = -1: let it decide).
  std::tm next = local;
  next.tm_mday += 1;
  next.tm_hour = next.tm_min = next.tm_sec = 0;
  next.tm_isdst = -1;
  time_t midnight = ::mktime(&next);
  return CivilDay{key, static_cast<int64_t>(midnight) * 1000};
}

// Milliseconds since the epoch -> "2026-11-22T21:46:16Z" (H. Hinnant's
// civil_from_days; no time zone database, no clock).
std::string utc_text(int64_t ms) {
  auto floor_div = [](int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  };
  const int64_t secs = floor_div(ms, 1000);
  const int64_t days = floor_div(secs, 86400);
  const int64_t sod = secs - days * 86400;
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(sod / 3600),
                static_cast<long long>(sod / 60 % 60), static_cast<long long>(sod % 60));
  return buf;
}

std::optional<int64_t> parse_utc_text(std::string_view t) {
  // Fixed-width digits at [at, at + n), or -1.
  auto num = [&t](std::size_t at, std::size_t n) -> int64_t {
    if (at + n > t.size()) return -1;
    int64_t v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  const int64_t y = num(0, 4), m = num(5, 2), d = num(8, 2);
  if (y < 1970 || m < 1 || m > 12 || d < 1 || t.size() < 10 || t[4] != '-' || t[7] != '-')
    return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[m - 1] + (m == 2 && leap)) return std::nullopt;
  int64_t hh = 0, mm = 0, ss = 0;
  std::size_t at = 10;
  if (at < t.size()) {
    if (t[at] != 'T' && t[at] != ' ') return std::nullopt;
    hh = num(at + 1, 2);
    mm = at + 3 < t.size() && t[at + 3] == ':' ? num(at + 4, 2) : -1;
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return std::nullopt;
    at += 6;
    if (at < t.size() && t[at] == ':') {
      ss = num(at + 1, 2);
      if (ss < 0 || ss > 59) return std::nullopt;
      at += 3;
    }
    if (at < t.size() && t[at] == 'Z') ++at;
    if (at != t.size()) return std::nullopt;
  }
  // Days since 1970-01-01 of a proleptic Gregorian date (March-based years).
  const int64_t yy = m <= 2 ? y - 1 : y;
  const int64_t era = yy / 400;
  const int64_t yoe = yy - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  return ((days * 86400) + hh * 3600 + mm * 60 + ss) * 1000;
}

}  // namespace sg
