// The hard bounces of tests/data/maillog/rules/suppress-user-unknown.log
// (2026-11-23, 09:14) and the [[suppress]] rule that learns them, shared by
// the integration tests that run rampd's suppression over that log.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace sg::testing {

// 2026-11-23T10:00:00Z, after the bounces in the log.
inline constexpr int64_t kAfterUserUnknownLog = 1'795'428'000'000;

// The shipped user-unknown rule with an hour's ttl.
inline constexpr const char* kUserUnknownRule = R"(
[[suppress]]
name = "user-unknown"
scope = "address"
status = ["bounced"]
dsn = ["5.1.1", "5.1.0", "5.1.10", "5.2.1"]
ttl_s = 3600
)";

// A copy of the log in the temporary folder ("sg-TAG-PID"), for rampd to
// follow; the caller removes it.
inline std::string copy_user_unknown_log(const std::string& tag) {
  const std::string path =
      std::filesystem::temp_directory_path() / ("sg-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::copy_file(
      std::string(SG_SOURCE_DIR) + "/tests/data/maillog/rules/suppress-user-unknown.log", path,
      std::filesystem::copy_options::overwrite_existing);
  return path;
}

}  // namespace sg::testing
