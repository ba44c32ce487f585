// The breaker engine: the brief's TSS04 burst and Gmail bounces from the
// maillog corpus, the sliding window, a breaker's life (cooldown, recovery,
// reopening) and its limits. Its config and the mapping of log lines to
// events are in breaker_config_test.cpp.
#include "rules/breaker.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "formats/maillog.hpp"
#include "tests/unit/breaker_test_support.hpp"

namespace sg::breaker {
namespace {

using namespace breaker_test;

constexpr int64_t kS = 1000;

// The burst corpus as events, in log order, timed by their ISO stamps.
std::vector<Event> burst() {
  EventMapper mapper(*config());
  std::vector<Event> out;
  for (const auto& d : corpus("tss04-burst.log")) {
    auto t = maillog::iso_time_ms(d.timestamp);
    EXPECT_TRUE(t);
    auto e = mapper.event(d, *t);
    EXPECT_TRUE(e) << d.syslog_name;
    if (e) out.push_back(std::move(*e));
  }
  return out;
}

bool is_tss04(const Event& e) {
  return e.text.find("[TSS04]") != std::string::npos;
}

Event event(int64_t t_ms, std::string stream, std::string op, std::string dsn = "4.7.0",
            std::string text = "421 4.7.0 [TSS04] Messages from 192.0.2.107 temporarily deferred",
            maillog::Status status = maillog::Status::deferred) {
  return Event{t_ms, std::move(stream), std::move(op), status, std::move(dsn), std::move(text), "",
               ""};
}

// ---------------------------------------------------------------- the corpus burst

TEST(BreakerCorpus, TssBurstTripsYahooOnHealthcareOnly) {
  Breaker b(config()->breakers);
  const auto events = burst();
  ASSERT_EQ(events.size(), 19u);
  int healthcare_tss = 0;
  std::vector<Verdict> trips;
  for (const auto& e : events) {
    auto opened = b.record(e);
    if (e.stream == "healthcare" && e.op == "yahoo" && is_tss04(e)) {
      ++healthcare_tss;
      // The fifth [TSS04] of the stream within 600 s trips it, not before.
      EXPECT_EQ(opened.size(), healthcare_tss == 5 ? 1u : 0u) << healthcare_tss;
    } else {
      EXPECT_TRUE(opened.empty()) << e.stream << "/" << e.op;
    }
    trips.insert(trips.end(), opened.begin(), opened.end());
  }
  EXPECT_EQ(healthcare_tss, 6);
  ASSERT_EQ(trips.size(), 1u);

  const int64_t now = events.back().time_ms;
  const Verdict v = b.state("healthcare", "yahoo", now);
  EXPECT_EQ(v.state, State::open);
  EXPECT_EQ(v.action, BreakerAction::hold);
  EXPECT_EQ(v.rule, "yahoo-tss04");
  EXPECT_EQ(v.count, 5u);
  EXPECT_EQ(v.window_s, 600u);
  EXPECT_EQ(v.fraction, 0.0);
  EXPECT_EQ(v.opened_ms, *maillog::iso_time_ms("2026-11-22T21:03:00.090122+00:00"));
  EXPECT_EQ(v.until_ms, v.opened_ms + 3600 * kS);
  EXPECT_EQ(v.reason,
            "breaker 'yahoo-tss04' on healthcare/yahoo: 5 deferred/bounced results matching "
            "dsn 4.7 and text 'tss04' within 600s (threshold 5); hold until "
            "2026-11-22T22:03:00Z");

  // The other stream had three [TSS04]: below the threshold.
  EXPECT_EQ(b.state("trucking", "yahoo", now).state, State::closed);
  // Google deferred healthcare six times, but no rule covers 4.7.28.
  EXPECT_EQ(b.state("healthcare", "google", now).state, State::closed);
  EXPECT_EQ(b.state("healthcare", "microsoft", now).state, State::closed);
  EXPECT_FALSE(b.ramp_frozen("healthcare", now));

  const auto all = b.tripped(now);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].stream, "healthcare");
  EXPECT_EQ(all[0].op, "yahoo");
}

TEST(BreakerCorpus, DeliveryCountsPerStream) {
  Breaker b(config()->breakers);
  const auto events = burst();
  for (const auto& e : events) b.record(e);
  const int64_t now = events.back().time_ms;
  const DeliveryCounts hc = b.counts("healthcare", now);
  EXPECT_EQ(hc.sent, 4u);
  EXPECT_EQ(hc.deferred, 12u);
  EXPECT_EQ(hc.bounced, 0u);
  ASSERT_TRUE(hc.delivery_ratio());
  EXPECT_DOUBLE_EQ(*hc.delivery_ratio(), 4.0 / 16.0);
  const DeliveryCounts tr = b.counts("trucking", now);
  EXPECT_EQ(tr.deferred, 3u);
  EXPECT_EQ(tr.sent, 0u);
  EXPECT_EQ(*tr.delivery_ratio(), 0.0);
  EXPECT_FALSE(b.counts("nobody", now).delivery_ratio());

  // An hour later the window has moved past them; the totals remain.
  EXPECT_EQ(b.counts("healthcare", now + 3600 * kS + 60 * kS).total(), 0u);
  EXPECT_EQ(b.totals("healthcare").total(), 16u);
}

TEST(BreakerCorpus, BelowThresholdNothingTrips) {
  Breaker b(config()->breakers);
  int tss = 0;
  for (const auto& e : burst()) {
    if (e.stream == "healthcare" && is_tss04(e) && ++tss > 4) break;
    EXPECT_TRUE(b.record(e).empty());
  }
  EXPECT_EQ(b.state("healthcare", "yahoo", kT0 + 600 * kS).state, State::closed);
  EXPECT_TRUE(b.tripped(kT0 + 600 * kS).empty());
}

TEST(BreakerCorpus, GmailBouncesFreezeTheRamp) {
  Breaker b(config()->breakers);
  EventMapper mapper(*config());
  const auto gmail = corpus("gmail.log");
  // Lines 1 and 2 are 550 5.7.1 bounces from Google on trucking; feed them twice.
  int64_t t = kT0;
  for (int round = 0; round < 2; ++round)
    for (std::size_t i = 0; i < 2; ++i) b.record(*mapper.event(gmail[i], t += kS));
  const Verdict v = b.state("trucking", "google", t);
  EXPECT_EQ(v.state, State::open);
  EXPECT_EQ(v.action, BreakerAction::freeze_ramp);
  EXPECT_EQ(v.count, 3u);
  EXPECT_TRUE(b.ramp_frozen("trucking", t));
  EXPECT_FALSE(b.ramp_frozen("healthcare", t));
  EXPECT_NE(v.reason.find("'gmail-571'"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("3 bounced results matching dsn 5.7.1 within 3600s"), std::string::npos)
      << v.reason;
}

// ---------------------------------------------------------------- the window

TEST(BreakerWindow, Slides) {
  Breaker b(config()->breakers);
  // Four at 0-3 s, the fifth at 601 s: five in 601 s, not in 600.
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(b.record(event(kT0 + i * kS, "healthcare", "yahoo")).empty());
  EXPECT_TRUE(b.record(event(kT0 + 601 * kS, "healthcare", "yahoo")).empty());
  EXPECT_EQ(b.state("healthcare", "yahoo", kT0 + 601 * kS).state, State::closed);
  // The window now holds 1..3 s and 601 s; 602 s drops the one at 1 s ...
  EXPECT_TRUE(b.record(event(kT0 + 602 * kS, "healthcare", "yahoo")).empty());
  // ... and at 603 s the five newest (3, 601, 602, 603, 603) span 600 s exactly.
  EXPECT_TRUE(b.record(event(kT0 + 603 * kS, "healthcare", "yahoo")).empty());
  auto opened = b.record(event(kT0 + 603 * kS, "healthcare", "yahoo"));
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].count, 5u);
  EXPECT_EQ(opened[0].opened_ms, kT0 + 603 * kS);
}

TEST(BreakerWindow, OnlyMatchingResultsCount) {
  Breaker b(config()->breakers);
  int64_t t = kT0;
  for (int i = 0; i < 10; ++i) {
    b.record(event(t += kS, "healthcare", "yahoo", "4.7.0", "421 4.7.0 try later"));  // no TSS04
    b.record(event(t += kS, "healthcare", "yahoo", "5.7.9", "554 5.7.9 [TSS04]"));    // dsn 5.x
    b.record(event(t += kS, "healthcare", "google", "4.7.0", "421 4.7.0 [TSS04]"));   // not yahoo
    b.record(event(t += kS, "healthcare", "yahoo", "4.7.0", "[TSS04]", maillog::Status::sent));
    b.record(event(t += kS, "healthcare", "yahoo", "4.70.1", "[TSS04]"));  // not 4.7 by parts
  }
  EXPECT_TRUE(b.tripped(t).empty());
  // Case does not matter for the text.
  for (int i = 0; i < 5; ++i) b.record(event(t += kS, "healthcare", "yahoo", "4.7.0", "[tss04]"));
  EXPECT_EQ(b.state("healthcare", "yahoo", t).state, State::open);
}

TEST(BreakerWindow, OutOfOrderResultsAreSorted) {
  Breaker b(config()->breakers);
  for (int64_t s : {300, 100, 200, 0}) b.record(event(kT0 + s * kS, "healthcare", "yahoo"));
  // 700 s: the one at 0 s falls out of the 600 s window.
  EXPECT_TRUE(b.record(event(kT0 + 700 * kS, "healthcare", "yahoo")).empty());
  // A late line from another process: 100, 200, 300, 650, 700 span 600 s.
  auto opened = b.record(event(kT0 + 650 * kS, "healthcare", "yahoo"));
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].opened_ms, kT0 + 700 * kS) << "the newest result";
}

// ---------------------------------------------------------------- cool-down, recovery

TEST(BreakerLife, CooldownThenRecoveryThenClosed) {
  Breaker b(config()->breakers);
  for (int i = 0; i < 5; ++i) b.record(event(kT0 + i * kS, "healthcare", "yahoo"));
  const int64_t opened = kT0 + 4 * kS;
  const int64_t until = opened + 3600 * kS;
  const int64_t recovered = until + 1800 * kS;

  EXPECT_EQ(b.state("healthcare", "yahoo", opened).state, State::open);
  EXPECT_EQ(b.state("healthcare", "yahoo", until - 1).state, State::open);

  Verdict v = b.state("healthcare", "yahoo", until);
  EXPECT_EQ(v.state, State::recovering);
  EXPECT_DOUBLE_EQ(v.fraction, kRecoveryFloor);
  EXPECT_EQ(v.until_ms, recovered);
  EXPECT_EQ(v.action, BreakerAction::hold);
  EXPECT_NE(v.reason.find("recovering at 10% of the cap until 2026-11-22T22:30:04Z"),
            std::string::npos)
      << v.reason;

  v = b.state("healthcare", "yahoo", until + 900 * kS);
  EXPECT_EQ(v.state, State::recovering);
  EXPECT_DOUBLE_EQ(v.fraction, kRecoveryFloor + (1 - kRecoveryFloor) / 2);
  EXPECT_NE(v.reason.find("at 55% of the cap"), std::string::npos) << v.reason;

  v = b.state("healthcare", "yahoo", recovered);
  EXPECT_EQ(v.state, State::closed);
  EXPECT_EQ(v.fraction, 1.0);
  EXPECT_EQ(v.rule, "");
  EXPECT_TRUE(b.tripped(recovered).empty());
}

TEST(BreakerLife, ResultsWhileOpenDoNotCountAndRecoveryCanReopen) {
  Breaker b(config()->breakers);
  for (int i = 0; i < 5; ++i) b.record(event(kT0 + i * kS, "healthcare", "yahoo"));
  const int64_t until = kT0 + 4 * kS + 3600 * kS;
  // The queue drains into the open breaker: ignored, the cool-down stays.
  for (int i = 0; i < 50; ++i)
    EXPECT_TRUE(b.record(event(kT0 + (10 + i) * kS, "healthcare", "yahoo")).empty());
  EXPECT_EQ(b.state("healthcare", "yahoo", until).state, State::recovering);
  // While recovering, a full window opens it again with a fresh cool-down.
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(b.record(event(until + i * kS, "healthcare", "yahoo")).empty());
  auto opened = b.record(event(until + 4 * kS, "healthcare", "yahoo"));
  ASSERT_EQ(opened.size(), 1u);
  const Verdict v = b.state("healthcare", "yahoo", until + 5 * kS);
  EXPECT_EQ(v.state, State::open);
  EXPECT_EQ(v.until_ms, until + 4 * kS + 3600 * kS);
}

TEST(BreakerLife, NoRecoveryPhaseClosesAfterCooldown) {
  BreakerRule r;
  r.name = "any-bounce";
  r.status = {"bounced"};
  r.threshold = 2;
  r.window_s = 60;
  r.cooldown_s = 10;
  Breaker b({r});
  b.record(event(kT0, "trucking", "", "5.1.1", "550 5.1.1 no such user", maillog::Status::bounced));
  auto opened = b.record(
      event(kT0 + kS, "trucking", "", "5.1.1", "550 5.1.1 no such user", maillog::Status::bounced));
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_NE(opened[0].reason.find("trucking/unknown operator: 2 bounced results within 60s"),
            std::string::npos)
      << opened[0].reason;
  EXPECT_EQ(b.state("trucking", "", kT0 + 10 * kS).state, State::open);
  EXPECT_EQ(b.state("trucking", "", kT0 + 11 * kS).state, State::closed);
  EXPECT_EQ(b.state("trucking", "other", kT0 + 5 * kS).state, State::closed);
}

TEST(BreakerLife, MostSevereRuleWins) {
  BreakerRule defer, hold;
  defer.name = "d";
  defer.threshold = 1;
  defer.window_s = 60;
  defer.cooldown_s = 1000;
  hold = defer;
  hold.name = "h";
  hold.action = BreakerAction::hold;
  hold.cooldown_s = 100;
  hold.text = {"tss04"};
  Breaker b({defer, hold});
  b.record(event(kT0, "healthcare", "yahoo"));
  EXPECT_EQ(b.state("healthcare", "yahoo", kT0).rule, "h");
  EXPECT_EQ(b.state("healthcare", "yahoo", kT0 + 200 * kS).rule, "d") << "hold cooled down";
}

TEST(BreakerLimits, KeysAreCapped) {
  BreakerRule r;
  r.name = "r";
  r.threshold = 2;
  r.window_s = 60;
  Breaker b({r}, {.max_keys = 2, .rate_window_s = 3600});
  b.record(event(kT0, "s", "a"));
  b.record(event(kT0, "s", "b"));
  EXPECT_EQ(b.dropped(), 0u);
  b.record(event(kT0, "s", "c"));
  b.record(event(kT0, "s", "c"));
  EXPECT_EQ(b.dropped(), 2u);
  EXPECT_EQ(b.state("s", "c", kT0).state, State::closed);
  EXPECT_EQ(b.totals("s").deferred, 4u) << "counts are per stream, not per key";
}

TEST(BreakerLimits, RecoveryFraction) {
  EXPECT_DOUBLE_EQ(recovery_fraction(0, 100, 0), kRecoveryFloor);
  EXPECT_DOUBLE_EQ(recovery_fraction(0, 100, 100), 1.0);
  EXPECT_DOUBLE_EQ(recovery_fraction(0, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(recovery_fraction(0, 100, 50), 0.55);
}

}  // namespace
}  // namespace sg::breaker
