// The configuration and log of the tests that feed rampd
// tests/data/maillog/tss04-burst.log (Yahoo's TSS04 deferrals of healthcare
// mail at 21:00-21:04, Gmail's 4.7.28, Outlook-hosted practices taking the
// rest): the yahoo operator, the two streams on the log's transports, and
// the yahoo-tss04 breaker the burst trips.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/integration/policyd_harness.hpp"

namespace sg::testing {

// 2026-11-22T21:05:00Z, just after the burst.
inline constexpr int64_t kAfterBurst = 1'795'381'500'000;

// A copy of the log in the temp folder (rampd follows it; the test removes
// it): its path.
inline std::string tss04_log_copy(const std::string& prefix) {
  const auto path = std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()));
  std::filesystem::copy_file(std::string(SG_SOURCE_DIR) + "/tests/data/maillog/tss04-burst.log",
                             path, std::filesystem::copy_options::overwrite_existing);
  return path.string();
}

// `healthcare_caps`: lines added to healthcare's [[stream]] table.
inline std::string tss04_config(const std::string& maillog,
                                const std::string& healthcare_caps = "") {
  return config_with_streams(R"(
[operators.yahoo]
domains = ["yahoo.com", "aol.com"]
mx_suffixes = [".yahoodns.net"]

[rampd]
maillog = ")" + maillog + R"("
maillog_from = "start"

[[stream]]
name = "trucking"
ports = [25]
daily_cap = 1000
postfix = { transport = "out05" }

[[stream]]
name = "healthcare"
ports = [2526]
daily_cap = 1000
postfix = { transport = "hcout1" }
)" + healthcare_caps + R"(
[[breaker]]
name = "yahoo-tss04"
operator = "yahoo"
dsn = "4.7"
text = "TSS04"
threshold = 5
window_s = 600
action = "defer"
cooldown_s = 3600
recovery_s = 3600
)");
}

}  // namespace sg::testing
