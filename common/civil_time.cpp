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

}  // namespace sg
