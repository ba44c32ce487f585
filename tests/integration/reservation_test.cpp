// Reserve at RCPT, commit at END-OF-MESSAGE, against a real Redis: a
// transaction that completes keeps its charges; one that never reaches
// END-OF-MESSAGE gives them back once its reservation expires; a message a
// milter refused after END-OF-MESSAGE gives them back when rampd says so.
#include <gtest/gtest.h>

#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

#include "store/lua_scripts.hpp"

namespace sg::testing {
namespace {

std::string streams(const std::string& commit) {
  return R"(
[policyd]
commit = ")" +
         commit + R"("
reserve_ttl_s = 10

[[stream]]
name = "trucking"
ports = [25]
over_cap = "defer"
hourly_cap = 60
burst = 2
daily_cap = 3
operator_daily = { microsoft = 2 }
)";
}

class ReservationTest : public ::testing::Test {
 protected:
  void start(const std::string& commit) {
    policyd = std::make_unique<PolicydHarness>(config_with_streams(streams(commit)), redis.url());
    ASSERT_TRUE(policyd->wait_redis_ready());
  }
  std::string count(const std::string& op = "") const {
    auto day = civil_day(policyd->clock.now_ms()).key;
    return redis.cmd({"GET", "sg:{trucking}:count:day:" + day + (op.empty() ? "" : ":op:" + op)});
  }
  std::string rcpt(PolicyClient& c, const std::string& to, const std::string& instance) {
    return c.rcpt(to, 25, {{"instance", instance}});
  }
  RedisServer redis;
  std::unique_ptr<PolicydHarness> policyd;
};

TEST_F(ReservationTest, CompletedTransactionKeepsItsChargesAbandonedOneGivesThemBack) {
  start("end_of_message");
  PolicyClient c(policyd->socket());
  EXPECT_EQ(rcpt(c, "a@outlook.com", "t1"), "DUNNO");  // completes
  EXPECT_EQ(rcpt(c, "b@outlook.com", "t2"), "DUNNO");  // abandoned after RCPT
  EXPECT_EQ(count(), "2");
  EXPECT_EQ(count("microsoft"), "2");
  EXPECT_EQ(c.end_of_message(25, "t1"), "DUNNO");
  EXPECT_EQ(redis.cmd({"ZRANGE", "sg:{trucking}:resv", "0", "-1"}), "t2");

  // Not yet expired: nothing comes back.
  policyd->clock.advance(9'000);
  policyd->sweep_reservations();
  EXPECT_EQ(count("microsoft"), "2");
  EXPECT_TRUE(rcpt(c, "c@outlook.com", "t3")
                  .starts_with("DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail "
                               "to mailbox provider microsoft has reached its daily cap of 2"));

  policyd->clock.advance(2'000);
  policyd->sweep_reservations();
  EXPECT_EQ(count(), "1");
  EXPECT_EQ(count("microsoft"), "1");
  EXPECT_EQ(redis.cmd({"EXISTS", "sg:{trucking}:resv:t2"}), "0");
  EXPECT_EQ(rcpt(c, "c@outlook.com", "t3"), "DUNNO");
  EXPECT_NE(policyd->metrics_text().find(
                "streamguard_reservations_total{stream=\"trucking\",result=\"returned\"} 1"),
            std::string::npos);
  EXPECT_NE(policyd->metrics_text().find(
                "streamguard_reservations_total{stream=\"trucking\",result=\"committed\"} 1"),
            std::string::npos);
}

TEST_F(ReservationTest, SeveralRecipientsOfOneTransactionCommitTogether) {
  start("end_of_message");
  PolicyClient c(policyd->socket());
  EXPECT_EQ(rcpt(c, "a@fleet.example", "t1"), "DUNNO");
  EXPECT_EQ(rcpt(c, "b@fleet.example", "t1"), "DUNNO");
  EXPECT_EQ(redis.cmd({"LLEN", "sg:{trucking}:resv:t1"}), "4");  // 2 x (hourly + daily)
  EXPECT_EQ(c.end_of_message(25, "t1", 2), "DUNNO");
  policyd->clock.advance(60'000);
  policyd->sweep_reservations();
  EXPECT_EQ(count(), "2");
}

// A milter may refuse the message after END-OF-MESSAGE: the commit keeps
// what it charged under the queue id, and rampd's refund (when the log says
// so) gives it back, hourly budget included, once.
TEST_F(ReservationTest, AMessageRefusedAfterEndOfMessageGetsItsChargesBackOnce) {
  start("end_of_message");
  PolicyClient c(policyd->socket());
  EXPECT_EQ(rcpt(c, "a@outlook.com", "t1"), "DUNNO");
  EXPECT_EQ(rcpt(c, "b@fleet.example", "t1"), "DUNNO");
  EXPECT_EQ(c.end_of_message(25, "t1", 2), "DUNNO");  // queue_id 4XyZ1234
  const std::string kept = "sg:{trucking}:accepted:4XyZ1234";
  EXPECT_EQ(redis.cmd({"EXISTS", "sg:{trucking}:resv:t1"}), "0");
  EXPECT_EQ(redis.cmd({"LLEN", kept}), "5");  // 2 x (hourly + daily), microsoft's daily
  const long ttl = std::stol(redis.cmd({"PTTL", kept}));
  EXPECT_GT(ttl, 3'500'000);
  EXPECT_LE(ttl, 3'600'000);
  EXPECT_EQ(count(), "2");
  EXPECT_EQ(count("microsoft"), "1");
  // hourly_cap 60, burst 2: the two spent the burst.
  EXPECT_TRUE(rcpt(c, "c@fleet.example", "t2").starts_with("DEFER_IF_PERMIT"));

  const std::string now = std::to_string(policyd->clock.now_ms());
  auto refund = [&] { return redis.cmd({"EVAL", kReservationsLua, "1", kept, "refund", now}); };
  EXPECT_EQ(refund(), "5");
  EXPECT_EQ(count(), "0");
  EXPECT_EQ(count("microsoft"), "0");
  EXPECT_EQ(redis.cmd({"EXISTS", kept}), "0");
  EXPECT_EQ(refund(), "0") << "given back twice";
  EXPECT_EQ(count(), "0");
  EXPECT_EQ(rcpt(c, "c@fleet.example", "t2"), "DUNNO") << "the hourly budget came back";
  EXPECT_EQ(rcpt(c, "d@fleet.example", "t2"), "DUNNO");
}

TEST_F(ReservationTest, AbandonedTransactionGivesBackHourlyBudget) {
  start("end_of_message");
  PolicyClient c(policyd->socket());
  // hourly_cap 60, burst 2: two go at once, the third waits a minute.
  EXPECT_EQ(rcpt(c, "a@fleet.example", "t1"), "DUNNO");
  EXPECT_EQ(rcpt(c, "b@fleet.example", "t1"), "DUNNO");
  EXPECT_TRUE(rcpt(c, "c@fleet.example", "t2").starts_with("DEFER_IF_PERMIT"));
  // The refused recipient charged nothing, and the daily usage says so.
  EXPECT_NE(policyd->metrics_text().find(
                "streamguard_usage{stream=\"trucking\",operator=\"all\",window=\"daily\"} 2\n"),
            std::string::npos)
      << policyd->metrics_text();
  policyd->clock.advance(11'000);  // past the reservation, far short of a minute
  policyd->sweep_reservations();
  EXPECT_EQ(rcpt(c, "c@fleet.example", "t2"), "DUNNO");
  EXPECT_EQ(rcpt(c, "d@fleet.example", "t2"), "DUNNO");
  EXPECT_TRUE(rcpt(c, "e@fleet.example", "t2").starts_with("DEFER_IF_PERMIT"));
}

TEST_F(ReservationTest, CommitAtRcptChargesForGood) {
  start("rcpt");
  PolicyClient c(policyd->socket());
  EXPECT_EQ(rcpt(c, "a@fleet.example", "t1"), "DUNNO");
  EXPECT_EQ(redis.cmd({"EXISTS", "sg:{trucking}:resv"}), "0");
  policyd->clock.advance(3'600'000);
  policyd->sweep_reservations();
  EXPECT_EQ(count(), "1");
  EXPECT_EQ(c.end_of_message(25, "t1"), "DUNNO");
}

TEST_F(ReservationTest, EveryReservationKeyExpires) {
  start("end_of_message");
  PolicyClient c(policyd->socket());
  EXPECT_EQ(rcpt(c, "a@fleet.example", "t9"), "DUNNO");
  for (std::string key : {"sg:{trucking}:resv", "sg:{trucking}:resv:t9"}) {
    long ttl = std::stol(redis.cmd({"PTTL", key}));
    EXPECT_GT(ttl, 10'000) << key;
    EXPECT_LE(ttl, 10'000 + 86'400'000) << key;
  }
}

// rampd marks a held message's reservation before `postsuper -H`: no sweep
// returns it while the release's outcome is unknown; commit (it left the
// hold queue) or cancel (it did not) settles it and clears the mark.
TEST_F(ReservationTest, AReleaseMarkKeepsTheChargesUntilCommitOrCancelSettlesIt) {
  start("end_of_message");
  PolicyClient c(policyd->socket());
  EXPECT_EQ(rcpt(c, "a@outlook.com", "rampd-Q1"), "DUNNO");
  EXPECT_EQ(rcpt(c, "b@outlook.com", "rampd-Q2"), "DUNNO");
  const std::vector<std::string> head = {"EVAL", kReservationsLua, "3", "sg:{trucking}:resv"};
  auto eval = [&](const std::string& instance, std::vector<std::string> args) {
    std::vector<std::string> argv = head;
    argv.push_back("sg:{trucking}:resv:" + instance);
    argv.push_back("sg:{trucking}:releasing");
    argv.insert(argv.end(), args.begin(), args.end());
    return redis.cmd(argv);
  };
  const std::string now = std::to_string(policyd->clock.now_ms());
  const std::string until = std::to_string(policyd->clock.now_ms() + 86'400'000);
  for (const char* q : {"rampd-Q1", "rampd-Q2"})
    EXPECT_NE(eval(q, {"release", now, q, until}), "0") << "the charges it holds";
  EXPECT_EQ(redis.cmd({"ZRANGE", "sg:{trucking}:releasing", "0", "-1"}), "rampd-Q1,rampd-Q2");

  policyd->clock.advance(11'000);  // past reserve_ttl_s
  policyd->sweep_reservations();
  EXPECT_EQ(count(), "2") << "a sweep gave back the charges of a release in progress";

  EXPECT_NE(eval("rampd-Q1", {"commit", "rampd-Q1"}), "0");
  EXPECT_NE(eval("rampd-Q2", {"cancel", std::to_string(policyd->clock.now_ms()), "rampd-Q2"}), "0");
  EXPECT_EQ(count(), "1");
  EXPECT_EQ(count("microsoft"), "1");
  EXPECT_EQ(redis.cmd({"ZRANGE", "sg:{trucking}:releasing", "0", "-1"}), "");
  EXPECT_EQ(redis.cmd({"ZRANGE", "sg:{trucking}:resv", "0", "-1"}), "");
}

}  // namespace
}  // namespace sg::testing
