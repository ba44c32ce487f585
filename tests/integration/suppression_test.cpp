// Suppression end to end on a real Redis: streamguard-rampd learns a hard
// bounce from the Postfix log (tests/data/maillog/rules/) and writes it to
// the whole set and every stream's copy; policyd then refuses that address
// on every stream, in the same call that would charge the caps (nothing is
// charged), until the entry ends; rampd removes ended entries and repairs a
// stream's copy that went missing. policyd in process on an injected clock.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/civil_time.hpp"
#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"
#include "tests/integration/user_unknown_corpus.hpp"

namespace sg::testing {
namespace {

constexpr int64_t kTtlMs = 3600 * 1000;

std::string suppression_config(const std::string& maillog,
                               const std::string& healthcare_mode = "enforce") {
  return config_with_streams(R"(
[rampd]
maillog = ")" + maillog + R"("
maillog_from = "start"

[[stream]]
name = "trucking"
ports = [25]
daily_cap = 1000
postfix = { transport = "out05" }

[[stream]]
name = "healthcare"
ports = [2526]
daily_cap = 1000
mode = ")" + healthcare_mode +
                             R"("
postfix = { transport = "hcout1" }
)" + std::string(kUserUnknownRule));
}

class SuppressionTest : public ::testing::Test {
 protected:
  void start(const std::string& healthcare_mode = "enforce") {
    maillog = copy_user_unknown_log("suppress-maillog");
    policyd =
        std::make_unique<PolicydHarness>(suppression_config(maillog, healthcare_mode), redis.url());
    ASSERT_TRUE(policyd->wait_redis_ready());
    policyd->clock.set(kAfterUserUnknownLog);
    rampd =
        std::make_unique<RampdHarness>(suppression_config(maillog, healthcare_mode), redis.url());
  }
  void TearDown() override {
    if (!maillog.empty()) std::filesystem::remove(maillog);
  }
  std::string day_count(const std::string& stream) const {
    return redis.cmd(
        {"GET", "sg:{" + stream + "}:count:day:" + civil_day(policyd->clock.now_ms()).key});
  }

  RedisServer redis;
  std::string maillog;
  std::unique_ptr<PolicydHarness> policyd;
  std::unique_ptr<RampdHarness> rampd;
};

TEST_F(SuppressionTest, AHardBounceOnOneStreamIsRefusedByEveryStreamAndChargesNothing) {
  start();
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("old.dispatcher@gmail.com", 2526), "DUNNO");  // before rampd read the log
  EXPECT_EQ(day_count("healthcare"), "1");

  rampd->log_round(kAfterUserUnknownLog);
  const std::string field = "a:old.dispatcher@gmail.com";
  const std::string record = redis.cmd({"HGET", "sg:suppress", field});
  EXPECT_TRUE(record.starts_with(std::to_string(kAfterUserUnknownLog - 2'758'000 + kTtlMs) + " "))
      << record;
  EXPECT_EQ(redis.cmd({"HGET", "sg:{trucking}:suppress", field}), record);
  EXPECT_EQ(redis.cmd({"HGET", "sg:{healthcare}:suppress", field}), record);
  EXPECT_EQ(redis.cmd({"HLEN", "sg:suppress"}), "5") << "every line of the corpus";

  // Learned from trucking's transport (out05); refused on healthcare too.
  const std::string reply = c.rcpt("Old.Dispatcher@gmail.com", 2526);
  EXPECT_TRUE(
      reply.starts_with("REJECT 5.1.1 streamguard: <old.dispatcher@gmail.com> is suppressed: it "
                        "hard-bounced (550-5.1.1 The email account that you tried to "
                        "reach does not exist."))
      << reply;
  EXPECT_NE(reply.find(" on 2026-11-23 via trucking (rule user-unknown); no stream mails it "
                       "until 2026-11-23T10:14:02Z"),
            std::string::npos)
      << reply;
  EXPECT_TRUE(c.rcpt("old.dispatcher@gmail.com", 25).starts_with("REJECT 5.1.1 ")) << "trucking";
  EXPECT_EQ(day_count("healthcare"), "1") << "a suppressed recipient is never charged";
  EXPECT_EQ(c.rcpt("new.dispatcher@gmail.com", 2526), "DUNNO");  // another address
  EXPECT_NE(policyd->metrics_text().find(
                "streamguard_policy_requests_total{stream=\"healthcare\",action=\"reject\","
                "reason=\"suppressed:address\"} 1"),
            std::string::npos)
      << policyd->metrics_text();
  EXPECT_NE(policyd->metrics_text().find("streamguard_suppressed_total{stream=\"healthcare\","
                                         "kind=\"address\",rule=\"user-unknown\"} 1"),
            std::string::npos)
      << policyd->metrics_text();
  EXPECT_EQ(policyd->metrics_text().find("streamguard_cap{stream=\"healthcare\",operator=\"all\","
                                         "window=\"daily\"} -1"),
            std::string::npos)
      << "a suppressed recipient's placeholder states were recorded as the caps";
  EXPECT_NE(rampd->app().metrics_text().find(
                "streamguard_rampd_suppress_learned_total{rule=\"user-unknown\"} 5"),
            std::string::npos)
      << rampd->app().metrics_text();
  EXPECT_NE(rampd->app().status_json().find("\"key\": \"old.dispatcher@gmail.com\""),
            std::string::npos);

  // The entry's hour is up: mailable again, and rampd removes it everywhere.
  policyd->clock.set(kAfterUserUnknownLog + kTtlMs);
  EXPECT_EQ(c.rcpt("old.dispatcher@gmail.com", 2526), "DUNNO");
  rampd->log_round(kAfterUserUnknownLog + kTtlMs);
  EXPECT_EQ(redis.cmd({"HLEN", "sg:suppress"}), "0");
  EXPECT_EQ(redis.cmd({"HLEN", "sg:{healthcare}:suppress"}), "0");
  EXPECT_EQ(redis.cmd({"ZCARD", "sg:suppress:expiry"}), "0");
}

TEST_F(SuppressionTest, AStreamsCopyThatWentMissingIsRebuiltFromTheWholeSet) {
  start();
  rampd->log_round(kAfterUserUnknownLog);
  redis.cmd({"DEL", "sg:{healthcare}:suppress"});
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("ops@haulers-example.com", 2526), "DUNNO");  // the copy is gone
  rampd->log_round(kAfterUserUnknownLog + 1000);
  EXPECT_EQ(redis.cmd({"HLEN", "sg:{healthcare}:suppress"}), "5");
  EXPECT_TRUE(c.rcpt("ops@haulers-example.com", 2526).starts_with("REJECT 5.1.1 "));
}

TEST_F(SuppressionTest, ADomainEntryRefusesEveryAddressThereAndShadowOnlyCountsIt) {
  start("shadow");
  const std::string until = std::to_string(kAfterUserUnknownLog + kTtlMs);
  const std::string record =
      until + " " + std::to_string(kAfterUserUnknownLog - 86'400'000) +
      " dead-tenant healthcare 4.4.4 451 4.4.4 Mail received as unauthenticated, incoming to a "
      "recipient domain configured in a hosted tenant which has no mail-enabled subscriptions.";
  for (const char* key : {"sg:{trucking}:suppress", "sg:{healthcare}:suppress"})
    redis.cmd({"HSET", key, "d:closed-practice.example", record});
  PolicyClient c(policyd->socket());
  const std::string reply = c.rcpt("office@Closed-Practice.example", 25);
  EXPECT_TRUE(reply.starts_with(
      "REJECT 5.1.2 streamguard: domain closed-practice.example is suppressed: its "
      "mail failed (451 4.4.4 Mail received as unauthenticated"))
      << reply;
  EXPECT_NE(reply.find("(rule dead-tenant); no stream mails it until 2026-11-23"),
            std::string::npos)
      << reply;
  EXPECT_EQ(day_count("trucking"), "(nil)");
  // healthcare is in shadow: answered DUNNO, counted as what it would have done.
  EXPECT_EQ(c.rcpt("billing@closed-practice.example", 2526), "DUNNO");
  EXPECT_NE(policyd->metrics_text().find("reason=\"suppressed:domain\""), std::string::npos)
      << policyd->metrics_text();
  EXPECT_EQ(c.rcpt("billing@open-practice.example", 25), "DUNNO");
}

}  // namespace
}  // namespace sg::testing
