// streamguard-policyd against a real redis-server: exclusions, every cap,
// rollover with an injected clock, Redis failures. Each test starts its own
// Redis on a private unix socket.
#include <gtest/gtest.h>

#include <chrono>

#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;

const std::string kRedisStreams = R"(
[[stream]]
name = "trucking"
ports = [25]
exclude = ["yahoo_family", "dead_isp", "direct_hisp"]
over_cap = "defer"
hourly_cap = 60
burst = 3
daily_cap = 1000
operator_daily = { google = 0, default = 120 }

[[stream]]
name = "healthcare"
ports = [2526]
exclude = ["yahoo_family", "dead_isp", "direct_hisp", "consumer"]
over_cap = "hold"
hourly_cap = 3600
burst = 5
daily_cap = 10000
)";

class PolicydRedisTest : public ::testing::Test {
 protected:
  void SetUp() override { start(config_with_streams(kRedisStreams)); }
  void start(const std::string& config) {
    policyd.reset();
    policyd = std::make_unique<PolicydHarness>(config, redis.url());
    ASSERT_TRUE(policyd->wait_redis_ready());
  }
  RedisServer redis;
  std::unique_ptr<PolicydHarness> policyd;
};

TEST_F(PolicydRedisTest, ConsumerWebmailIsRefusedOnTheHealthcareStreamOnly) {
  PolicyClient c(policyd->socket());
  auto hc = c.rcpt("someone@gmail.com", 2526);
  EXPECT_EQ(
      hc,
      "REJECT 5.7.1 streamguard: gmail.com is consumer webmail, which stream healthcare excludes");
  EXPECT_EQ(c.rcpt("someone@outlook.com", 25), "DUNNO");
}

TEST_F(PolicydRedisTest, YahooFamilyIsRefusedOnEveryStream) {
  PolicyClient c(policyd->socket());
  for (std::string rcpt : {"a@yahoo.com", "b@att.net", "c@ymail.com", "d@yahoo.co.uk"}) {
    for (int port : {25, 2526}) {
      auto reply = c.rcpt(rcpt, port);
      EXPECT_TRUE(reply.starts_with("REJECT 5.7.1 ")) << rcpt << " on " << port << ": " << reply;
      EXPECT_NE(reply.find("Yahoo/AOL/Verizon"), std::string::npos) << reply;
    }
  }
}

TEST_F(PolicydRedisTest, PracticeDomainIsAcceptedAndCounted) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("dr.smith@riverside-clinic.example", 2526), "DUNNO");
  auto day = civil_day(policyd->clock.now_ms()).key;
  EXPECT_EQ(redis.cmd({"GET", "sg:{healthcare}:count:day:" + day}), "1");
  EXPECT_EQ(redis.cmd({"GET", "sg:{trucking}:count:day:" + day}), "(nil)");
}

TEST_F(PolicydRedisTest, HourlyCapAllowsTheBurstThenReturnsBudgetAtTheRate) {
  PolicyClient c(policyd->socket());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.rcpt("x@fleet.example", 25), "DUNNO") << i;
  EXPECT_EQ(c.rcpt("x@fleet.example", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking is at its hourly cap of 60/h, sent "
            "evenly: one message every 1m00s, up to 3 at once; the next slot is in 1m00s, try "
            "again then");
  policyd->clock.advance(59'000);
  EXPECT_TRUE(c.rcpt("x@fleet.example", 25).starts_with("DEFER_IF_PERMIT 4.7.1 "));
  policyd->clock.advance(1'000);  // one message per minute at 60/h
  EXPECT_EQ(c.rcpt("x@fleet.example", 25), "DUNNO");
  EXPECT_TRUE(c.rcpt("x@fleet.example", 25).starts_with("DEFER_IF_PERMIT"));
  // A long quiet spell refills only the burst, never more.
  policyd->clock.advance(3'600'000);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.rcpt("x@fleet.example", 25), "DUNNO") << i;
  EXPECT_TRUE(c.rcpt("x@fleet.example", 25).starts_with("DEFER_IF_PERMIT"));
}

TEST_F(PolicydRedisTest, StreamsNeverSpendEachOthersBudget) {
  PolicyClient c(policyd->socket());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.rcpt("x@fleet.example", 25), "DUNNO");
  ASSERT_TRUE(c.rcpt("x@fleet.example", 25).starts_with("DEFER_IF_PERMIT"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.rcpt("x@clinic.example", 2526), "DUNNO") << i;
  auto held = c.rcpt("x@clinic.example", 2526);
  EXPECT_TRUE(
      held.starts_with("HOLD streamguard: stream healthcare is at its hourly cap of 3600/h, "
                       "sent evenly: one message every 1s, up to 5 at once; accepted and held"))
      << held;
  // Trucking is still exactly where it was: deferred, and one minute from budget.
  EXPECT_EQ(c.rcpt("x@fleet.example", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking is at its hourly cap of 60/h, sent "
            "evenly: one message every 1m00s, up to 3 at once; the next slot is in 1m00s, try "
            "again then");
}

TEST_F(PolicydRedisTest, OperatorCapZeroClosesThatOperatorOnly) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@gmail.com", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider google "
            "is closed: its daily cap is 0; try again later");
  EXPECT_EQ(c.rcpt("a@google-practice.example", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider google "
            "is closed: its daily cap is 0; try again later");
  EXPECT_EQ(c.rcpt("a@m365-clinic.example", 25), "DUNNO");
  // A refused recipient charged nothing anywhere (all or nothing).
  auto day = civil_day(policyd->clock.now_ms()).key;
  EXPECT_EQ(redis.cmd({"GET", "sg:{trucking}:count:day:" + day}), "1");
  EXPECT_EQ(redis.cmd({"GET", "sg:{trucking}:count:day:" + day + ":op:google"}), "(nil)");
  EXPECT_EQ(redis.cmd({"GET", "sg:{trucking}:count:day:" + day + ":op:microsoft"}), "1");
}

TEST_F(PolicydRedisTest, AClosedCapIsTheReasonGivenEvenWhenAnotherCapAlsoRefuses) {
  PolicyClient c(policyd->socket());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.rcpt("x@fleet.example", 25), "DUNNO");
  // The hourly burst is spent too, but waiting a minute would not help gmail.com.
  EXPECT_EQ(c.rcpt("a@gmail.com", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider google "
            "is closed: its daily cap is 0; try again later");
}

TEST_F(PolicydRedisTest, DailyCapRollsOverAtMidnightInTheConfiguredZone) {
  start(config_with_streams(R"(
[[stream]]
name = "small"
ports = [2600]
hourly_cap = 100000
daily_cap = 2
)"));
  auto day = civil_day(policyd->clock.now_ms());
  policyd->clock.set(day.next_midnight_ms - 5'000);
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@b.example", 2600), "DUNNO");
  EXPECT_EQ(c.rcpt("a@b.example", 2600), "DUNNO");
  EXPECT_EQ(c.rcpt("a@b.example", 2600),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream small has reached its daily cap of 2, 2 "
            "accepted today; the count starts over in 5s; try again then");
  policyd->clock.set(day.next_midnight_ms);
  EXPECT_EQ(c.rcpt("a@b.example", 2600), "DUNNO");
  auto next = civil_day(day.next_midnight_ms).key;
  EXPECT_EQ(redis.cmd({"GET", "sg:{small}:count:day:" + next}), "1");
}

TEST_F(PolicydRedisTest, CapsWrittenInRedisOverrideTheConfig) {
  PolicyClient c(policyd->socket());
  redis.cmd({"HSET", "sg:{healthcare}:caps", "daily", "0"});
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526),
            "HOLD streamguard: stream healthcare is closed: its daily cap is 0; accepted and held: "
            "it stays held until the cap is raised above 0 (streamguard-rampd then releases "
            "it), or is released or removed by hand");
  redis.cmd({"HSET", "sg:{healthcare}:caps", "daily", "1"});
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
  EXPECT_TRUE(c.rcpt("a@clinic.example", 2526)
                  .starts_with("HOLD streamguard: stream healthcare has reached its "
                               "daily cap of 1, 1 accepted today"));
  redis.cmd({"HDEL", "sg:{healthcare}:caps", "daily"});
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
}

// The other fields rampd writes: the hourly cap (the configured burst
// stays), and an operator's daily cap over the config's (google = 0).
TEST_F(PolicydRedisTest, HourlyAndOperatorCapsWrittenInRedisOverrideTheConfigToo) {
  PolicyClient c(policyd->socket());
  redis.cmd({"HSET", "sg:{healthcare}:caps", "hourly", "60"});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO") << i;
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526),
            "HOLD streamguard: stream healthcare is at its hourly cap of 60/h, sent evenly: one "
            "message every 1m00s, up to 5 at once; accepted and held: streamguard-rampd releases "
            "held mail as the cap allows (the next slot is in 1m00s)");

  redis.cmd({"HSET", "sg:{trucking}:caps", "op:google:daily", "2"});
  EXPECT_EQ(c.rcpt("a@gmail.com", 25), "DUNNO");
  EXPECT_EQ(c.rcpt("b@gmail.com", 25), "DUNNO");
  const auto third = c.rcpt("c@gmail.com", 25);
  EXPECT_TRUE(
      third.starts_with("DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox "
                        "provider google has reached its daily cap of 2, 2 accepted today"))
      << third;
  redis.cmd({"HDEL", "sg:{trucking}:caps", "op:google:daily"});
  EXPECT_EQ(c.rcpt("d@gmail.com", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider google "
            "is closed: its daily cap is 0; try again later");
}

// Without a configured burst the limiter derives one: a minute's worth of
// the hourly cap, at least 1 (store/lua/limiter.lua), and says so.
TEST_F(PolicydRedisTest, WithoutABurstAMinutesWorthPassesAtOnce) {
  start(config_with_streams(R"(
[[stream]]
name = "small"
ports = [2600]
hourly_cap = 240
)"));
  PolicyClient c(policyd->socket());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.rcpt("a@b.example", 2600), "DUNNO") << i;
  EXPECT_EQ(
      c.rcpt("a@b.example", 2600),
      "DEFER_IF_PERMIT 4.7.1 streamguard: stream small is at its hourly cap of 240/h, sent evenly: "
      "one message every 15s, up to 4 at once; the next slot is in 15s, try again then");
  // A cap under 60 an hour still lets one through.
  redis.cmd({"HSET", "sg:{small}:caps", "hourly", "30"});
  policyd->clock.advance(3'600'000);
  EXPECT_EQ(c.rcpt("a@b.example", 2600), "DUNNO");
  EXPECT_TRUE(c.rcpt("a@b.example", 2600)
                  .starts_with("DEFER_IF_PERMIT 4.7.1 streamguard: stream small is "
                               "at its hourly cap of 30/h"));
}

TEST_F(PolicydRedisTest, EveryKeyIsHashTaggedByStreamAndExpires) {
  PolicyClient c(policyd->socket());
  c.rcpt("a@outlook.com", 25);
  c.rcpt("a@clinic.example", 2526);
  auto keys = redis.cmd({"KEYS", "*"});
  ASSERT_FALSE(keys.empty());
  std::stringstream ss(keys);
  std::string key;
  int n = 0;
  while (std::getline(ss, key, ',')) {
    ++n;
    EXPECT_TRUE(key.starts_with("sg:{trucking}:") || key.starts_with("sg:{healthcare}:")) << key;
    EXPECT_GT(std::stoll(redis.cmd({"PTTL", key})), 0) << key << " has no TTL";
  }
  // trucking to microsoft: hourly rate, day count, microsoft day count (no
  // microsoft hourly cap is set); healthcare to a practice: rate and day.
  EXPECT_EQ(n, 5);
}

TEST_F(PolicydRedisTest, ScriptCacheFlushedIsReloadedTransparently) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
  EXPECT_EQ(redis.cmd({"SCRIPT", "FLUSH"}), "OK");
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
}

TEST_F(PolicydRedisTest, RedisKilledAnswersOnErrorAndRecoversWithoutRestart) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
  redis.kill();
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto reply = c.rcpt("a@clinic.example", 2526);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(
        reply,
        "HOLD streamguard: cannot reach Redis at " + redis.socket_path() +
            " to check stream healthcare's caps; accepted and held: streamguard-rampd releases "
            "it once the caps can be charged");
    EXPECT_LT(took, 1s);
  }
  // Exclusions need no Redis.
  EXPECT_TRUE(c.rcpt("a@yahoo.com", 25).starts_with("REJECT 5.7.1"));
  redis.start();
  ASSERT_TRUE(policyd->wait_redis_ready());
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
  EXPECT_NE(policyd->metrics_text().find("streamguard_redis_reconnects_total 1"),
            std::string::npos);
}

TEST_F(PolicydRedisTest, HungRedisIsCutOffAtTheDeadline) {
  start(config_with_streams(kRedisStreams, "on_error = \"defer\"\ntimeout_ms = 100\n"));
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
  redis.pause();
  auto t0 = std::chrono::steady_clock::now();
  auto reply = c.rcpt("a@clinic.example", 2526);
  auto took = std::chrono::steady_clock::now() - t0;
  redis.resume();
  EXPECT_EQ(reply, "DEFER_IF_PERMIT 4.7.1 streamguard: cannot reach Redis at " +
                       redis.socket_path() + " to check stream healthcare's caps; try again later");
  EXPECT_GE(took, 90ms);
  EXPECT_LT(took, 1s);
  // The stuck connection is dropped after the answer: wait until that drop
  // is recorded, or "ready" would still describe the old connection.
  auto end = std::chrono::steady_clock::now() + 10s;
  while (policyd->metrics_text().find("streamguard_redis_reconnects_total 1") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(policyd->wait_redis_ready());
  EXPECT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO");
}

TEST_F(PolicydRedisTest, ShadowModeAnswersDunnoAndCountsWhatItWouldHaveDone) {
  start(config_with_streams(R"(
[[stream]]
name = "trial"
ports = [2600]
mode = "shadow"
exclude = ["consumer"]
hourly_cap = 60
burst = 1
)"));
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@gmail.com", 2600), "DUNNO");
  EXPECT_EQ(c.rcpt("a@clinic.example", 2600), "DUNNO");
  EXPECT_EQ(c.rcpt("a@clinic.example", 2600), "DUNNO");
  auto m = policyd->metrics_text();
  EXPECT_NE(
      m.find(
          R"(streamguard_policy_shadow_total{stream="trial",would="reject",reason="excluded:consumer"} 1)"),
      std::string::npos)
      << m;
  EXPECT_NE(
      m.find(
          R"(streamguard_policy_shadow_total{stream="trial",would="defer",reason="over_cap:hourly"} 1)"),
      std::string::npos)
      << m;
}

TEST_F(PolicydRedisTest, UnknownPortGetsTheConfiguredActionNeverAnAllow) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@clinic.example", 2527),
            "DEFER_IF_PERMIT 4.7.1 streamguard: no stream takes mail submitted on port 2527; try "
            "again later");
  EXPECT_NE(
      policyd->metrics_text().find(
          R"(streamguard_policy_requests_total{stream="none",action="defer",reason="unknown_port"} 1)"),
      std::string::npos);
}

TEST_F(PolicydRedisTest, OtherProtocolStagesPass) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@yahoo.com", 25, {{"protocol_state", "DATA"}}), "DUNNO");
}

TEST_F(PolicydRedisTest, ProtocolViolationClosesTheConnectionAndIsCounted) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.send_raw("request=smtpd_access_policy\nthis line has no equals sign\n\n"), "");
  EXPECT_NE(policyd->metrics_text().find("streamguard_policy_protocol_errors_total 1"),
            std::string::npos);
  // The server itself carries on.
  PolicyClient d(policyd->socket());
  EXPECT_EQ(d.rcpt("a@clinic.example", 2526), "DUNNO");
}

TEST_F(PolicydRedisTest, OneConnectionCarriesManyRequests) {
  PolicyClient c(policyd->socket());
  for (int i = 0; i < 200; ++i) {
    policyd->clock.advance(1'000);
    ASSERT_EQ(c.rcpt("a@clinic.example", 2526), "DUNNO") << i;
  }
}

TEST_F(PolicydRedisTest, ReloadAppliesAValidConfigAndKeepsTheOldOnErrors) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@outlook.com", 25), "DUNNO");
  policyd->write_config(config_with_streams(kRedisStreams) + "\nbogus_key = 1\n");
  auto errors = policyd->reload();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].to_string().find("unknown key 'bogus_key'"), std::string::npos);
  EXPECT_EQ(c.rcpt("b@outlook.com", 25), "DUNNO");

  std::string stricter = kRedisStreams;
  stricter.replace(stricter.find("\"direct_hisp\"]"), 14, "\"direct_hisp\", \"consumer\"]");
  policyd->write_config(config_with_streams(stricter));
  EXPECT_TRUE(policyd->reload().empty());
  EXPECT_EQ(
      c.rcpt("c@outlook.com", 25),
      "REJECT 5.7.1 streamguard: outlook.com is consumer webmail, which stream trucking excludes");
}

}  // namespace
}  // namespace sg::testing

namespace sg::testing {
namespace {

// A stream without a daily cap still has its day counted (streamguard-rampd
// counts send days from it), but never refused by it; an operator's day
// without a cap is not counted.
TEST(PolicydDailyCount, AStreamWithoutADailyCapStillCountsItsDay) {
  RedisServer redis;
  PolicydHarness policyd(config_with_streams(R"(
[[stream]]
name = "trucking"
ports = [25]
hourly_cap = 100000
)"),
                         redis.url());
  ASSERT_TRUE(policyd.wait_redis_ready());
  PolicyClient c(policyd.socket());
  EXPECT_EQ(c.rcpt("a@fleet.example", 25), "DUNNO");
  EXPECT_EQ(c.rcpt("b@gmail.com", 25), "DUNNO");
  const std::string day = civil_day(policyd.clock.now_ms()).key;
  EXPECT_EQ(redis.cmd({"GET", "sg:{trucking}:count:day:" + day}), "2");
  EXPECT_EQ(redis.cmd({"GET", "sg:{trucking}:count:day:" + day + ":op:google"}), "(nil)");
  EXPECT_NE(redis.cmd({"TTL", "sg:{trucking}:count:day:" + day}), "-1");  // it expires
}

}  // namespace
}  // namespace sg::testing
