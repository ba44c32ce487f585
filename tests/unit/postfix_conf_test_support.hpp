// Helpers shared by the unit tests of streamguardctl postfix-conf's
// rendering (postfix_conf_*_test.cpp): a config text parsed, and two streams
// that share lists, as most tests render them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string_view>

#include "common/config.hpp"
#include "tests/text_match.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {

using sg::testing::contains;

using testing::all_errors;

inline ConfigResult parse_config_text(std::string_view text) {
  return testing::parse_text(text);
}

inline std::shared_ptr<const Config> parse_ok(std::string_view text) {
  auto r = parse_config_text(text);
  EXPECT_TRUE(r.errors.empty()) << all_errors(r);
  return r.config;
}

// Two streams on three ports, with lists they share and lists they do not.
inline constexpr std::string_view kTwoStreams = R"(
[lists]
yahoo_family = "/l/yahoo.txt"
consumer = "/l/consumer.txt"
dead_isp = "/l/dead.txt"

[[stream]]
name = "trucking"
ports = [2525, 2527]
exclude = ["dead_isp", "yahoo_family"]
postfix = { transport = "out05", helo_name = "mta05.example.com", bind_address = "192.0.2.94" }

[[stream]]
name = "healthcare"
ports = [2526]
exclude = ["yahoo_family", "consumer", "dead_isp"]
)";

}  // namespace sg
