// A recovering breaker cuts the caps it covers (a stream-wide one every cap,
// an operator's that operator's only), and the refusal says so only for a
// cap it cut; a cut daily cap comes back whole when the cut ends.
#include <gtest/gtest.h>

#include <string>

#include "rules/decision.hpp"
#include "tests/unit/limiter_result.hpp"

namespace sg {
namespace {

constexpr int64_t kRecoveryNow = 1'780'000'000'000;

StreamConfig recovering_trucking() {
  StreamConfig s;
  s.name = "trucking";
  s.over_cap = Action::defer;
  return s;
}

LimiterResult refused_by(const LimiterPlan& plan, std::size_t index, LimiterState st,
                         bool op_only) {
  LimiterResult r = testing::refused_by(plan, index, st);
  r.recovering = true;
  r.recovering_op_only = op_only;
  r.breaker_until_ms = kRecoveryNow + 20 * 60'000;
  r.breaker_reason = "ms-throttle: saw 12 deferred results within 600s (threshold 12)";
  return r;
}

TEST(DecideRecovery, AnOperatorsBreakerDoesNotExplainTheStreamsOwnCap) {
  const auto plan = plan_limits(recovering_trucking(), "microsoft");
  // The stream's daily cap (index 1) refuses while microsoft's breaker recovers.
  const auto v = decide_caps(recovering_trucking(), plan,
                             refused_by(plan, 1, {50, 50, 3'600'000}, true), kRecoveryNow);
  EXPECT_EQ(v.reply.find("cut while"), std::string::npos) << v.reply;
  EXPECT_NE(v.reply.find("the count starts over in 1h00m"), std::string::npos) << v.reply;
}

TEST(DecideRecovery, ACutDailyCapComesBackWholeWhenTheCutEnds) {
  const auto plan = plan_limits(recovering_trucking(), "microsoft");
  // microsoft's daily cap (index 3), cut, refuses 9 h before midnight: the
  // whole cap is back in 20 minutes.
  const auto v = decide_caps(recovering_trucking(), plan,
                             refused_by(plan, 3, {10, 10, 9 * 3'600'000}, true), kRecoveryNow);
  EXPECT_EQ(v.reply,
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider "
            "microsoft has reached its daily cap of 10 (cut while breaker ms-throttle recovers, "
            "for another 20m00s), 10 accepted today; the whole cap returns in 20m00s; try again "
            "then");
}

TEST(DecideRecovery, AStreamWideBreakerCutsEveryCap) {
  const auto plan = plan_limits(recovering_trucking(), "");
  const auto v = decide_caps(recovering_trucking(), plan,
                             refused_by(plan, 0, {25, 1, 144'000}, false), kRecoveryNow);
  EXPECT_NE(v.reply.find("hourly cap of 25/h (cut while breaker ms-throttle recovers, for "
                         "another 20m00s)"),
            std::string::npos)
      << v.reply;
}

}  // namespace
}  // namespace sg
