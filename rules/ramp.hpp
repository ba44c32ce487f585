// Ramp aging: which step of a stream's warmup schedule is in force today.
// Pure: no clock reads, no Redis. The only I/O is read_stamp(), and the only
// process state is the time zone (TZ) civil_day_number() converts in.
//
// Days. A civil day is counted as a day number: days since 1970-01-01 in the
// proleptic Gregorian calendar, taken from the date in the configured zone,
// never from elapsed seconds. So a 23- or 25-hour day (daylight saving) is one
// day like any other.
//
// Counting the warmup day:
//  - calendar days: today's civil day minus the stamp's civil day;
//  - send days: the civil days from the stamp's day up to, but not including,
//    today on which the stream sent at least send_day_minimum. Today is not
//    over, so it counts from tomorrow on; the send-day count is never above the
//    calendar count.
// A stamp in the future gives day 0 and a flag (a warning, not an error).
//
// Progression (advance()): the ramp day in force only moves forward, and at
// most one step boundary is crossed per civil day. A step boundary is any day
// on which one of the ramp's schedules (hourly, daily, an operator's) changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace sg::ramp {

// ---- the stamp file: epoch seconds, as `date +%s > FILE` writes it

// Surrounding whitespace (a trailing newline) is fine. Refused: empty, not a
// number, negative, trailing garbage, and values from year 3000 on (epoch
// milliseconds written by mistake). On failure returns nullopt and says why.
std::optional<int64_t> parse_stamp(std::string_view text, std::string& error);

// Reads and parses the file. The error names the path: "PATH: missing (No such
// file or directory)", "PATH: not a number: \"abc\"", ...
std::optional<int64_t> read_stamp(const std::string& path, std::string& error);

// ---- civil days

// "YYYYMMDD" (a valid date, years 0001-9999) -> day number.
std::optional<int64_t> day_number(std::string_view key);
// Day number -> "YYYYMMDD" / "YYYY-MM-DD".
std::string day_key(int64_t day);
std::string iso_date(int64_t day);
// The civil day, in the process time zone (set_process_timezone), of an
// instant given in epoch milliseconds.
int64_t civil_day_number(int64_t epoch_ms);

// ---- counting the warmup day

struct Count {
  uint32_t day = 0;       // the warmup day by the stream's way of counting
  int64_t stamp_day = 0;  // the stamp's civil day
  RampCount mode = RampCount::calendar_days;
  bool stamp_in_future = false;  // stamp_day > today: day 0, worth a warning
};

// Calendar days between the stamp's civil day and today.
Count calendar_days(int64_t stamp_day, int64_t today);

// One entry of policyd's daily counters: the civil day key and the messages
// the stream sent that day.
struct SentDay {
  std::string day;  // "YYYYMMDD"
  uint64_t sent = 0;
};

// Send days: entries before the stamp's day, of today and after today are
// ignored. A malformed day key, or a day listed twice, is an error (nullopt).
std::optional<Count> send_days(const std::vector<SentDay>& history, int64_t stamp_day,
                               int64_t today, uint64_t minimum, std::string& error);

// ---- progression

struct RampState {
  uint32_t day = 0;               // the ramp day whose caps are in force
  uint32_t step_index = 0;        // index of `day`'s step in step_days()
  int64_t updated_civil_day = 0;  // civil day of the advance() that made this state
  int64_t stepped_civil_day = 0;  // civil day on which step_index was reached
};

struct Caps {
  std::optional<uint64_t> hourly;  // nullopt only for a ramp without hourly steps
  std::optional<uint64_t> daily;   // nullopt: the ramp has no daily schedule
  std::map<std::string, uint64_t> operator_daily;
};

struct Advanced {
  RampState state;
  Caps caps;
  std::string reason;  // for a person: "day 4 since 2026-11-18 (send days): step [4, 250/h]"
  // Worth logging (at warning level unless said otherwise):
  bool first_start = false;      // no previous state: the counted day taken as is (info)
  bool held = false;             // the count is further on than one step a day allows
  bool count_went_back = false;  // the count is below the day in force (stamp moved
                                 // later, send history lost): the day in force stays
  bool clock_went_back = false;  // today is before the previous state's day: no step
  bool stamp_in_future = false;  // copied from the count
};

// Every day on which one of the ramp's schedules changes, ascending; always
// starts with 0.
std::vector<uint32_t> step_days(const RampConfig& ramp);

// The caps a schedule gives on `day`.
Caps caps_on(const RampConfig& ramp, uint32_t day);

// The state for `today` (a civil day number) given the previous one (nullopt
// at first start) and today's count. Never lowers the day in force, and never
// crosses more than one step boundary per civil day; at first start the
// counted day is taken as is (the stamp is the record of the warmup so far).
Advanced advance(const RampConfig& ramp, const std::optional<RampState>& previous,
                 const Count& count, int64_t today);

}  // namespace sg::ramp
