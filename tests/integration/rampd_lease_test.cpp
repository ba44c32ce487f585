// Two streamguard-rampd on one Redis (started twice by mistake): the first
// takes the lease and does the rounds, the second does nothing (it learns
// no suppression from the same log, publishes nothing) and says why on
// /status and /metrics, until the first's lease is gone (expired or
// released at stop, or its process gone from this host); then it takes
// over.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"
#include "tests/integration/user_unknown_corpus.hpp"

namespace sg::testing {
namespace {

std::string lease_config(const std::string& maillog) {
  return config_with_streams(R"(
[rampd]
maillog = ")" + maillog + R"("
maillog_from = "start"

[[stream]]
name = "trucking"
ports = [25]
daily_cap = 1000
postfix = { transport = "out05" }
)" + std::string(kUserUnknownRule));
}

TEST(RampdLease, TheSecondRampdWaitsUntilTheFirstsLeaseIsGone) {
  RedisServer redis;
  const std::string maillog = copy_user_unknown_log("lease");
  RampdHarness first(lease_config(maillog), redis.url());
  RampdHarness second(lease_config(maillog), redis.url());

  first.log_round(kAfterUserUnknownLog);
  EXPECT_EQ(redis.cmd({"GET", "sg:rampd:lease"}), first.app().lease().id());
  EXPECT_EQ(redis.cmd({"HLEN", "sg:suppress"}), "3");  // out05's lines
  redis.cmd({"DEL", "sg:suppress"});

  second.log_round(kAfterUserUnknownLog);
  second.drain_round(kAfterUserUnknownLog);
  EXPECT_FALSE(second.app().lease().held());
  EXPECT_EQ(redis.cmd({"HLEN", "sg:suppress"}), "0") << "the second learned nothing";
  EXPECT_NE(second.app().status_json().find("\"other\": \"" + first.app().lease().id() + "\""),
            std::string::npos)
      << second.app().status_json();
  EXPECT_NE(second.app().metrics_text().find("streamguard_rampd_lease_held 0"), std::string::npos);
  EXPECT_NE(first.app().metrics_text().find("streamguard_rampd_lease_held 1"), std::string::npos);

  // The first stops: its lease goes, and the second works at its next round.
  bool released = false;
  first.app().release_lease([&released] { released = true; });
  first.run_until([&released] { return released; });
  EXPECT_EQ(redis.cmd({"EXISTS", "sg:rampd:lease"}), "0");
  first.log_round(kAfterUserUnknownLog + 1000);
  EXPECT_EQ(redis.cmd({"EXISTS", "sg:rampd:lease"}), "0") << "a released lease is not taken again";
  second.log_round(kAfterUserUnknownLog + 1000);
  EXPECT_TRUE(second.app().lease().held());
  EXPECT_EQ(redis.cmd({"HLEN", "sg:suppress"}), "3") << "the second reads the log from its start";
  std::filesystem::remove(maillog);
}

TEST(RampdLease, ALeaseThatExpiredIsTakenOver) {
  RedisServer redis;
  const std::string maillog =
      std::filesystem::temp_directory_path() / ("sg-lease-empty-" + std::to_string(::getpid()));
  std::ofstream{maillog};
  RampdHarness first(lease_config(maillog), redis.url());
  RampdHarness second(lease_config(maillog), redis.url());
  first.ramp_round(kAfterUserUnknownLog);
  second.ramp_round(kAfterUserUnknownLog);
  EXPECT_TRUE(first.app().lease().held());
  EXPECT_FALSE(second.app().lease().held());
  redis.cmd({"DEL", "sg:rampd:lease"});  // the first hung past its ttl
  second.ramp_round(kAfterUserUnknownLog + 1000);
  EXPECT_TRUE(second.app().lease().held());
  // The first, back, renews only after renew_every: then it finds the other.
  first.ramp_round(kAfterUserUnknownLog + 1000 + 5000);
  EXPECT_FALSE(first.app().lease().held());
  std::filesystem::remove(maillog);
}

// A rampd on this host that was killed (SIGKILL, a crash) leaves its lease
// behind: a rampd started after it takes over at once, not after the ttl.
// One on another host, or still running here, is waited for.
TEST(RampdLease, TheLeaseOfAProcessGoneFromThisHostIsTakenAtOnce) {
  RedisServer redis;
  const std::string maillog =
      std::filesystem::temp_directory_path() / ("sg-lease-gone-" + std::to_string(::getpid()));
  std::ofstream{maillog};
  RampdHarness rampd(lease_config(maillog), redis.url());
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);

  redis.cmd({"SET", "sg:rampd:lease", "elsewhere.example:1:abcd", "PX", "30000"});
  rampd.ramp_round(kAfterUserUnknownLog);
  EXPECT_FALSE(rampd.app().lease().held()) << "another host's rampd is waited for";
  redis.cmd({"SET", "sg:rampd:lease", std::string(host) + ":" + std::to_string(::getppid()) + ":x",
             "PX", "30000"});
  rampd.ramp_round(kAfterUserUnknownLog + 6000);
  EXPECT_FALSE(rampd.app().lease().held()) << "a process of this host that runs";
  redis.cmd({"SET", "sg:rampd:lease", std::string(host) + ":" + std::to_string(gone) + ":x", "PX",
             "30000"});
  rampd.ramp_round(kAfterUserUnknownLog + 12000);
  EXPECT_TRUE(rampd.app().lease().held());
  EXPECT_EQ(redis.cmd({"GET", "sg:rampd:lease"}), rampd.app().lease().id());
  std::filesystem::remove(maillog);
}

}  // namespace
}  // namespace sg::testing
