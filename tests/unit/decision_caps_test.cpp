// plan_limits and decide_caps: the limiters a stream and an operator plan
// (caps, ramp fallbacks, burst), and the answer when one refuses: defer or
// hold, with the pace of the cap, a closed cap said as closed, and a shadow
// stream answering DUNNO while it reports the refusal.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.hpp"
#include "rules/decision.hpp"
#include "tests/unit/decision_test_support.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- plan_limits

void expect_spec(const LimiterSpec& s, const std::string& window, const std::string& op,
                 const std::string& cap_field, int64_t fallback, int64_t burst) {
  EXPECT_EQ(s.window, window);
  EXPECT_EQ(s.op, op);
  EXPECT_EQ(s.cap_field, cap_field);
  EXPECT_EQ(s.fallback, fallback) << cap_field;
  EXPECT_EQ(s.burst, burst) << cap_field;
}

TEST(PlanLimits, StreamOnlyWhenNoOperator) {
  auto plan = plan_limits(trucking(), "");
  ASSERT_EQ(plan.limiters.size(), 2u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 50, -1);  // first ramp step
  expect_spec(plan.limiters[1], "daily", "", "daily", 4000, -1);
}

TEST(PlanLimits, TruckingGoogleIsClosedDaily) {
  auto plan = plan_limits(trucking(), "google");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 50, -1);
  expect_spec(plan.limiters[1], "daily", "", "daily", 4000, -1);
  expect_spec(plan.limiters[2], "hourly", "google", "op:google:hourly", -1, -1);
  expect_spec(plan.limiters[3], "daily", "google", "op:google:daily", 0, -1);
}

TEST(PlanLimits, OperatorWithoutEntryTakesDefault) {
  auto plan = plan_limits(trucking(), "microsoft");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[2], "hourly", "microsoft", "op:microsoft:hourly", -1, -1);
  expect_spec(plan.limiters[3], "daily", "microsoft", "op:microsoft:daily", 120, -1);
}

TEST(PlanLimits, NoOperatorCapsConfigured) {
  auto plan = plan_limits(healthcare(), "google");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 100, -1);
  expect_spec(plan.limiters[1], "daily", "", "daily", 10000, -1);
  expect_spec(plan.limiters[2], "hourly", "google", "op:google:hourly", -1, -1);
  expect_spec(plan.limiters[3], "daily", "google", "op:google:daily", -1, -1);
}

TEST(PlanLimits, ExplicitCapsBurstAndNoDefault) {
  StreamConfig s;
  s.name = "x";
  s.hourly_cap = 600;  // wins over the ramp
  s.ramp = RampConfig{};
  s.ramp->hourly = {{0, 10}, {3, 20}};
  s.burst = 25;
  s.operator_caps.hourly = {{"google", 30}};
  s.operator_caps.daily = {{"yahoo", 7}};
  auto plan = plan_limits(s, "google");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 600, 25);
  expect_spec(plan.limiters[1], "daily", "", "daily", -1, -1);
  expect_spec(plan.limiters[2], "hourly", "google", "op:google:hourly", 30, -1);
  expect_spec(plan.limiters[3], "daily", "google", "op:google:daily", -1, -1);

  auto none = plan_limits(StreamConfig{}, "");
  ASSERT_EQ(none.limiters.size(), 2u);
  expect_spec(none.limiters[0], "hourly", "", "hourly", -1, -1);
  expect_spec(none.limiters[1], "daily", "", "daily", -1, -1);
}

// ---------------------------------------------------------------- decide_caps

LimiterResult denied_at(int index, std::size_t n, LimiterState st) {
  LimiterResult r;
  r.allowed = false;
  r.denied = index;
  r.states.resize(n);
  st.refused = true;
  r.states[static_cast<std::size_t>(index)] = st;
  return r;
}

TEST(DecideCaps, AllowedIsDunnoOk) {
  auto plan = plan_limits(trucking(), "google");
  LimiterResult r;
  r.states.resize(plan.limiters.size());
  expect_verdict(decide_caps(trucking(), plan, r), Action::dunno, Action::dunno, "DUNNO", "ok",
                 false);
}

TEST(DecideCaps, HourlyDeniedDefers) {
  StreamConfig s = trucking();
  s.over_cap = Action::defer;
  auto plan = plan_limits(s, "");
  auto v = decide_caps(s, plan, denied_at(0, 2, {50, 4, 72'000}));
  expect_verdict(v, Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking is at its hourly cap of 50/h, "
                 "sent evenly: one message every 1m12s; the next slot is in 1m12s, try again then",
                 "over_cap:hourly", false);
}

TEST(DecideCaps, HourlyDeniedHolds) {
  auto plan = plan_limits(trucking(), "");
  ASSERT_EQ(trucking().over_cap, Action::hold);
  auto v = decide_caps(trucking(), plan, denied_at(0, 2, {150, 3, 1'500}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking is at its hourly cap of 150/h, sent evenly: "
                 "one message every 24s, up to 2 at once; accepted and held: streamguard-rampd "
                 "releases held mail as the cap allows (the next slot is in 2s)",
                 "over_cap:hourly", false);
}

// [rampd] drain = false: nothing releases held mail but the operator, and
// the reply says so instead of promising rampd's release.
TEST(DecideCaps, HeldWithoutDrainSaysItWaitsForAHand) {
  StreamConfig s = trucking();
  s.held_released = false;
  auto v = decide_caps(s, plan_limits(s, ""), denied_at(0, 2, {150, 3, 1'500}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking is at its hourly cap of 150/h, sent evenly: "
                 "one message every 24s, up to 2 at once; accepted and held: it stays held until "
                 "released by hand (postsuper -H; [rampd] drain is off)",
                 "over_cap:hourly", false);
  auto err = decide_store_error(s, Action::hold, "Redis at unix:/run/redis.sock");
  EXPECT_TRUE(
      err.reply.ends_with("it stays held until released by hand (postsuper -H; [rampd] "
                          "drain is off)"))
      << err.reply;
}

// A large hourly cap is a rate per minute; a configured burst is the one said.
TEST(DecideCaps, HourlyPaceOfALargeCapAndAConfiguredBurst) {
  StreamConfig s = trucking();
  s.burst = 25;
  auto v = decide_caps(s, plan_limits(s, ""), denied_at(0, 2, {10000, 25, 300}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking is at its hourly cap of 10000/h, sent evenly: "
                 "about 167 a minute, up to 25 at once; accepted and held: streamguard-rampd "
                 "releases held mail as the cap allows (the next slot is in 1s)",
                 "over_cap:hourly", false);
}

TEST(DecideCaps, DailyDenied) {
  auto plan = plan_limits(healthcare(), "");
  auto v = decide_caps(healthcare(), plan, denied_at(1, 2, {10000, 10000, 7'260'000}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream healthcare has reached its daily cap of 10000, 10000 "
                 "accepted today; the count starts over in 2h01m; accepted and held: "
                 "streamguard-rampd releases held mail as the cap allows",
                 "over_cap:daily", false);
}

TEST(DecideCaps, CapZeroSaysClosed) {
  auto plan = plan_limits(trucking(), "google");
  auto v = decide_caps(trucking(), plan, denied_at(3, 4, {0, 0, -1}));
  expect_verdict(
      v, Action::hold, Action::hold,
      "HOLD streamguard: stream trucking's mail to mailbox provider google is closed: "
      "its daily cap is 0; accepted and held: it stays held until the cap is raised above "
      "0 (streamguard-rampd then releases it), or is released or removed by hand",
      "over_cap:daily:operator", false);

  StreamConfig s = trucking();
  s.over_cap = Action::defer;
  auto stream_closed = decide_caps(s, plan_limits(s, ""), denied_at(0, 2, {0, 0, -1}));
  expect_verdict(stream_closed, Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking is closed: its hourly cap is "
                 "0; try again later",
                 "over_cap:hourly", false);
}

TEST(DecideCaps, OperatorDailyDenied) {
  auto plan = plan_limits(trucking(), "microsoft");
  auto v = decide_caps(trucking(), plan, denied_at(3, 4, {120, 120, 3'600'000}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking's mail to mailbox provider microsoft has "
                 "reached its daily cap of 120, 120 accepted today; the count starts over in "
                 "1h00m; accepted and held: streamguard-rampd releases held mail as the cap allows",
                 "over_cap:daily:operator", false);
}

TEST(DecideCaps, OperatorHourlyDenied) {
  StreamConfig s = trucking();
  s.over_cap = Action::defer;
  auto plan = plan_limits(s, "apple");
  auto v = decide_caps(s, plan, denied_at(2, 4, {60, 1, 59'999}));
  expect_verdict(v, Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider "
                 "apple is at its hourly cap of 60/h, sent evenly: one message every 1m00s; the "
                 "next slot is in 1m00s, try again then",
                 "over_cap:hourly:operator", false);
}

TEST(DecideCaps, SeveralRefusalsReportTheLatestBudget) {
  auto plan = plan_limits(trucking(), "microsoft");
  // The stream hourly cap refuses first, but the operator's daily cap keeps the
  // recipient out far longer: that is the one to report.
  auto r = denied_at(0, 4, {50, 2, 30'000});
  r.states[1] = {4000, 10, -1, false};
  r.states[3] = {120, 120, 7'800'000, true};
  expect_verdict(decide_caps(trucking(), plan, r), Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking's mail to mailbox provider microsoft has "
                 "reached its daily cap of 120, 120 accepted today; the count starts over in "
                 "2h10m; accepted and held: streamguard-rampd releases held mail as the cap allows",
                 "over_cap:daily:operator", false);
}

TEST(DecideCaps, SeveralRefusalsReportAClosedCapFirst) {
  auto plan = plan_limits(trucking(), "google");
  auto r = denied_at(1, 4, {4000, 4000, 50'000'000});
  r.states[3] = {0, 0, -1, true};
  expect_verdict(
      decide_caps(trucking(), plan, r), Action::hold, Action::hold,
      "HOLD streamguard: stream trucking's mail to mailbox provider google is closed: "
      "its daily cap is 0; accepted and held: it stays held until the cap is raised above "
      "0 (streamguard-rampd then releases it), or is released or removed by hand",
      "over_cap:daily:operator", false);
}

TEST(DecideCaps, ShadowAnswersDunnoButReportsTheRefusal) {
  StreamConfig s = trucking();
  s.mode = StreamMode::shadow;
  auto plan = plan_limits(s, "google");
  auto v = decide_caps(s, plan, denied_at(3, 4, {0, 0, -1}));
  expect_verdict(v, Action::dunno, Action::hold, "DUNNO", "over_cap:daily:operator", true);

  LimiterResult ok;
  ok.states.resize(4);
  expect_verdict(decide_caps(s, plan, ok), Action::dunno, Action::dunno, "DUNNO", "ok", false);
}

// An open breaker in shadow mode: Postfix is told DUNNO, the metrics and the
// log say what enforcement would have answered.
TEST(DecideCaps, ShadowBreakerAnswersDunnoButReportsTheBreaker) {
  StreamConfig s = trucking();
  s.mode = StreamMode::shadow;
  auto plan = plan_limits(s, "google");
  LimiterResult r;
  r.allowed = false;
  r.breaker = Action::hold;
  r.breaker_until_ms = 600'000;
  r.breaker_reason = "gmail-rate: saw 3 deferred results within 600s (threshold 3)";
  r.states.resize(plan.limiters.size());
  const auto v = decide_caps(s, plan, r, 0);
  EXPECT_EQ(v.action, Action::dunno);
  EXPECT_EQ(v.would, Action::hold);
  EXPECT_EQ(v.reply, "DUNNO");
  EXPECT_EQ(v.reason, "breaker");
  EXPECT_TRUE(v.shadow);
  s.mode = StreamMode::enforce;
  EXPECT_EQ(
      decide_caps(s, plan, r, 0).reply,
      "HOLD streamguard: stream trucking's mail to mailbox provider google is paused for another "
      "10m00s by breaker gmail-rate, which saw 3 deferred results within 600s (threshold 3); "
      "accepted and held: streamguard-rampd releases it once the pause is over");
}

}  // namespace
}  // namespace sg
