// Calendar days in the configured time zone, for the daily caps. The zone is
// process-wide (TZ), set once from the config at start and on reload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
// The other way, for dates a person or a spreadsheet wrote: "2027-06-17",
// "2027-06-17 08:30", "2027-06-17T08:30:00Z" (UTC; a date alone is its
// midnight). nullopt for anything else, or a date that does not exist.
std::optional<int64_t> parse_utc_text(std::string_view text);

}  // namespace sg
