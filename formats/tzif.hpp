// A time zone read from its TZif file (RFC 8536, /usr/share/zoneinfo/...),
// for the one place streamguard needs a zone that is not the process's own:
// rampd reads classic syslog stamps ("Nov 22 20:46:16", no year, no zone) in
// the zone the host's syslog wrote them in, while the process's TZ is the
// config's `timezone` for calendar days (common/civil_time.hpp).
//
// The transitions table is read (the 64-bit one of a version 2+ file); a
// time after the last transition keeps the last offset. Debian ships "fat"
// files, which list transitions to 2037; a "slim" file whose footer rule
// has daylight saving after its last transition is reported by
// rule_beyond_table() so the caller can say so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sg::tzif {

class Zone {
 public:
  // UTC: no transitions, offset 0.
  Zone() = default;
  // The bytes of a TZif file; nullopt and `error` set when malformed.
  static std::optional<Zone> parse(std::string_view bytes, std::string& error);

  // Seconds east of UTC in force at `utc_s` (seconds since the epoch).
  int32_t offset_at(int64_t utc_s) const;
  // The instant a wall-clock time (seconds since the epoch as if the wall
  // clock were UTC) names. In a gap or an overlap of a daylight-saving
  // change: one of the two candidates, never more than an hour off.
  int64_t utc_from_wall(int64_t wall_s) const;

  // The last transition, and whether the footer's rule changes the offset
  // after it (daylight saving the table no longer lists).
  int64_t last_transition() const { return times_.empty() ? INT64_MIN : times_.back(); }
  bool rule_beyond_table() const { return footer_has_dst_; }
  const std::string& footer() const { return footer_; }

 private:
  std::vector<int64_t> times_;    // transition instants, ascending
  std::vector<int32_t> offsets_;  // the offset from each transition on
  int32_t initial_ = 0;           // before the first transition (time type 0)
  std::string footer_;            // the POSIX TZ string of a v2+ file
  bool footer_has_dst_ = false;
};

}  // namespace sg::tzif
