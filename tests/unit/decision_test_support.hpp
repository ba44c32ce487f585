// Helpers shared by the unit tests of the pure decision functions
// (decision_*_test.cpp, rules/decision.hpp): the shipped example's two
// streams, and a verdict checked whole.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "common/config.hpp"
#include "rules/decision.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {

// The shipped example: trucking (port 25) and healthcare (port 2526).
inline const Config& example() {
  static const std::shared_ptr<const Config> cfg = [] {
    auto r = load_config(SG_SOURCE_DIR "/deploy/examples/streamguard.toml");
    for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    return r.config;
  }();
  if (!cfg) throw std::runtime_error("example config does not load");
  return *cfg;
}

inline const StreamConfig& trucking() {
  return *example().stream_named("trucking");
}
inline const StreamConfig& healthcare() {
  return *example().stream_named("healthcare");
}

inline void expect_verdict(const Verdict& v, Action action, Action would, const std::string& reply,
                           const std::string& reason, bool shadow) {
  EXPECT_EQ(v.action, action) << to_string(v.action);
  EXPECT_EQ(v.would, would) << to_string(v.would);
  EXPECT_EQ(v.reply, reply);
  EXPECT_EQ(v.reason, reason);
  EXPECT_EQ(v.shadow, shadow);
}

}  // namespace sg
