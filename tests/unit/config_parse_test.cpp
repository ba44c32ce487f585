// The config parser on valid text: the defaults of a minimal config, every
// setting read, the stream helpers (fallback hourly cap, burst), list paths
// resolved against the config's folder, and the milter engine.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- defaults and helpers

// Each stream carries [rampd] drain, for the HOLD replies (rules/decision.cpp).
TEST(ParseConfig, EachStreamKnowsWhetherRampdReleasesHeldMail) {
  const std::string streams =
      "[[stream]]\nname = \"a\"\nports = [2525]\n"
      "[[stream]]\nname = \"b\"\nports = [2526]\n";
  auto on = parse(streams);
  ASSERT_NE(on.config, nullptr) << all_errors(on);
  for (const auto& s : on.config->streams) EXPECT_TRUE(s.held_released) << s.name;
  auto off = parse("[rampd]\ndrain = false\n" + streams);
  ASSERT_NE(off.config, nullptr) << all_errors(off);
  for (const auto& s : off.config->streams) EXPECT_FALSE(s.held_released) << s.name;
}

// A relative stamp is found beside the config, whatever the working directory.
TEST(ParseConfig, ARelativeStampIsTheConfigFoldersOwn) {
  auto r = parse(
      "[[stream]]\nname = \"a\"\nports = [2525]\n"
      "ramp = { stamp = \"stamps/a-start\", hourly = [[0, 50]] }\n");
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  EXPECT_EQ(r.config->streams.at(0).ramp->stamp, "/etc/streamguard/stamps/a-start");
}

TEST(ParseConfig, MinimalConfigTakesDefaults) {
  auto r = parse(R"(
[[stream]]
name = "only"
ports = [587, 2525]
)");
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.path, kConfigFile);
  EXPECT_EQ(c.timezone, "UTC");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.redis.target.endpoint.to_string(), "inet:127.0.0.1:6379");
  EXPECT_EQ(c.redis.on_error, Action::hold);
  EXPECT_EQ(c.redis.timeout_ms, 250u);
  ASSERT_EQ(c.policyd.listen.size(), 1u);
  EXPECT_EQ(c.policyd.listen[0].to_string(), "unix:/var/spool/postfix/private/streamguard");
  EXPECT_TRUE(c.policyd.status.empty());
  EXPECT_EQ(c.policyd.unknown_port, Action::defer);
  ASSERT_EQ(c.streams.size(), 1u);
  const auto& s = c.streams[0];
  EXPECT_EQ(s.ports, (std::vector<uint16_t>{587, 2525}));
  EXPECT_EQ(s.mode, StreamMode::enforce);
  EXPECT_EQ(s.over_cap, Action::defer);
  EXPECT_FALSE(s.ramp.has_value());
  EXPECT_EQ(s.fallback_hourly_cap(), std::nullopt);
  EXPECT_EQ(c.stream_for_port(2525), &s);
}

TEST(ParseConfig, EverySettingRead) {
  auto r = parse(R"(
timezone = "UTC"
log_level = "debug"
[redis]
url = "redis://:pw@[::1]:6380/4"
on_error = "allow"
timeout_ms = 60000
key_prefix = "sg-test"
[policyd]
listen = ["unix:/run/a.sock", "inet:[::1]:10040"]
status = "127.0.0.1:9125"
unknown_port = "reject"
max_connections = 10
idle_timeout_s = 86400
[operators.google]
domains = ["GMail.com"]
[[stream]]
name = "s1"
ports = [25]
mode = "shadow"
over_cap = "hold"
hourly_cap = 0
daily_cap = 0
burst = 7
operator_hourly = { google = 3, default = 9 }
[stream.ramp]
stamp = "/var/lib/s1-start"
count = "send_days"
hourly = [[0, 10], [1, 20]]
daily = [[0, 100], [5, 1000]]
send_day_minimum = 25
)");
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.redis.target.endpoint.to_string(), "inet:[::1]:6380");
  EXPECT_EQ(c.redis.target.password, "pw");
  EXPECT_EQ(c.redis.target.db, 4);
  EXPECT_EQ(c.redis.on_error, Action::dunno);
  EXPECT_EQ(c.redis.timeout_ms, 60000u);
  EXPECT_EQ(c.redis.key_prefix, "sg-test");
  ASSERT_EQ(c.policyd.listen.size(), 2u);
  EXPECT_EQ(c.policyd.listen[1].to_string(), "inet:[::1]:10040");
  ASSERT_EQ(c.policyd.status.size(), 1u);
  EXPECT_EQ(c.policyd.status[0].to_string(), "inet:127.0.0.1:9125");
  EXPECT_EQ(c.policyd.unknown_port, Action::reject);
  EXPECT_EQ(c.policyd.max_connections, 10u);
  EXPECT_EQ(c.policyd.idle_timeout_s, 86400u);
  ASSERT_EQ(c.operators.size(), 1u);
  EXPECT_EQ(c.operators[0].domains, (Strings{"gmail.com"}));
  const auto& s = c.streams.at(0);
  EXPECT_EQ(s.mode, StreamMode::shadow);
  EXPECT_EQ(s.over_cap, Action::hold);
  EXPECT_EQ(s.hourly_cap, std::optional<uint64_t>(0));
  EXPECT_EQ(s.daily_cap, std::optional<uint64_t>(0));
  EXPECT_EQ(s.burst, 7u);
  EXPECT_EQ(s.operator_caps.hourly, (Caps{{"default", 9}, {"google", 3}}));
  ASSERT_TRUE(s.ramp.has_value());
  EXPECT_EQ(s.ramp->stamp, "/var/lib/s1-start");
  EXPECT_EQ(ramp_pairs(s.ramp->daily), (Pairs{{0, 100}, {5, 1000}}));
  EXPECT_EQ(s.ramp->send_day_minimum, 25u);
  // An explicit hourly_cap wins over the ramp, even 0.
  EXPECT_EQ(s.fallback_hourly_cap(), std::optional<uint64_t>(0));
}

TEST(StreamConfigHelpers, FallbackHourlyCap) {
  StreamConfig s;
  EXPECT_EQ(s.fallback_hourly_cap(), std::nullopt);
  s.ramp = RampConfig{};
  EXPECT_EQ(s.fallback_hourly_cap(), std::nullopt) << "a ramp without steps";
  s.ramp->hourly = {{0, 40}, {3, 400}};
  EXPECT_EQ(s.fallback_hourly_cap(), std::optional<uint64_t>(40));
  s.hourly_cap = 70;
  EXPECT_EQ(s.fallback_hourly_cap(), std::optional<uint64_t>(70));
}

TEST(StreamConfigHelpers, EffectiveBurst) {
  StreamConfig s;
  EXPECT_EQ(s.effective_burst(0), 1u);
  EXPECT_EQ(s.effective_burst(59), 1u);
  EXPECT_EQ(s.effective_burst(120), 2u);
  EXPECT_EQ(s.effective_burst(6000), 100u);
  s.burst = 5;
  EXPECT_EQ(s.effective_burst(6000), 5u);
}

TEST(ConfigErrorText, FileLineColumnMessage) {
  ConfigError e{"/x/y.toml", 3, 7, "something is wrong"};
  EXPECT_EQ(e.to_string(), "/x/y.toml:3:7: something is wrong");
}

// ---------------------------------------------------------------- list paths

TEST(ParseConfig, ListPathsResolveAgainstTheConfigFolder) {
  auto r = parse(R"(
[lists]
relative = "lists/consumer.txt"
dotted = "./lists/../other/dead.txt"
parent = "../shared/yahoo.txt"
absolute = "/etc/streamguard/direct.txt"
[[stream]]
name = "a"
ports = [25]
exclude = ["relative", "dotted", "parent", "absolute"]
)",
                 "/some/dir/x.toml");
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  EXPECT_EQ(r.config->lists, (std::map<std::string, std::string>{
                                 {"relative", "/some/dir/lists/consumer.txt"},
                                 {"dotted", "/some/dir/other/dead.txt"},
                                 {"parent", "/some/shared/yahoo.txt"},
                                 {"absolute", "/etc/streamguard/direct.txt"},
                             }));
}

TEST(ConfigMilter, EngineIsAsioByDefaultOrLibmilter) {
  const std::string stream = "[[stream]]\nname = \"a\"\nports = [25]\n";
  auto plain = parse("[milter]\n" + stream);
  ASSERT_TRUE(plain.config) << all_errors(plain);
  EXPECT_EQ(plain.config->milter.engine, MilterEngine::asio);
  auto libmilter = parse("[milter]\nengine = \"libmilter\"\n" + stream);
  ASSERT_TRUE(libmilter.config) << all_errors(libmilter);
  EXPECT_EQ(libmilter.config->milter.engine, MilterEngine::libmilter);
  auto asio = parse("[milter]\nengine = \"asio\"\n" + stream);
  ASSERT_TRUE(asio.config) << all_errors(asio);
  EXPECT_EQ(asio.config->milter.engine, MilterEngine::asio);
  expect_one_error("[milter]\nengine = \"threads\"\n" + stream, 2, 10,
                   "'engine' is \"threads\", must be one of \"libmilter\", \"asio\"");
}

}  // namespace
}  // namespace sg
