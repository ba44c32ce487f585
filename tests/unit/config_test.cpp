#include "common/config.hpp"
#include "tests/unit/config_text.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

constexpr const char* kExample = SG_SOURCE_DIR "/deploy/examples/streamguard.toml";
using testing::all_errors;
using testing::kConfigFile;

ConfigResult parse(std::string_view text, const std::string& path = kConfigFile) {
  return testing::parse_text(text, path);
}

// The text must yield exactly one error, at line:column, saying `message`.
void expect_one_error(std::string_view text, uint32_t line, uint32_t column,
                      const std::string& message) {
  auto r = parse(text);
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.file, kConfigFile);
  EXPECT_EQ(e.message, message);
  EXPECT_EQ(e.line, line) << e.to_string();
  EXPECT_EQ(e.column, column) << e.to_string();
}

std::vector<std::pair<uint32_t, uint32_t>> ramp_pairs(const std::vector<RampStep>& steps) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& s : steps) out.emplace_back(s.day, static_cast<uint32_t>(s.cap));
  return out;
}

using Pairs = std::vector<std::pair<uint32_t, uint32_t>>;
using Strings = std::vector<std::string>;
using Caps = std::map<std::string, uint64_t>;

// ---------------------------------------------------------------- the shipped example

TEST(ExampleConfig, LoadsWithoutErrors) {
  auto r = load_config(kExample);
  EXPECT_EQ(r.errors.size(), 0u) << all_errors(r);
  ASSERT_NE(r.config, nullptr);
  EXPECT_EQ(r.config->path, kExample);
}

TEST(ExampleConfig, GlobalSettings) {
  auto r = load_config(kExample);
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.timezone, "America/Chicago");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.redis.target.endpoint.to_string(), "inet:127.0.0.1:6379");
  EXPECT_EQ(c.redis.target.db, 0);
  EXPECT_EQ(c.redis.target.password, "");
  EXPECT_EQ(c.redis.on_error, Action::hold);
  EXPECT_EQ(c.redis.timeout_ms, 250u);
  EXPECT_EQ(c.redis.key_prefix, "sg");
  ASSERT_EQ(c.policyd.listen.size(), 1u);
  EXPECT_EQ(c.policyd.listen[0].to_string(), "unix:/var/spool/postfix/private/streamguard");
  ASSERT_EQ(c.policyd.status.size(), 2u);
  EXPECT_EQ(c.policyd.status[0].to_string(), "unix:/run/streamguard/policyd.sock");
  EXPECT_EQ(c.policyd.status[1].to_string(), "inet:127.0.0.1:9125");
  EXPECT_EQ(c.policyd.unknown_port, Action::defer);
  EXPECT_EQ(c.policyd.max_connections, 1024u);
  EXPECT_EQ(c.policyd.idle_timeout_s, 300u);

  // Relative list paths are read from the config file's folder.
  const std::string lists = SG_SOURCE_DIR "/deploy/examples/lists/";
  EXPECT_EQ(c.lists, (std::map<std::string, std::string>{
                         {"consumer", lists + "consumer-webmail.txt"},
                         {"dead_isp", lists + "dead-isp.txt"},
                         {"direct_hisp", lists + "direct-hisp.txt"},
                         {"yahoo_family", lists + "yahoo-family.txt"},
                     }));

  Strings op_names;
  for (const auto& op : c.operators) op_names.push_back(op.name);
  std::sort(op_names.begin(), op_names.end());
  EXPECT_EQ(op_names, (Strings{"apple", "google", "microsoft", "mimecast", "proofpoint", "yahoo"}));
  for (const auto& op : c.operators) {
    if (op.name == "google") {
      EXPECT_EQ(op.domains, (Strings{"gmail.com", "googlemail.com"}));
      EXPECT_EQ(op.mx_suffixes, (Strings{".google.com", ".googlemail.com"}));
    }
  }
}

TEST(ExampleConfig, TruckingStreamModelsTheBrief) {
  auto r = load_config(kExample);
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  ASSERT_EQ(c.streams.size(), 2u);
  const StreamConfig* t = c.stream_named("trucking");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(c.stream_for_port(25), t);
  EXPECT_EQ(t->ports, (std::vector<uint16_t>{25}));
  EXPECT_EQ(t->exclude, (Strings{"yahoo_family", "dead_isp", "direct_hisp"}));
  EXPECT_EQ(std::count(t->exclude.begin(), t->exclude.end(), "consumer"), 0)
      << "trucking mails consumer webmail";
  EXPECT_EQ(t->mode, StreamMode::enforce);
  EXPECT_EQ(t->over_cap, Action::hold);
  EXPECT_EQ(t->hourly_cap, std::nullopt);
  EXPECT_EQ(t->daily_cap, std::optional<uint64_t>(4000));
  EXPECT_EQ(t->burst, 0u);
  EXPECT_EQ(t->operator_caps.daily, (Caps{{"default", 120}, {"google", 0}}));
  EXPECT_EQ(t->operator_caps.hourly, Caps{});
  ASSERT_TRUE(t->ramp.has_value());
  EXPECT_EQ(t->ramp->stamp, "/etc/postfix/pw-warmup-start");
  EXPECT_EQ(t->ramp->count, RampCount::send_days);
  EXPECT_EQ(ramp_pairs(t->ramp->hourly), (Pairs{{0, 50}, {2, 150}, {4, 250}, {7, 300}}));
  EXPECT_TRUE(t->ramp->daily.empty());
  EXPECT_EQ(t->ramp->send_day_minimum, 1u);
  // No hourly_cap: policyd falls back to the first ramp step.
  EXPECT_EQ(t->fallback_hourly_cap(), std::optional<uint64_t>(50));
}

TEST(ExampleConfig, HealthcareStreamModelsTheBrief) {
  auto r = load_config(kExample);
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  const StreamConfig* h = c.stream_named("healthcare");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(c.stream_for_port(2526), h);
  EXPECT_EQ(c.stream_for_port(587), nullptr);
  EXPECT_EQ(c.stream_named("marketing"), nullptr);
  EXPECT_EQ(h->ports, (std::vector<uint16_t>{2526}));
  EXPECT_EQ(h->exclude, (Strings{"yahoo_family", "dead_isp", "direct_hisp", "consumer"}));
  EXPECT_EQ(h->mode, StreamMode::enforce);
  EXPECT_EQ(h->over_cap, Action::hold);
  EXPECT_EQ(h->hourly_cap, std::nullopt);
  EXPECT_EQ(h->daily_cap, std::optional<uint64_t>(10000));
  EXPECT_EQ(h->operator_caps.daily, Caps{});
  EXPECT_EQ(h->operator_caps.hourly, Caps{});
  ASSERT_TRUE(h->ramp.has_value());
  EXPECT_EQ(h->ramp->stamp, "/etc/postfix/hc-warmup-start");
  EXPECT_EQ(h->ramp->count, RampCount::calendar_days);
  EXPECT_EQ(ramp_pairs(h->ramp->hourly), (Pairs{{0, 100}, {2, 300}, {5, 600}, {10, 1000}}));
  EXPECT_EQ(h->fallback_hourly_cap(), std::optional<uint64_t>(100));
}

TEST(LoadConfig, MissingFile) {
  auto r = load_config("/nonexistent/streamguard.toml");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 0u);
  EXPECT_EQ(r.errors[0].to_string(),
            "/nonexistent/streamguard.toml: cannot read: No such file or directory");
}

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

// ---------------------------------------------------------------- unknown keys

TEST(ConfigErrors, UnknownTopLevelKey) {
  expect_one_error(
      R"(
timezone = "UTC"
colour = "blue"
[[stream]]
name = "a"
ports = [25]
)",
      2, 10,
      "unknown key 'colour' in the top level (known: timezone, log_level, mode, redis, "
      "policyd, dns, lists, operators, postfix, milter, rampd, stream, breaker, suppress)");
}

TEST(ConfigErrors, UnknownTopLevelTable) {
  expect_one_error(
      R"(
[[stream]]
name = "a"
ports = [25]

[extras]
x = 1
)",
      5, 1,
      "unknown key 'extras' in the top level (known: timezone, log_level, mode, redis, "
      "policyd, dns, lists, operators, postfix, milter, rampd, stream, breaker, suppress)");
}

TEST(ConfigErrors, UnknownStreamKey) {
  expect_one_error(
      R"(
[[stream]]
name = "a"
ports = [25]
  hourly_limit = 300
)",
      4, 18,
      "unknown key 'hourly_limit' in [[stream]] (known: name, ports, exclude, mode, "
      "over_cap, hourly_cap, daily_cap, burst, operator_hourly, operator_daily, ramp, postfix, "
      "milter, listmonk)");
}

TEST(ConfigErrors, UnknownKeysInOtherTables) {
  auto r = parse(R"(
[redis]
host = "127.0.0.1"
[policyd]
port = 10040
[operators.google]
domain = ["gmail.com"]
[[stream]]
name = "a"
ports = [25]
ramp = { stamp = "/x", hourly = [[0, 1]], days = 3 }
)");
  ASSERT_EQ(r.errors.size(), 4u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(), kConfigFile +
                                         ":2:8: unknown key 'host' in [redis] (known: url, "
                                         "on_error, timeout_ms, key_prefix, expect_rampd)");
  EXPECT_EQ(r.errors[1].to_string(),
            kConfigFile +
                ":4:8: unknown key 'port' in [policyd] (known: listen, status, unknown_port, "
                "max_connections, idle_timeout_s, commit, reserve_ttl_s)");
  EXPECT_EQ(r.errors[2].to_string(), kConfigFile +
                                         ":6:10: unknown key 'domain' in [operators.google] "
                                         "(known: domains, mx_suffixes, list)");
  EXPECT_EQ(r.errors[3].to_string(),
            kConfigFile +
                ":10:50: unknown key 'days' in ramp (known: stamp, count, hourly, daily, "
                "send_day_minimum, send_days_before, operators)");
}

// ---------------------------------------------------------------- wrong types

struct ErrorCase {
  const char* name;
  const char* text;
  uint32_t line;
  uint32_t column;
  const char* message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

class SingleError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(SingleError, ReportedWhereItIs) {
  const auto& c = GetParam();
  expect_one_error(c.text, c.line, c.column, c.message);
}

std::string case_name(const ::testing::TestParamInfo<ErrorCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(
    WrongTypes, SingleError,
    ::testing::Values(ErrorCase{"PortsNotArray", R"(
[[stream]]
name = "a"
ports = 25
)",
                                3, 9, "'ports' must be a non-empty array of port numbers"},
                      ErrorCase{"PortsEmpty", R"(
[[stream]]
name = "a"
ports = []
)",
                                3, 9, "'ports' must be a non-empty array of port numbers"},
                      ErrorCase{"PortString", R"(
[[stream]]
name = "a"
ports = [25, "2526"]
)",
                                3, 14, "'ports' must be an integer"},
                      ErrorCase{"DailyCapString", R"(
[[stream]]
name = "a"
ports = [25]
daily_cap = "4000"
)",
                                4, 13, "'daily_cap' must be an integer"},
                      ErrorCase{"NameNotString", R"(
[[stream]]
name = 5
ports = [25]
)",
                                2, 8, "'name' must be a string"},
                      ErrorCase{"ExcludeNotArray", R"(
[lists]
consumer = "c.txt"
[[stream]]
name = "a"
ports = [25]
exclude = "consumer"
)",
                                6, 11, "'exclude' must be an array of strings"},
                      ErrorCase{"TimeoutFloat", R"(
[redis]
timeout_ms = 2.5
[[stream]]
name = "a"
ports = [25]
)",
                                2, 14, "'timeout_ms' must be an integer"},
                      ErrorCase{"TimezoneNotString", R"(
timezone = 6
[[stream]]
name = "a"
ports = [25]
)",
                                1, 12, "'timezone' must be a string"},
                      ErrorCase{"RedisNotTable", R"(
redis = "redis://127.0.0.1"
[[stream]]
name = "a"
ports = [25]
)",
                                1, 9, "'redis' must be a table"},
                      ErrorCase{"StreamNotArrayOfTables", R"(
stream = { name = "a", ports = [25] }
)",
                                1, 10, "'stream' must be an array of tables: write [[stream]]"},
                      ErrorCase{"ModeUnknown", R"(
[[stream]]
name = "a"
ports = [25]
mode = "loud"
)",
                                4, 8,
                                "'mode' is \"loud\", must be one of \"enforce\", "
                                "\"shadow\""},
                      ErrorCase{"OverCapReject", R"(
[[stream]]
name = "a"
ports = [25]
over_cap = "reject"
)",
                                4, 12,
                                "'over_cap' is \"reject\", must be one of \"defer\", "
                                "\"hold\""},
                      ErrorCase{"OnErrorReject", R"(
[redis]
on_error = "reject"
[[stream]]
name = "a"
ports = [25]
)",
                                2, 12,
                                "'on_error' is \"reject\", must be one of \"hold\", "
                                "\"defer\", \"allow\""},
                      ErrorCase{"LogLevelUnknown", R"(
log_level = "verbose"
[[stream]]
name = "a"
ports = [25]
)",
                                1, 13,
                                "'log_level' is \"verbose\", must be one of \"trace\", "
                                "\"debug\", \"info\", \"warn\", \"error\""},
                      ErrorCase{"OperatorCapsNotTable", R"(
[[stream]]
name = "a"
ports = [25]
operator_daily = 100
)",
                                4, 18, "'operator_daily' must be a table"},
                      ErrorCase{"RampStepNotPair", R"(
[[stream]]
name = "a"
ports = [25]
ramp = { stamp = "/s", hourly = [[0, 50], [2]] }
)",
                                4, 43, "each 'hourly' step must be [day, cap]"},
                      ErrorCase{"RampHourlyEmpty", R"(
[[stream]]
name = "a"
ports = [25]
ramp = { stamp = "/s", hourly = [] }
)",
                                4, 33, "'hourly' must be a non-empty array of [day, cap] pairs"}),
    case_name);

// ---------------------------------------------------------------- out of range

INSTANTIATE_TEST_SUITE_P(
    OutOfRange, SingleError,
    ::testing::Values(ErrorCase{"PortZero", R"(
[[stream]]
name = "a"
ports = [0]
)",
                                3, 10, "'ports' is 0, must be from 1 to 65535"},
                      ErrorCase{"PortTooBig", R"(
[[stream]]
name = "a"
ports = [25, 65536]
)",
                                3, 14, "'ports' is 65536, must be from 1 to 65535"},
                      ErrorCase{"NegativeHourlyCap", R"(
[[stream]]
name = "a"
ports = [25]
hourly_cap = -1
)",
                                4, 14, "'hourly_cap' is -1, must be from 0 to 100000000"},
                      ErrorCase{"HugeDailyCap", R"(
[[stream]]
name = "a"
ports = [25]
daily_cap = 100_000_001
)",
                                4, 13, "'daily_cap' is 100000001, must be from 0 to 100000000"},
                      ErrorCase{"BurstZero", R"(
[[stream]]
name = "a"
ports = [25]
burst = 0
)",
                                4, 9, "'burst' is 0, must be from 1 to 1000000"},
                      ErrorCase{"TimeoutZero", R"(
[redis]
timeout_ms = 0
[[stream]]
name = "a"
ports = [25]
)",
                                2, 14, "'timeout_ms' is 0, must be from 1 to 60000"},
                      ErrorCase{"MaxConnections", R"(
[policyd]
max_connections = 70000
[[stream]]
name = "a"
ports = [25]
)",
                                2, 19, "'max_connections' is 70000, must be from 1 to 65535"},
                      ErrorCase{"OperatorCapNegative", R"(
[operators.google]
domains = ["gmail.com"]
[[stream]]
name = "a"
ports = [25]
operator_daily = { google = -5 }
)",
                                6, 29, "'google' is -5, must be from 0 to 100000000"},
                      ErrorCase{"RampDayTooLate", R"(
[[stream]]
name = "a"
ports = [25]
ramp = { stamp = "/s", hourly = [[0, 50], [3651, 100]] }
)",
                                4, 44, "'day' is 3651, must be from 0 to 3650"},
                      ErrorCase{"SendDayMinimumZero", R"(
[[stream]]
name = "a"
ports = [25]
ramp = { stamp = "/s", hourly = [[0, 50]], send_day_minimum = 0 }
)",
                                4, 63, "'send_day_minimum' is 0, must be from 1 to 1000000"},
                      ErrorCase{"SendDaysBeforeOnACalendarRamp", R"(
[[stream]]
name = "a"
ports = [25]
ramp = { stamp = "/s", hourly = [[0, 50]], send_days_before = 5 }
)",
                                4, 63,
                                "'send_days_before' counts send days: it goes with count = "
                                "\"send_days\" (a calendar_days ramp carries a warmup over by "
                                "its stamp)"},
                      ErrorCase{"BadStreamName", R"(
[[stream]]
name = "Trucking Co"
ports = [25]
)",
                                2, 8, "stream name 'Trucking Co' must be 1-32 of a-z 0-9 _ -"},
                      ErrorCase{"BadKeyPrefix", R"(
[redis]
key_prefix = "sg:prod"
[[stream]]
name = "a"
ports = [25]
)",
                                2, 14, "'key_prefix' must be 1-32 of a-z 0-9 _ -"},
                      ErrorCase{"OperatorNamedDefault", R"(
[operators.default]
domains = ["example.com"]
[[stream]]
name = "a"
ports = [25]
)",
                                1, 1,
                                "operator name 'default' must be 1-32 of a-z 0-9 _ - and "
                                "not 'default'"}),
    case_name);

// ---------------------------------------------------------------- cross references

INSTANTIATE_TEST_SUITE_P(
    CrossReferences, SingleError,
    ::testing::Values(ErrorCase{"DuplicatePort", R"(
[[stream]]
name = "a"
ports = [25]

[[stream]]
name = "b"
ports = [2526, 25]
)",
                                7, 16, "port 25 belongs to both stream 'a' and stream 'b'"},
                      ErrorCase{"PortTwiceInOneStream", R"(
[[stream]]
name = "a"
ports = [25, 587, 25]
)",
                                3, 19, "port 25 is listed twice in stream 'a'"},
                      ErrorCase{"DuplicateStreamName", R"(
[[stream]]
name = "a"
ports = [25]

[[stream]]
name = "a"
ports = [2526]
)",
                                6, 8, "stream name 'a' is used twice"},
                      ErrorCase{"ExcludeUndefinedList", R"(
[lists]
consumer = "lists/consumer.txt"
[[stream]]
name = "a"
ports = [25]
exclude = ["consumer", "competitors"]
)",
                                6, 11,
                                "'exclude' names list 'competitors', which [lists] does "
                                "not define"},
                      ErrorCase{"OperatorCapUndefinedOperator", R"(
[operators.google]
domains = ["gmail.com"]
[[stream]]
name = "a"
ports = [25]
operator_daily = { google = 0, yahoo = 10, default = 120 }
)",
                                6, 40,
                                "'operator_daily' names operator 'yahoo', which no "
                                "[operators.yahoo] table defines"},
                      ErrorCase{"MissingName", R"(
[[stream]]
ports = [25]
)",
                                1, 1, "[[stream]] needs a 'name'"},
                      ErrorCase{"MissingPorts", R"(
[[stream]]
name = "a"
)",
                                1, 1, "stream 'a' needs 'ports', its submission port(s)"},
                      ErrorCase{"RampWithoutStamp", R"(
[[stream]]
name = "a"
ports = [25]
ramp = { hourly = [[0, 50]] }
)",
                                4, 8,
                                "ramp needs 'stamp', the file holding the warmup start "
                                "(epoch seconds)"},
                      ErrorCase{"RampWithoutHourly", R"(
[[stream]]
name = "a"
ports = [25]
ramp = { stamp = "/s" }
)",
                                4, 8, "ramp needs 'hourly', the [day, cap] steps"}),
    case_name);

// ---------------------------------------------------------------- addresses and zones

INSTANTIATE_TEST_SUITE_P(
    Addresses, SingleError,
    ::testing::Values(ErrorCase{"RedisUrlScheme", R"(
[redis]
url = "http://127.0.0.1:6379"
[[stream]]
name = "a"
ports = [25]
)",
                                2, 7,
                                "redis url must start with redis://, unix: or sentinel://, got "
                                "'http://127.0.0.1:6379'"},
                      ErrorCase{"RedisUrlDb", R"(
[redis]
url = "redis://127.0.0.1:6379/zero"
[[stream]]
name = "a"
ports = [25]
)",
                                2, 7,
                                "bad database number 'zero' in "
                                "'redis://127.0.0.1:6379/zero'"},
                      ErrorCase{"ListenRelativeUnixPath", R"(
[policyd]
listen = "unix:private/streamguard"
[[stream]]
name = "a"
ports = [25]
)",
                                2, 10,
                                "'listen': unix socket path must be absolute: "
                                "'unix:private/streamguard'"},
                      ErrorCase{"StatusHostName", R"(
[policyd]
status = ["inet:127.0.0.1:9125", "inet:status.example.com:9125"]
[[stream]]
name = "a"
ports = [25]
)",
                                2, 10,
                                "'status': 'status.example.com' is not a literal IP "
                                "address (host names are not resolved) in "
                                "'inet:status.example.com:9125'"},
                      ErrorCase{"UnknownTimezone", R"(
timezone = "America/Atlantis"
[[stream]]
name = "a"
ports = [25]
)",
                                1, 12,
                                "unknown time zone 'America/Atlantis' (an IANA name such "
                                "as America/Chicago)"},
                      ErrorCase{"TimezoneEscapesZoneinfo", R"(
timezone = "../../etc/passwd"
[[stream]]
name = "a"
ports = [25]
)",
                                1, 12,
                                "unknown time zone '../../etc/passwd' (an IANA name such "
                                "as America/Chicago)"}),
    case_name);

// ---------------------------------------------------------------- ramps

INSTANTIATE_TEST_SUITE_P(
    Ramps, SingleError,
    ::testing::Values(ErrorCase{"FirstStepNotDayZero", R"(
[[stream]]
name = "a"
ports = [25]
[stream.ramp]
stamp = "/var/lib/a-start"
hourly = [
  [1, 50],
  [2, 150],
]
)",
                                7, 3, "the first 'hourly' step must be day 0"},
                      ErrorCase{"DaysRepeat", R"(
[[stream]]
name = "a"
ports = [25]
[stream.ramp]
stamp = "/var/lib/a-start"
hourly = [
  [0, 50],
  [3, 150],
  [3, 250],
]
)",
                                9, 3, "'hourly' days must be in ascending order"},
                      ErrorCase{"DaysGoBack", R"(
[[stream]]
name = "a"
ports = [25]
[stream.ramp]
stamp = "/var/lib/a-start"
hourly = [[0, 50], [4, 150]]
daily = [[0, 500], [7, 900], [5, 1000]]
)",
                                7, 30, "'daily' days must be in ascending order"}),
    case_name);

// ---------------------------------------------------------------- syntax and structure

TEST(ConfigErrors, NoStreamDefined) {
  expect_one_error(R"(
timezone = "UTC"
[redis]
url = "redis://127.0.0.1:6379/0"
)",
                   1, 1, "no [[stream]] is defined: nothing to enforce");
}

TEST(ConfigErrors, EmptyFileHasNoStream) {
  auto r = parse("");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].message, "no [[stream]] is defined: nothing to enforce");
}

TEST(ConfigErrors, TomlSyntaxErrorReportsItsLine) {
  auto r = parse(R"(
timezone = "UTC"
[[stream]]
name = "a
ports = [25]
)");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].file, kConfigFile);
  EXPECT_EQ(r.errors[0].line, 3u) << r.errors[0].to_string();
  EXPECT_EQ(r.errors[0].column, 10u) << r.errors[0].to_string();
  EXPECT_NE(r.errors[0].message.find("string"), std::string::npos) << r.errors[0].message;
}

TEST(ConfigErrors, TomlSyntaxErrorInAMultiLineArray) {
  auto r = parse(R"(
[policyd]
status = [
  "inet:127.0.0.1:9125",
  ,
]
)");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 4u) << r.errors[0].to_string();
}

TEST(ConfigErrors, TomlDuplicateKeyIsASyntaxError) {
  auto r = parse(R"(
[[stream]]
name = "a"
ports = [25]
name = "b"
)");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 4u) << r.errors[0].to_string();
  EXPECT_NE(r.errors[0].message.find("'name'"), std::string::npos) << r.errors[0].message;
}

TEST(ConfigErrors, EveryProblemIsReported) {
  auto r = parse(R"(
timezone = "Mars/Olympus"
[lists]
consumer = "lists/consumer.txt"
[[stream]]
name = "a"
ports = [25]
exclude = ["consumer", "dead_isp"]
[[stream]]
name = "b"
ports = [2526]
daily_cap = "lots"
)");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 3u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(),
            kConfigFile +
                ":1:12: unknown time zone 'Mars/Olympus' (an IANA name such as "
                "America/Chicago)");
  EXPECT_EQ(r.errors[1].to_string(),
            kConfigFile + ":7:11: 'exclude' names list 'dead_isp', which [lists] does not define");
  EXPECT_EQ(r.errors[2].to_string(), kConfigFile + ":11:13: 'daily_cap' must be an integer");
}

TEST(ConfigErrors, DomainClaimedByTwoOperators) {
  auto r = parse(R"(
[operators.google]
domains = ["gmail.com", "googlemail.com", "gmail.com"]
[operators.other]
domains = ["example.org", "GMail.com"]
[[stream]]
name = "a"
ports = [25]
)");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(),
            kConfigFile +
                ":4:11: domain 'gmail.com' belongs to both operator 'google' and operator "
                "'other'");
}

TEST(ConfigErrors, BadListAndOperatorEntries) {
  auto r = parse(R"(
[lists]
Consumer = "c.txt"
dead_isp = 4
[operators]
google = ["gmail.com"]
[[stream]]
name = "a"
ports = [25]
)");
  ASSERT_EQ(r.errors.size(), 3u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(),
            kConfigFile + ":2:12: list name 'Consumer' must be 1-32 of a-z 0-9 _ -");
  EXPECT_EQ(r.errors[1].to_string(), kConfigFile + ":3:12: 'dead_isp' must be a string");
  EXPECT_EQ(r.errors[2].to_string(), kConfigFile + ":5:10: 'operators.google' must be a table");
}

TEST(ConfigErrors, TimezoneMustNameAZoneFile) {
  for (const char* tz : {"America", "", "/etc/localtime", "Mars/Olympus"}) {
    SCOPED_TRACE(tz);
    auto r =
        parse("timezone = \"" + std::string(tz) + "\"\n[[stream]]\nname = \"a\"\nports = [25]\n");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_EQ(r.errors[0].message,
              "unknown time zone '" + std::string(tz) + "' (an IANA name such as America/Chicago)");
  }
  for (const char* tz : {"UTC", "Etc/UTC", "America/Chicago", "Europe/Berlin"}) {
    auto r =
        parse("timezone = \"" + std::string(tz) + "\"\n[[stream]]\nname = \"a\"\nports = [25]\n");
    ASSERT_NE(r.config, nullptr) << tz << ": " << all_errors(r);
    EXPECT_EQ(r.config->timezone, tz);
  }
}

TEST(ConfigErrors, EachPortConflictAtItsOwnStream) {
  auto r = parse(R"(
[[stream]]
name = "a"
ports = [25, 2526]

[[stream]]
name = "b"
ports = [2526]

[[stream]]
name = "c"
ports = [587, 25]
)");
  ASSERT_EQ(r.errors.size(), 2u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(),
            kConfigFile + ":7:10: port 2526 belongs to both stream 'a' and stream 'b'");
  EXPECT_EQ(r.errors[1].to_string(),
            kConfigFile + ":11:15: port 25 belongs to both stream 'a' and stream 'c'");
}

TEST(ConfigErrors, SeveralErrorsInOneStream) {
  auto r = parse(R"(
[[stream]]
name = "a"
ports = [0, 25, 99999]
mode = "loud"
ramp = { stamp = "/s", hourly = [[2, 50]] }
)");
  ASSERT_EQ(r.errors.size(), 4u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(), kConfigFile + ":3:10: 'ports' is 0, must be from 1 to 65535");
  EXPECT_EQ(r.errors[1].to_string(),
            kConfigFile + ":3:17: 'ports' is 99999, must be from 1 to 65535");
  EXPECT_EQ(r.errors[2].to_string(),
            kConfigFile + ":4:8: 'mode' is \"loud\", must be one of \"enforce\", \"shadow\"");
  EXPECT_EQ(r.errors[3].to_string(), kConfigFile + ":5:34: the first 'hourly' step must be day 0");
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
