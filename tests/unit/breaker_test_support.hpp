// Helpers shared by the breaker's unit tests (breaker_test.cpp,
// breaker_config_test.cpp): the brief's two streams, three operators and
// rule 8's breakers as a config, and the delivery lines of a maillog corpus.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "formats/maillog.hpp"
#include "tests/unit/config_text.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg::breaker::breaker_test {

inline const std::string kCorpus = SG_SOURCE_DIR "/tests/data/maillog/";
// When the TSS04 burst (tss04-burst.log) begins; the time hand-made events get.
inline const int64_t kT0 = *maillog::iso_time_ms("2026-11-22T21:00:00Z");

// Two streams as in the brief, three operators, and the rules of rule 8.
inline constexpr std::string_view kConfig = R"(
[operators.google]
domains = ["gmail.com", "googlemail.com"]
mx_suffixes = ["google.com"]

[operators.yahoo]
domains = ["yahoo.com", "ymail.com", "aol.com", "att.net", "sbcglobal.net"]
mx_suffixes = ["yahoodns.net"]

[operators.microsoft]
domains = ["hotmail.com", "outlook.com"]
mx_suffixes = ["protection.outlook.com"]

[[stream]]
name = "trucking"
ports = [25]
postfix = { transport = "out05" }

[[stream]]
name = "healthcare"
ports = [2526]
postfix = { transport = "hcout1" }

[[breaker]]
name = "yahoo-tss04"
operator = "yahoo"
dsn = "4.7"
text = "tss04"
threshold = 5
window_s = 600
action = "hold"
cooldown_s = 3600
recovery_s = 1800

[[breaker]]
name = "gmail-571"
operator = "google"
dsn = "5.7.1"
status = ["bounced"]
threshold = 3
window_s = 3600
action = "freeze_ramp"
cooldown_s = 86400
)";

inline std::shared_ptr<const Config> config() {
  static auto r = testing::parse_text(kConfig);
  EXPECT_TRUE(r.config) << testing::all_errors(r);
  return r.config;
}

inline std::vector<maillog::Delivery> corpus(const std::string& file) {
  std::ifstream in(kCorpus + file);
  EXPECT_TRUE(in) << kCorpus + file;
  std::vector<maillog::Delivery> out;
  for (std::string line; std::getline(in, line);)
    if (auto d = maillog::parse_line(line)) out.push_back(std::move(*d));
  return out;
}

}  // namespace sg::breaker::breaker_test
