// Helpers shared by the warmup ramp's unit tests (ramp_*_test.cpp): civil
// day numbers from YYYYMMDD keys, and the brief's two ramps.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "rules/ramp.hpp"

namespace sg {

inline int64_t day_of(const char* key) {
  auto d = ramp::day_number(key);
  EXPECT_TRUE(d.has_value()) << key;
  return d.value_or(0);
}

inline RampConfig make_ramp(std::vector<RampStep> hourly,
                            RampCount count = RampCount::calendar_days) {
  RampConfig r;
  r.stamp = "/etc/postfix/pw-warmup-start";
  r.count = count;
  r.hourly = std::move(hourly);
  return r;
}

// The brief's two ramps.
inline const RampConfig kTrucking = make_ramp({{0, 50}, {2, 150}, {4, 250}, {7, 300}});
inline const RampConfig kHealthcare = make_ramp({{0, 100}, {2, 300}, {5, 600}, {10, 1000}});

// The trucking ramp with daily steps and ramps of its own for two operators.
inline RampConfig with_daily_and_google() {
  RampConfig r = kTrucking;
  r.daily = {{0, 400}, {3, 1500}, {7, 4000}};
  r.operators["google"] = {{0, 0}, {30, 20}};
  r.operators["microsoft"] = {{0, 0}, {7, 120}};
  return r;
}

}  // namespace sg
