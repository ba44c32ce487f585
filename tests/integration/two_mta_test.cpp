// Two MTAs, one set of caps (issue 13, item 3, at policyd's level): two
// policyd services, each with its own connections and its own Redis
// connection, share one Redis; clients of both ask at once, past every cap.
// The caps are one budget: no more is accepted in total than each allows.
// (The same with two Postfix instances in the e2e harness is not built yet.)
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/civil_time.hpp"
#include "rules/limiter_keys.hpp"
#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

const char* const kSharedCaps = R"(
[[stream]]
name = "trucking"
ports = [25]
hourly_cap = 1000000
daily_cap = 100
operator_daily = { google = 30 }
over_cap = "defer"
postfix = { transport = "out05" }
)";

TEST(TwoMtaTest, TwoPolicydOnOneRedisNeverAcceptMoreThanTheCapsTogether) {
  RedisServer redis;
  PolicydHarness mta1(config_with_streams(kSharedCaps), redis.url());
  PolicydHarness mta2(config_with_streams(kSharedCaps), redis.url());
  ASSERT_TRUE(mta1.wait_redis_ready());
  ASSERT_TRUE(mta2.wait_redis_ready());
  mta2.clock.set(mta1.clock.now_ms());  // one moment for both

  // Four clients on each MTA, 60 recipients each (half at gmail.com): 480
  // requests for a daily cap of 100, 240 for google's 30.
  std::atomic<int> accepted{0}, accepted_google{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      PolicyClient client((c % 2 ? mta2 : mta1).socket());
      for (int i = 0; i < 60; ++i) {
        const bool google = i % 2 == 0;
        const std::string rcpt = "r" + std::to_string(c) + "-" + std::to_string(i) + "@" +
                                 (google ? "gmail.com" : "fleet-" + std::to_string(i) + ".example");
        const std::string reply = client.rcpt(rcpt, 25);
        if (reply == "DUNNO") {
          ++accepted;
          if (google) ++accepted_google;
        } else if (!reply.starts_with("DEFER_IF_PERMIT 4.7.1 streamguard:")) {
          ++other;
        }
      }
    });
  for (auto& t : clients) t.join();

  EXPECT_EQ(other.load(), 0) << "every answer is an accept or the over-cap deferral";
  EXPECT_EQ(accepted.load(), 100);  // more was asked than the cap: all of it is used, no more
  EXPECT_LE(accepted_google.load(), 30);
  const std::string day = civil_day(mta1.clock.now_ms()).key;
  EXPECT_EQ(redis.cmd({"GET", keys::daily_count("sg", "trucking", day)}), "100");
  EXPECT_EQ(redis.cmd({"GET", keys::daily_count("sg", "trucking", day, "google")}),
            std::to_string(accepted_google.load()));
}

}  // namespace
}  // namespace sg::testing
