// Configs with one wrong value, each yielding exactly one error at the
// value's line and column: wrong types and numbers out of range. The
// SingleError test itself is here; config_reference_errors_test.cpp adds
// its cases for values that do not fit together.
#include <gtest/gtest.h>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

namespace sg {
namespace {

TEST_P(SingleError, ReportedWhereItIs) {
  const auto& c = GetParam();
  expect_one_error(c.text, c.line, c.column, c.message);
}

// ---------------------------------------------------------------- wrong types

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

}  // namespace
}  // namespace sg
