// policyd asks Redis with INFO whether it keeps the counters, on a real
// redis-server: started with the settings docs/install.md (step 1) tells the
// operator to write, read from the guide itself, it is durable; the test
// servers' own settings (no persistence) are named in the log, /status and
// streamguard_redis_durable.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;

// The redis.conf lines of the guide's step 1, as redis-server options.
std::vector<std::string> guide_redis_options() {
  std::ifstream in(std::string(SG_SOURCE_DIR) + "/docs/install.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto intro = doc.find("In `/etc/redis/redis.conf`:");
  const auto open = doc.find("```\n", intro);
  const auto close = doc.find("```", open + 4);
  if (intro == std::string::npos || open == std::string::npos || close == std::string::npos)
    return {};
  std::vector<std::string> out;
  std::istringstream block(doc.substr(open + 4, close - open - 4));
  for (std::string key, value; block >> key >> value;) {
    out.push_back("--" + key);
    out.push_back(value);
  }
  return out;
}

// config_with_streams turns [dns] off: policyd never asks the host's resolver here.
const std::string kDurabilityStreams = "[[stream]]\nname = \"trucking\"\nports = [2525]\n";

TEST(RedisDurabilityCheck, RedisSetUpAsTheGuideSaysIsDurable) {
  const auto options = guide_redis_options();
  ASSERT_EQ(options, (std::vector<std::string>{"--appendonly", "yes", "--appendfsync", "everysec",
                                               "--maxmemory-policy", "noeviction"}))
      << "docs/install.md step 1 changed: check this test still runs what it says";
  RedisServer redis(options);
  EXPECT_EQ(redis.cmd({"CONFIG", "GET", "appendonly"}), "appendonly,yes");
  PolicydHarness h(config_with_streams(kDurabilityStreams), redis.url());
  ASSERT_TRUE(h.wait_redis_ready());
  // INFO is answered after the connect: wait for the gauge to say 1.
  std::string metrics;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms))
    if ((metrics = h.metrics_text()).find("streamguard_redis_durable 1\n") != std::string::npos)
      break;
  EXPECT_NE(metrics.find("streamguard_redis_durable 1\n"), std::string::npos) << metrics;
  EXPECT_NE(h.status_json().find("\"redis_warnings\":[]"), std::string::npos) << h.status_json();
}

TEST(RedisDurabilityCheck, ARedisWithoutAppendonlyIsNamed) {
  RedisServer redis;  // --appendonly no
  redis.cmd({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  PolicydHarness h(config_with_streams(kDurabilityStreams), redis.url());
  ASSERT_TRUE(h.wait_redis_ready());
  std::string status;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms))
    if ((status = h.status_json()).find("appendonly is off") != std::string::npos) break;
  EXPECT_NE(status.find("\"redis_warnings\":[\"appendonly is off: after a restart"),
            std::string::npos)
      << status;
  EXPECT_NE(status.find("maxmemory-policy is allkeys-lru: once a maxmemory is set"),
            std::string::npos)
      << status;
  EXPECT_NE(h.metrics_text().find("streamguard_redis_durable 0\n"), std::string::npos)
      << h.metrics_text();
}

}  // namespace
}  // namespace sg::testing
