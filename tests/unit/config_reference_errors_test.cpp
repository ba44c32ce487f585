// Configs whose values do not fit together, each yielding exactly one error
// where it is: cross references (ports, lists, operators), addresses and
// time zones, and ramp steps.
#include <gtest/gtest.h>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

namespace sg {
namespace {

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

}  // namespace
}  // namespace sg
