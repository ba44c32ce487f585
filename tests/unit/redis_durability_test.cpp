// durability_warnings: what INFO says about whether Redis keeps the
// counters, in the words the daemons log.
#include "store/redis_durability.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sg {
namespace {

std::string info(const std::string& aof, const std::string& policy,
                 const std::string& maxmemory = "0") {
  return "# Server\r\nredis_version:7.0.15\r\n\r\n# Memory\r\nused_memory:1000\r\nmaxmemory:" +
         maxmemory + "\r\nmaxmemory_policy:" + policy +
         "\r\n\r\n# Persistence\r\nloading:0\r\naof_enabled:" + aof + "\r\n";
}

TEST(RedisDurability, AppendonlyWithNoevictionIsDurable) {
  EXPECT_TRUE(durability_warnings(info("1", "noeviction")).empty());
  EXPECT_TRUE(durability_warnings(info("1", "noeviction", "1073741824")).empty());
}

TEST(RedisDurability, AppendonlyOffIsNamedWithWhatToSet) {
  const auto w = durability_warnings(info("0", "noeviction"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "appendonly is off: after a restart or a crash Redis comes back with its last RDB "
            "snapshot, or empty, and a stream can get a second daily cap the same day. Set "
            "appendonly yes and appendfsync everysec in redis.conf (docs/install.md, step 1)");
}

TEST(RedisDurability, AnEvictingPolicyIsNamedWithItsLimit) {
  auto w = durability_warnings(info("1", "allkeys-lru", "104857600"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "maxmemory-policy is allkeys-lru with maxmemory 104857600 bytes: under memory "
            "pressure Redis evicts keys, streamguard's counters and caps among them. Set "
            "maxmemory-policy noeviction in redis.conf (docs/install.md, step 1)");
  w = durability_warnings(info("0", "volatile-ttl"));
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[1].find("maxmemory-policy is volatile-ttl: once a maxmemory is set, Redis evicts"),
            std::string::npos)
      << w[1];
}

TEST(RedisDurability, AnInfoWithoutTheFieldsSaysItCannotTell) {
  const auto w = durability_warnings("# Server\nredis_version:7.0.15\n");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("does not say whether appendonly is on"), std::string::npos) << w[0];
}

}  // namespace
}  // namespace sg
