// Calendar days in the configured time zone, for the daily caps. The zone is
// process-wide (TZ), set once from the config at start and on reload.
#pragma once

#include <cstdint>
#include <string>

namespace sg {

struct CivilDay {
  std::string key;           // "YYYYMMDD" in the zone, used in Redis key names
  int64_t next_midnight_ms;  // when the next calendar day begins
};

// Sets TZ for this process; returns false if the zone is unknown.
bool set_process_timezone(const std::string& zone);

CivilDay civil_day(int64_t now_ms);

// Milliseconds since the epoch -> "2026-11-22T21:46:16Z" (UTC; no zone database).
std::string utc_text(int64_t ms);

}  // namespace sg
