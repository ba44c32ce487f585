// A burst of Yahoo [TSS04] deferrals in the Postfix log trips the yahoo
// breaker of the stream that got them; streamguard-rampd writes it into the
// caps hash, and policyd then defers that stream's Yahoo recipients, and only
// those. Real Redis, real Postfix log lines (tests/data/maillog), policyd in
// process, both on one injected clock.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"
#include "tests/integration/tss04_log.hpp"

namespace sg::testing {
namespace {

class RampdBreakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    maillog = tss04_log_copy("sg-maillog-");
    policyd = std::make_unique<PolicydHarness>(tss04_config(maillog), redis.url());
    ASSERT_TRUE(policyd->wait_redis_ready());
    policyd->clock.set(kAfterBurst);
    rampd = std::make_unique<RampdHarness>(tss04_config(maillog), redis.url());
  }
  void TearDown() override { std::filesystem::remove(maillog); }

  RedisServer redis;
  std::string maillog;
  std::unique_ptr<PolicydHarness> policyd;
  std::unique_ptr<RampdHarness> rampd;
};

TEST_F(RampdBreakerTest, Tss04BurstTripsTheYahooBreakerAndPolicydDefersThatOperator) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("frontdesk@yahoo.com", 2526), "DUNNO");  // before rampd read the log

  rampd->log_round(kAfterBurst);

  const std::string field = redis.cmd({"HGET", "sg:{healthcare}:caps", "breaker:op:yahoo"});
  EXPECT_TRUE(field.starts_with("defer ")) << field;
  EXPECT_NE(field.find("yahoo-tss04"), std::string::npos) << field;
  // The trucking stream saw fewer [TSS04] replies than the threshold.
  EXPECT_EQ(redis.cmd({"HGET", "sg:{trucking}:caps", "breaker:op:yahoo"}), "(nil)");

  const std::string reply = c.rcpt("billing@yahoo.com", 2526);
  EXPECT_TRUE(
      reply.starts_with("DEFER_IF_PERMIT 4.7.1 streamguard: stream healthcare's mail to "
                        "mailbox provider yahoo is paused for another "))
      << reply;
  EXPECT_NE(reply.find(" by breaker yahoo-tss04, which saw "), std::string::npos) << reply;
  EXPECT_EQ(c.rcpt("frontdesk@aol.com", 2526).substr(0, 15), "DEFER_IF_PERMIT");  // same operator
  EXPECT_EQ(c.rcpt("someone@gmail.com", 2526), "DUNNO");        // another operator
  EXPECT_EQ(c.rcpt("dispatch@yahoo.com", 25), "DUNNO");         // another stream
  EXPECT_EQ(c.rcpt("clinic@practice.example", 2526), "DUNNO");  // no operator

  // /status and /metrics of rampd show it.
  EXPECT_NE(rampd->app().status_json().find("\"rule\": \"yahoo-tss04\""), std::string::npos)
      << rampd->app().status_json();
  EXPECT_NE(rampd->app().metrics_text().find(
                "streamguard_rampd_breaker_state{stream=\"healthcare\",operator=\"yahoo\","
                "rule=\"yahoo-tss04\"} 1"),
            std::string::npos);
}

TEST_F(RampdBreakerTest, AfterTheCoolDownTheBreakerRecoversGraduallyThenCloses) {
  rampd->log_round(kAfterBurst);
  const std::string open = redis.cmd({"HGET", "sg:{healthcare}:caps", "breaker:op:yahoo"});
  ASSERT_TRUE(open.starts_with("defer ")) << open;
  const int64_t until = std::stoll(open.substr(6));

  // Half way through the recovery: a "recover" field with a fraction between the floor and 1.
  rampd->log_round(until + 1'800'000);
  const std::string rec = redis.cmd({"HGET", "sg:{healthcare}:caps", "breaker:op:yahoo"});
  ASSERT_TRUE(rec.starts_with("recover ")) << rec;
  const double fraction = std::stod(rec.substr(rec.find(' ', 8) + 1));
  EXPECT_GT(fraction, 0.4);
  EXPECT_LT(fraction, 0.7);
  policyd->clock.set(until + 1'800'000);
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("billing@yahoo.com", 2526), "DUNNO");

  // After the recovery the field is gone.
  rampd->log_round(until + 3'600'000 + 1000);
  EXPECT_EQ(redis.cmd({"HGET", "sg:{healthcare}:caps", "breaker:op:yahoo"}), "(nil)");
}

}  // namespace
}  // namespace sg::testing
