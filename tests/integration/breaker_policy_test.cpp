// policyd honours the breakers streamguard-rampd writes into a stream's caps
// hash (contract in store/lua/limiter.lua): an open breaker defers or holds
// that stream x operator (or the whole stream) without charging anything; a
// recovering one lets a fraction of the caps through; an expired one is
// ignored. Real Redis, injected clock.
#include <gtest/gtest.h>

#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

const std::string kBreakerStreams = R"(
[[stream]]
name = "trucking"
ports = [25]
over_cap = "defer"
daily_cap = 1000
operator_daily = { microsoft = 4 }

[[stream]]
name = "healthcare"
ports = [2526]
over_cap = "hold"
daily_cap = 1000
)";

class BreakerPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policyd = std::make_unique<PolicydHarness>(config_with_streams(kBreakerStreams), redis.url());
    ASSERT_TRUE(policyd->wait_redis_ready());
  }
  std::string until(int64_t from_now_ms) const {
    return std::to_string(policyd->clock.now_ms() + from_now_ms);
  }
  std::string day_count(const std::string& stream, const std::string& op = "") const {
    auto day = civil_day(policyd->clock.now_ms()).key;
    return redis.cmd(
        {"GET", "sg:{" + stream + "}:count:day:" + day + (op.empty() ? "" : ":op:" + op)});
  }
  RedisServer redis;
  std::unique_ptr<PolicydHarness> policyd;
};

TEST_F(BreakerPolicyTest, OpenOperatorBreakerRefusesThatOperatorOnlyAndChargesNothing) {
  redis.cmd({"HSET", "sg:{trucking}:caps", "breaker:op:microsoft",
             "hold " + until(600'000) + " 0 ms-throttle: saw 12 deferred results within 600s"});
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@outlook.com", 25),
            "HOLD streamguard: stream trucking's mail to mailbox provider microsoft is paused for "
            "another 10m00s by breaker ms-throttle, which saw 12 deferred results within 600s; "
            "accepted and held: streamguard-rampd releases it once the pause is over");
  EXPECT_EQ(day_count("trucking"), "(nil)");
  EXPECT_EQ(c.rcpt("b@gmail.com", 25), "DUNNO");      // another operator
  EXPECT_EQ(c.rcpt("c@outlook.com", 2526), "DUNNO");  // another stream
  EXPECT_EQ(c.rcpt("d@fleet.example", 25), "DUNNO");  // no operator
  policyd->clock.advance(600'000);                    // the breaker's time is up
  EXPECT_EQ(c.rcpt("a@outlook.com", 25), "DUNNO");
  EXPECT_NE(policyd->metrics_text().find(
                "streamguard_policy_requests_total{stream=\"trucking\",action=\"hold\","
                "reason=\"breaker\"} 1"),
            std::string::npos)
      << policyd->metrics_text();
}

TEST_F(BreakerPolicyTest, StreamWideBreakerRefusesEveryRecipientOfThatStream) {
  redis.cmd({"HSET", "sg:{healthcare}:caps", "breaker", "defer " + until(3'600'000) + " 0 frozen"});
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("x@clinic.example", 2526),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream healthcare is paused for another 1h00m by "
            "breaker frozen; try again after the pause");
  EXPECT_EQ(c.rcpt("x@fleet.example", 25), "DUNNO");
}

TEST_F(BreakerPolicyTest, RecoveringBreakerLetsAFractionOfTheCapThrough) {
  redis.cmd({"HSET", "sg:{trucking}:caps", "breaker:op:microsoft",
             "recover " + until(3'600'000) + " 0.5 ms-throttle: saw 12 deferred results"});
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@outlook.com", 25), "DUNNO");
  EXPECT_EQ(c.rcpt("b@outlook.com", 25), "DUNNO");
  // The reply says the cap was cut, by which breaker and until when.
  const std::string cut = c.rcpt("c@outlook.com", 25);
  EXPECT_TRUE(
      cut.starts_with("DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to "
                      "mailbox provider microsoft has reached its daily cap of 2 (cut "
                      "while breaker ms-throttle recovers, for another 1h00m), 2 accepted "
                      "today"))
      << cut;
  EXPECT_EQ(c.rcpt("d@fleet.example", 25), "DUNNO");  // stream caps untouched
  policyd->clock.advance(3'600'000);                  // recovered: the whole cap of 4
  EXPECT_EQ(c.rcpt("c@outlook.com", 25), "DUNNO");
  EXPECT_EQ(c.rcpt("e@outlook.com", 25), "DUNNO");
  EXPECT_TRUE(c.rcpt("f@outlook.com", 25).starts_with("DEFER_IF_PERMIT"));
}

TEST_F(BreakerPolicyTest, MalformedBreakerFieldIsIgnoredNotAnError) {
  redis.cmd({"HSET", "sg:{trucking}:caps", "breaker:op:microsoft", "open now please"});
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@outlook.com", 25), "DUNNO");
}

}  // namespace
}  // namespace sg::testing
