// The warmup ramp's day count: civil day numbers, calendar days in the
// configured zone (daylight saving days are one day each), and send days,
// which count only the days that sent the minimum.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/civil_time.hpp"
#include "common/config.hpp"
#include "rules/ramp.hpp"
#include "tests/unit/case_name.hpp"
#include "tests/unit/ramp_test_support.hpp"

namespace sg {
namespace {

using ramp::SentDay;

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;

// ---------------------------------------------------------------- civil days

TEST(RampCivilDays, DayNumbers) {
  EXPECT_EQ(ramp::day_number("19700101"), 0);
  EXPECT_EQ(ramp::day_number("19691231"), -1);
  EXPECT_EQ(ramp::day_number("20260115"), 1768435200000 / kDayMs);
  EXPECT_EQ(ramp::day_number("20240229"), ramp::day_number("20240228").value() + 1);
  EXPECT_EQ(ramp::day_number("20240301"), ramp::day_number("20240229").value() + 1);
  EXPECT_EQ(ramp::day_number("20000229").has_value(), true);
  for (const char* bad : {"20230229", "19000229", "20261301", "20260001", "20260100", "20260431",
                          "00000101", "2026011", "202601151", "2026-1-5", "2026011x", ""})
    EXPECT_EQ(ramp::day_number(bad), std::nullopt) << bad;
  EXPECT_EQ(ramp::day_key(0), "19700101");
  EXPECT_EQ(ramp::iso_date(day_of("20261118")), "2026-11-18");
  EXPECT_EQ(ramp::iso_date(-719163), "day#-719163");  // before 0001-01-01
  for (int64_t d = day_of("19991225"); d < day_of("20010110"); ++d)
    EXPECT_EQ(ramp::day_number(ramp::day_key(d)), d);
}

// Every test leaves the process in UTC, whatever it set.
class RampCalendar : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(set_process_timezone("UTC")); }
  void TearDown() override { ASSERT_TRUE(set_process_timezone("UTC")); }

  static uint32_t days(int64_t stamp_s, int64_t now_ms) {
    auto c =
        ramp::calendar_days(ramp::civil_day_number(stamp_s * 1000), ramp::civil_day_number(now_ms));
    EXPECT_FALSE(c.stamp_in_future);
    EXPECT_EQ(c.mode, RampCount::calendar_days);
    return c.day;
  }
};

TEST_F(RampCalendar, CountsCivilDaysNotElapsedTime) {
  const int64_t jan15 = 1768435200;  // 2026-01-15T00:00:00Z
  EXPECT_EQ(days(jan15, jan15 * 1000), 0u);
  EXPECT_EQ(days(jan15 + 86399, jan15 * 1000 + kDayMs - 1), 0u);
  // One second before midnight to midnight: a new calendar day.
  EXPECT_EQ(days(jan15 + 86399, jan15 * 1000 + kDayMs), 1u);
  EXPECT_EQ(days(jan15, jan15 * 1000 + 10 * kDayMs + 5 * kHourMs), 10u);
  // Across a leap day and a year end.
  EXPECT_EQ(days(1735603200 /* 2024-12-31 */, 1740787200000 /* 2025-03-01 */), 60u);
  EXPECT_EQ(days(1709078400 /* 2024-02-28 */, 1709251200000 /* 2024-03-01 */), 2u);
}

TEST_F(RampCalendar, StampInTheFutureIsDayZeroAndFlagged) {
  auto c = ramp::calendar_days(day_of("20261120"), day_of("20261118"));
  EXPECT_EQ(c.day, 0u);
  EXPECT_TRUE(c.stamp_in_future);
  // Later the same day the stamp names: day 0, no longer in the future.
  c = ramp::calendar_days(day_of("20261120"), day_of("20261120"));
  EXPECT_EQ(c.day, 0u);
  EXPECT_FALSE(c.stamp_in_future);
}

TEST_F(RampCalendar, ZoneDecidesTheDay) {
  // Stamp 2026-01-15 23:30 CST (05:30Z on the 16th); now 2026-01-16 00:30 CST.
  const int64_t stamp = 1768541400, now_ms = 1768545000000;
  EXPECT_EQ(days(stamp, now_ms), 0u) << "both on the 16th in UTC";
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  EXPECT_EQ(days(stamp, now_ms), 1u) << "the 15th and the 16th in Chicago";
}

struct DstCase {
  const char* name;
  int64_t stamp_s;
  int64_t now_ms;
  uint32_t day;
};

class RampCalendarDst : public RampCalendar, public ::testing::WithParamInterface<DstCase> {};

TEST_P(RampCalendarDst, ChicagoShortAndLongDaysAreOneDayEach) {
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  EXPECT_EQ(days(GetParam().stamp_s, GetParam().now_ms), GetParam().day);
}

// Local instants in America/Chicago (IANA database).
constexpr int64_t kChi0307Noon = 1772906400;      // 2026-03-07 12:00 CST
constexpr int64_t kChi0308_2330 = 1773030600000;  // 2026-03-08 23:30 CDT (23-hour day)
constexpr int64_t kChi0309 = 1773032400000;       // 2026-03-09 00:00 CDT
constexpr int64_t kChi1031 = 1793422800;          // 2026-10-31 00:00 CDT
constexpr int64_t kChi1101_2330 = 1793597400000;  // 2026-11-01 23:30 CST (25-hour day)
constexpr int64_t kChi1102 = 1793599200000;       // 2026-11-02 00:00 CST

INSTANTIATE_TEST_SUITE_P(
    Table, RampCalendarDst,
    ::testing::Values(
        DstCase{"SpringEve", kChi0307Noon, kChi0307Noon * 1000 + 11 * kHourMs, 0},
        DstCase{"SpringDayStart", kChi0307Noon, kChi0307Noon * 1000 + 12 * kHourMs, 1},
        DstCase{"SpringDayEnd", kChi0307Noon, kChi0308_2330, 1},
        DstCase{"SpringLastMs", kChi0307Noon, kChi0309 - 1, 1},
        // 35 hours after noon on the 7th is midnight on the 9th: day 2, not 1.
        DstCase{"SpringNextMidnight", kChi0307Noon, kChi0309, 2},
        DstCase{"FallBackDayEnd", kChi1031, kChi1101_2330, 1},  // 48.5 hours: still day 1
        DstCase{"FallBackLastMs", kChi1031, kChi1102 - 1, 1},
        DstCase{"FallBackNextMidnight", kChi1031, kChi1102, 2},
        DstCase{"FallBackWeekLater", kChi1031, kChi1102 + 5 * kDayMs, 7}),
    case_name);

// ---------------------------------------------------------------- send days

struct SendCase {
  const char* name;
  std::vector<SentDay> history;
  const char* stamp;
  const char* today;
  uint64_t minimum;
  uint32_t day;
};

class RampSendDays : public ::testing::TestWithParam<SendCase> {};

TEST_P(RampSendDays, Counts) {
  const auto& c = GetParam();
  std::string error;
  auto n = ramp::send_days(c.history, day_of(c.stamp), day_of(c.today), c.minimum, error);
  ASSERT_TRUE(n.has_value()) << error;
  EXPECT_EQ(n->day, c.day);
  EXPECT_EQ(n->mode, RampCount::send_days);
  EXPECT_EQ(n->stamp_day, day_of(c.stamp));
}

INSTANTIATE_TEST_SUITE_P(
    Table, RampSendDays,
    ::testing::Values(SendCase{"Nothing", {}, "20261116", "20261120", 1, 0},
                      SendCase{"EachDayBefore",
                               {{"20261116", 80}, {"20261117", 90}, {"20261118", 70}},
                               "20261116",
                               "20261119",
                               50,
                               3},
                      SendCase{"BelowMinimumDoesNotCount",
                               {{"20261116", 80}, {"20261117", 49}, {"20261118", 50}},
                               "20261116",
                               "20261119",
                               50,
                               2},
                      // Today is not over: it counts from tomorrow, whatever it sent so far.
                      SendCase{"TodayNeverCounts",
                               {{"20261116", 80}, {"20261117", 5000}},
                               "20261116",
                               "20261117",
                               50,
                               1},
                      SendCase{"BeforeTheStampNeverCounts",
                               {{"20261110", 500}, {"20261115", 500}, {"20261116", 500}},
                               "20261116",
                               "20261118",
                               1,
                               1},
                      SendCase{"AfterTodayIgnored",
                               {{"20261116", 500}, {"20261125", 500}},
                               "20261116",
                               "20261118",
                               1,
                               1},
                      SendCase{"UnorderedInput",
                               {{"20261118", 10}, {"20261116", 10}, {"20261117", 0}},
                               "20261116",
                               "20261120",
                               1,
                               2},
                      SendCase{"MinimumZeroMeansOne",
                               {{"20261116", 0}, {"20261117", 1}},
                               "20261116",
                               "20261120",
                               0,
                               1},
                      SendCase{
                          "StampInTheFuture", {{"20261116", 500}}, "20261130", "20261120", 1, 0}),
    case_name);

TEST(RampSendDays, NeverAboveTheCalendarCount) {
  std::vector<SentDay> every_day;
  for (int64_t d = day_of("20261101"); d <= day_of("20261130"); ++d)
    every_day.push_back({ramp::day_key(d), 1000});
  const int64_t stamp = day_of("20261105");
  for (int64_t today = stamp - 2; today <= day_of("20261201"); ++today) {
    std::string error;
    auto s = ramp::send_days(every_day, stamp, today, 1, error);
    ASSERT_TRUE(s) << error;
    const auto c = ramp::calendar_days(stamp, today);
    EXPECT_LE(s->day, c.day) << ramp::iso_date(today);
    EXPECT_EQ(s->stamp_in_future, c.stamp_in_future);
    EXPECT_EQ(s->day, c.day) << "sent every day";
  }
}

TEST(RampSendDays, BadHistoryIsAnError) {
  std::string error;
  EXPECT_EQ(ramp::send_days({{"20261116", 1}, {"2026-11-17", 1}}, day_of("20261116"),
                            day_of("20261120"), 1, error),
            std::nullopt);
  EXPECT_EQ(error, "send history: day key \"2026-11-17\" is not a YYYYMMDD date");
  EXPECT_EQ(ramp::send_days({{"20261116", 1}, {"20261116", 7}}, day_of("20261116"),
                            day_of("20261120"), 1, error),
            std::nullopt);
  EXPECT_EQ(error, "send history: day 20261116 is listed twice");
}

}  // namespace
}  // namespace sg
