// `streamguardctl explain`: what policyd would answer for one recipient and
// why, from the config and a real Redis, through policyd's own limiter
// script in a dry run: nothing is charged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/civil_time.hpp"
#include "common/clock.hpp"
#include "common/command.hpp"
#include "rules/limiter_keys.hpp"
#include "tests/integration/dns_server.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

constexpr const char* kExplainStreams = R"(
[[stream]]
name = "trucking"
ports = [25]
exclude = ["yahoo_family", "dead_isp"]
hourly_cap = 3600
daily_cap = 2
operator_daily = { google = 0 }
over_cap = "hold"
postfix = { transport = "out05" }

[[stream]]
name = "healthcare"
ports = [2526]
exclude = ["yahoo_family", "consumer"]
hourly_cap = 3600
daily_cap = 100
postfix = { transport = "hcout1" }
)";

class ExplainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sg-explain-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/streamguard.toml") << config_with_streams(kExplainStreams);
    set_process_timezone("UTC");  // the config's zone: the day's key below
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  command::Result explain(int port, const std::string& rcpt, const std::string& redis_url) {
    return command::run({SG_CTL_BIN, "explain", "--config", dir_ + "/streamguard.toml", "--port",
                         std::to_string(port), "--recipient", rcpt, "--redis", redis_url},
                        30'000);
  }
  static std::string today_key(const std::string& stream, const std::string& op = "") {
    return keys::daily_count("sg", stream, civil_day(SystemClock().now_ms()).key, op);
  }

  std::string dir_;
  RedisServer redis;
};

bool has(const std::string& out, const std::string& part) {
  return out.find(part) != std::string::npos;
}

TEST_F(ExplainTest, AnExcludedRecipientIsAnsweredFromTheListsAlone) {
  const auto r = explain(25, "someone@yahoo.com", redis.url());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "stream        trucking (enforce; over cap: hold)")) << r.out;
  EXPECT_TRUE(has(r.out, "domain        yahoo.com, on the lists ")) << r.out;
  EXPECT_TRUE(has(r.out, "before any cap: nothing in Redis is looked at")) << r.out;
  EXPECT_TRUE(has(r.out,
                  "answer        REJECT 5.7.1 streamguard: yahoo.com is in the "
                  "Yahoo/AOL/Verizon mail family, which stream trucking excludes"))
      << r.out;
}

TEST_F(ExplainTest, AFullDailyCapIsNamedAndNothingIsCharged) {
  redis.cmd({"SET", today_key("trucking"), "2"});
  const auto r = explain(25, "dispatch@fleet.example", redis.url());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "provider      none known (stream caps only)")) << r.out;
  EXPECT_TRUE(has(r.out, "suppressed    no")) << r.out;
  EXPECT_TRUE(has(r.out, "breaker       none open")) << r.out;
  EXPECT_TRUE(has(r.out, "caps          stream hourly: 3600/h, a slot is free")) << r.out;
  EXPECT_TRUE(has(r.out, "stream daily: 2, 2 accepted today  <- refuses: the count starts over"))
      << r.out;
  EXPECT_TRUE(has(r.out,
                  "answer        HOLD streamguard: stream trucking has reached its daily "
                  "cap of 2, 2 accepted today"))
      << r.out;
  EXPECT_TRUE(has(r.out, "(a dry run: nothing was charged)")) << r.out;
  EXPECT_EQ(redis.cmd({"GET", today_key("trucking")}), "2");
  EXPECT_EQ(redis.cmd({"EXISTS", keys::hourly_rate("sg", "trucking")}), "0");
}

TEST_F(ExplainTest, AnAcceptedRecipientLeavesTheCountersAsTheyWere) {
  redis.cmd({"SET", today_key("healthcare"), "7"});
  const auto r = explain(2526, "dr.smith@riverside-clinic.example", redis.url());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "stream daily: 100, 7 accepted today")) << r.out;
  EXPECT_TRUE(has(r.out, "answer        DUNNO")) << r.out;
  EXPECT_EQ(redis.cmd({"GET", today_key("healthcare")}), "7");
  EXPECT_EQ(redis.cmd({"EXISTS", keys::hourly_rate("sg", "healthcare")}), "0");
}

TEST_F(ExplainTest, AProvidersClosedCapIsShown) {
  const auto r = explain(25, "someone@gmail.com", redis.url());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "provider      google (static)")) << r.out;
  EXPECT_TRUE(has(r.out, "google daily: 0, 0 accepted today  <- closed")) << r.out;
  EXPECT_TRUE(has(r.out, "mailbox provider google is closed: its daily cap is 0")) << r.out;
}

TEST_F(ExplainTest, APortOfNoStreamAndARedisThatCannotBeAsked) {
  const auto none = explain(2599, "a@b.example", redis.url());
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_TRUE(has(none.out, "none takes port 2599 ([policyd] unknown_port = defer)")) << none.out;
  EXPECT_TRUE(has(none.out,
                  "DEFER_IF_PERMIT 4.7.1 streamguard: no stream takes mail submitted "
                  "on port 2599"))
      << none.out;

  const auto down = explain(25, "dispatch@fleet.example", "unix://" + dir_ + "/no-redis.sock");
  EXPECT_EQ(down.exit_code, 3) << down.out << down.err;
  EXPECT_TRUE(has(down.out, "Redis         Redis at " + dir_ + "/no-redis.sock: ")) << down.out;
  EXPECT_TRUE(has(
      down.out, "answer        HOLD streamguard: cannot reach Redis at " + dir_ + "/no-redis.sock"))
      << down.out;
}

// The shipped example configuration as an operator would first run it:
// its own lists and operators, MX lookups sent to a private dnsmasq, a
// fresh Redis that no rampd has marked yet.
TEST_F(ExplainTest, TheExampleConfigNamesTheMxAndSaysWhenRampdHasNotMarkedRedis) {
  DnsServer dns({"--mx-host=yclinic.example,mx-biz.mail.am0.yahoodns.net,1",
                 "--mx-host=gclinic.example,aspmx.l.google.com,1"});
  auto run = [&](int port, const std::string& rcpt) {
    return command::run(
        {SG_CTL_BIN, "explain", "--config", SG_SOURCE_DIR "/deploy/examples/streamguard.toml",
         "--port", std::to_string(port), "--recipient", rcpt, "--redis", redis.url(), "--dns",
         dns.address()},
        30'000);
  };
  const auto yahoo = run(25, "owner@yclinic.example");
  EXPECT_EQ(yahoo.exit_code, 1) << yahoo.out << yahoo.err;
  EXPECT_TRUE(has(yahoo.out,
                  "yclinic.example (its MX mx-biz.mail.am0.yahoodns.net is yahoo's) "
                  "is in the Yahoo/AOL/Verizon mail family, which stream trucking "
                  "excludes"))
      << yahoo.out;

  const auto google = run(2526, "frontdesk@gclinic.example");
  EXPECT_EQ(google.exit_code, 1) << google.out << google.err;
  EXPECT_TRUE(has(google.out, "google")) << google.out;
  EXPECT_TRUE(has(google.out, "has no streamguard-rampd mark")) << google.out;
}

}  // namespace
}  // namespace sg::testing
