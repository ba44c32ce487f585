// The config parser's errors: unknown keys named with the keys that are
// known, TOML syntax errors at their line, and every problem of a file
// reported at its own line and column, not only the first.
#include <gtest/gtest.h>

#include <string>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

namespace sg {
namespace {

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

}  // namespace
}  // namespace sg
