// The warmup ramp's schedules (the caps in force on each day: hourly, daily
// and per operator) and the config's ramp.operators key.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "rules/ramp.hpp"
#include "tests/unit/config_text.hpp"
#include "tests/unit/ramp_test_support.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- schedules

struct ScheduleCase {
  uint32_t day;
  uint64_t trucking;
  uint64_t healthcare;
};

TEST(RampSchedule, TheBriefsTwoRamps) {
  const std::vector<ScheduleCase> table = {
      {0, 50, 100},    {1, 50, 100},     {2, 150, 300},           {3, 150, 300}, {4, 250, 300},
      {5, 250, 600},   {6, 250, 600},    {7, 300, 600},           {9, 300, 600}, {10, 300, 1000},
      {11, 300, 1000}, {365, 300, 1000}, {4000000000u, 300, 1000}};
  for (const auto& c : table) {
    SCOPED_TRACE(c.day);
    EXPECT_EQ(ramp::caps_on(kTrucking, c.day).hourly, c.trucking);
    EXPECT_EQ(ramp::caps_on(kHealthcare, c.day).hourly, c.healthcare);
    EXPECT_EQ(ramp::caps_on(kTrucking, c.day).daily, std::nullopt);
    EXPECT_TRUE(ramp::caps_on(kTrucking, c.day).operator_daily.empty());
  }
  EXPECT_EQ(ramp::step_days(kTrucking), (std::vector<uint32_t>{0, 2, 4, 7}));
  EXPECT_EQ(ramp::step_days(kHealthcare), (std::vector<uint32_t>{0, 2, 5, 10}));
}

TEST(RampSchedule, DailyAndOperatorCaps) {
  const RampConfig r = with_daily_and_google();
  EXPECT_EQ(ramp::step_days(r), (std::vector<uint32_t>{0, 2, 3, 4, 7, 30}));
  auto caps = ramp::caps_on(r, 3);
  EXPECT_EQ(caps.hourly, 150u);
  EXPECT_EQ(caps.daily, 1500u);
  EXPECT_EQ(caps.operator_daily,
            (std::map<std::string, uint64_t>{{"google", 0}, {"microsoft", 0}}));
  caps = ramp::caps_on(r, 29);
  EXPECT_EQ(caps.operator_daily,
            (std::map<std::string, uint64_t>{{"google", 0}, {"microsoft", 120}}));
  caps = ramp::caps_on(r, 30);
  EXPECT_EQ(caps.daily, 4000u);
  EXPECT_EQ(caps.operator_daily,
            (std::map<std::string, uint64_t>{{"google", 20}, {"microsoft", 120}}));
  EXPECT_EQ(ramp::caps_on(RampConfig{}, 5).hourly, std::nullopt);
}

// ---------------------------------------------------------------- config: ramp.operators

TEST(RampConfigOperators, Parses) {
  auto r = testing::parse_text(R"(
[operators.google]
domains = ["gmail.com"]
[operators.microsoft]
domains = ["outlook.com"]
[[stream]]
name = "trucking"
ports = [25]
ramp = { stamp = "/s", hourly = [[0, 50]], operators = { google = [[0, 0], [30, 20]], microsoft = [[0, 120]] } }
)");
  ASSERT_NE(r.config, nullptr) << testing::all_errors(r);
  const auto& ops = r.config->streams.at(0).ramp->operators;
  ASSERT_EQ(ops.size(), 2u);
  ASSERT_EQ(ops.at("google").size(), 2u);
  EXPECT_EQ(ops.at("google")[1].day, 30u);
  EXPECT_EQ(ops.at("google")[1].cap, 20u);
  EXPECT_EQ(ops.at("microsoft")[0].cap, 120u);
}

TEST(RampConfigOperators, Errors) {
  auto r = testing::parse_text(R"(
[operators.google]
domains = ["gmail.com"]
[[stream]]
name = "trucking"
ports = [25]
[stream.ramp]
stamp = "/s"
hourly = [[0, 50]]
operators = { yahoo = [[0, 0]], google = [[5, 0]], default = [[0, 1]] }
[[stream]]
name = "healthcare"
ports = [2526]
ramp = { stamp = "/s", hourly = [[0, 50]], operators = [1] }
)");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 4u) << testing::all_errors(r);
  const std::string f = testing::kConfigFile;
  // toml++ keeps a table's keys sorted: default, google, yahoo.
  EXPECT_EQ(r.errors[0].to_string(),
            f + ":9:62: ramp 'operators' names operator 'default', which no "
                "[operators.default] table defines");
  EXPECT_EQ(r.errors[1].to_string(), f + ":9:43: the first 'operators.google' step must be day 0");
  EXPECT_EQ(r.errors[2].to_string(),
            f + ":9:23: ramp 'operators' names operator 'yahoo', which no [operators.yahoo] "
                "table defines");
  EXPECT_EQ(r.errors[3].to_string(), f + ":13:56: 'operators' must be a table");
}

}  // namespace
}  // namespace sg
