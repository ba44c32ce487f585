// A Redis that comes back empty (here: killed and started again without
// persistence) has lost the day's counts. With [redis] expect_rampd, policyd
// charges nothing in a Redis streamguard-rampd has not marked, answering
// on_error, until rampd has put the day's counts, the send history and the
// ramp state back from its state file: the day's total stays within the cap.
// Without it, the same loss hands the stream a second daily cap.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "common/civil_time.hpp"
#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

constexpr int kDailyCap = 6;

class RedisEmptyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sg-empty-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string config(bool expect_rampd) const {
    return config_with_streams(R"(
[rampd]
state_file = ")" + dir_ + R"(/rampd-state.json"

[[stream]]
name = "trucking"
ports = [25]
hourly_cap = 100000
daily_cap = 6
operator_daily = { google = 2 }
over_cap = "defer"
postfix = { transport = "out05" }
)",
                               std::string("on_error = \"defer\"\nexpect_rampd = ") +
                                   (expect_rampd ? "true" : "false") + "\n");
  }

  // Sends `n` recipients (two of every three to fleet domains, one to
  // gmail.com); returns how many were accepted.
  int send(PolicyClient& c, int n, std::string* last = nullptr) {
    int accepted = 0;
    for (int i = 0; i < n; ++i) {
      const std::string rcpt =
          "r" + std::to_string(sent_++) +
          (i % 3 == 2 ? "@gmail.com" : "@fleet" + std::to_string(i) + ".example");
      const std::string reply = c.rcpt(rcpt, 25);
      if (reply == "DUNNO") ++accepted;
      if (last) *last = reply;
    }
    return accepted;
  }

  std::string day_count(RedisServer& redis, int64_t now_ms, const std::string& op = "") {
    return redis.cmd({"GET", "sg:{trucking}:count:day:" + civil_day(now_ms).key +
                                 (op.empty() ? "" : ":op:" + op)});
  }

  // Redis answers again after a restart (policyd reconnects by itself).
  static void wait_for_redis(PolicyClient& c) {
    for (int i = 0; i < 200; ++i) {
      if (c.rcpt("probe@fleet.example", 25).find("cannot reach Redis") == std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "policyd did not reconnect to Redis";
  }

  std::string dir_;
  int sent_ = 0;
};

TEST_F(RedisEmptyTest, TheDayStaysWithinItsCapWhenRedisComesBackEmpty) {
  RedisServer redis;
  PolicydHarness policyd(config(true), redis.url());
  PolicyClient c(policyd.socket());
  const int64_t now = policyd.clock.now_ms();

  // A Redis no rampd has marked: nothing charged, on_error answered, and it says why.
  const std::string before = c.rcpt("first@fleet.example", 25);
  EXPECT_TRUE(before.starts_with("DEFER_IF_PERMIT 4.7.1 streamguard: Redis at " +
                                 redis.socket_path() + " has lost the day's counts"))
      << before;
  EXPECT_EQ(day_count(redis, now), "(nil)");

  int accepted = 0;
  {
    auto rampd = std::make_unique<RampdHarness>(config(true), redis.url());
    rampd->ramp_round(now);  // marks the Redis
    std::string last;
    accepted += send(c, 2 * kDailyCap, &last);
    EXPECT_EQ(accepted, kDailyCap);
    EXPECT_TRUE(last.find("has reached its daily cap of 6") != std::string::npos) << last;
    redis.cmd({"HSET", "sg:{trucking}:sent_days", "20261118", "40"});  // an earlier day
    rampd->ramp_round(now + 1000);  // the state file now holds the day
  }
  EXPECT_EQ(day_count(redis, now), std::to_string(kDailyCap));
  const std::string google_before = day_count(redis, now, "google");

  // Redis restarts empty (and rampd with it).
  redis.kill();
  redis.start();
  EXPECT_EQ(redis.cmd({"DBSIZE"}), "0");
  wait_for_redis(c);
  accepted += send(c, 2 * kDailyCap);
  EXPECT_EQ(accepted, kDailyCap) << "charged in a Redis that had lost the day";
  EXPECT_EQ(day_count(redis, now), "(nil)");

  RampdHarness rampd(config(true), redis.url());
  rampd.ramp_round(now + 2000);  // puts the day back from the state file, then marks
  EXPECT_EQ(day_count(redis, now), std::to_string(kDailyCap));
  EXPECT_EQ(day_count(redis, now, "google"), google_before);
  EXPECT_EQ(redis.cmd({"HGET", "sg:{trucking}:sent_days", "20261118"}), "40");
  std::string last;
  accepted += send(c, 2 * kDailyCap, &last);
  EXPECT_EQ(accepted, kDailyCap) << "the day's total went past its cap";
  EXPECT_TRUE(last.find("has reached its daily cap of 6, 6 accepted today") != std::string::npos)
      << last;
  EXPECT_NE(policyd.metrics_text().find(
                "streamguard_policy_requests_total{stream=\"trucking\",action=\"defer\","
                "reason=\"store_unkept\"}"),
            std::string::npos)
      << policyd.metrics_text();
}

// A state file that cannot be read is kept as it is, and an empty Redis is
// not marked: policyd keeps answering on_error rather than counting from 0.
TEST_F(RedisEmptyTest, AnUnreadableStateFileLeavesAnEmptyRedisUnmarked) {
  const std::string state = dir_ + "/rampd-state.json";
  std::ofstream(state) << "{\"version\": 1, \"streams\": {\"trucking\": ";  // torn
  RedisServer redis;
  PolicydHarness policyd(config(true), redis.url());
  PolicyClient c(policyd.socket());
  RampdHarness rampd(config(true), redis.url());
  rampd.ramp_round(policyd.clock.now_ms());
  EXPECT_EQ(redis.cmd({"HEXISTS", "sg:{trucking}:caps", "rampd:kept"}), "0");
  const std::string reply = c.rcpt("a@fleet.example", 25);
  EXPECT_NE(reply.find("has lost the day's counts"), std::string::npos) << reply;
  const std::string status = rampd.app().status_json();
  EXPECT_NE(status.find(state + ": "), std::string::npos) << status;
  std::ifstream in(state);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "{\"version\": 1, \"streams\": {\"trucking\": ") << "overwritten";
}

// Why the mark exists: without it the same loss is a second daily cap.
TEST_F(RedisEmptyTest, WithoutTheMarkAnEmptyRedisGivesASecondDailyCap) {
  RedisServer redis;
  PolicydHarness policyd(config(false), redis.url());
  PolicyClient c(policyd.socket());
  EXPECT_EQ(send(c, 2 * kDailyCap), kDailyCap);
  redis.kill();
  redis.start();
  wait_for_redis(c);
  EXPECT_EQ(send(c, 2 * kDailyCap), kDailyCap - 1);  // the probe took one
}

}  // namespace
}  // namespace sg::testing
