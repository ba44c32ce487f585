// What `streamguardctl report` shows, built from the daemons' /status:
// per stream, the caps in force and today's usage, delivery today and in
// the last hour by mailbox provider with the delivered share, the
// commonest deferral and bounce codes, held mail and the oldest, open
// breakers; then suppression. Pure: the command (report_command.cpp) asks
// the daemons; tests give it a /status that a real rampd produced.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sg {

struct ReportDaemon {
  std::string name;   // "streamguard-policyd"
  bool asked = true;  // false: the configuration gives it no status endpoint
  bool up = false;
  std::string error;  // why it does not answer
};

// A stream's caps as the configuration sets them: the report shows them
// when the stream has no ramp (a ramp's caps, as rampd published them, come
// from its /status).
struct ConfiguredCaps {
  bool ramp = false;
  std::optional<uint64_t> hourly, daily;
};

struct ReportInput {
  std::string config_path;
  std::map<std::string, ConfiguredCaps> configured;  // by stream name
  std::vector<ReportDaemon> daemons;
  nlohmann::json rampd;    // rampd's /status; null when it did not answer
  nlohmann::json policyd;  // policyd's /status (its daily_usage); null when it did not answer
  // Each stream's count for the day read from Redis itself (the counter
  // every charge moves); empty when Redis did not answer. The daemons'
  // /status only say what they last saw.
  std::map<std::string, int64_t> day_counts;
  int64_t now_ms = 0;  // for "the oldest held 2h05m", "open for another 20m00s"
};

// Below this share of a provider's results delivered, the line is marked
// (red on a terminal): the sender's own alarm was 65%.
inline constexpr double kDeliveryWarn = 0.65;

// The screen. `colour`: ANSI colours (only when stdout is a terminal and
// NO_COLOR is unset).
std::string render_report(const ReportInput& in, bool colour);

// The same for scripts: {"config", "daemons": [...], "streams": {NAME: {...}},
// "suppression"}.
nlohmann::json report_json(const ReportInput& in);

}  // namespace sg
