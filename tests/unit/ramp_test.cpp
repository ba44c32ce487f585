#include "rules/ramp.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/civil_time.hpp"
#include "common/config.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {
namespace {

using ramp::Advanced;
using ramp::Count;
using ramp::RampState;
using ramp::SentDay;

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;

int64_t day_of(const char* key) {
  auto d = ramp::day_number(key);
  EXPECT_TRUE(d.has_value()) << key;
  return d.value_or(0);
}

RampConfig make_ramp(std::vector<RampStep> hourly, RampCount count = RampCount::calendar_days) {
  RampConfig r;
  r.stamp = "/etc/postfix/pw-warmup-start";
  r.count = count;
  r.hourly = std::move(hourly);
  return r;
}

// The brief's two ramps.
const RampConfig kTrucking = make_ramp({{0, 50}, {2, 150}, {4, 250}, {7, 300}});
const RampConfig kHealthcare = make_ramp({{0, 100}, {2, 300}, {5, 600}, {10, 1000}});

// Names a table-driven case after its `name` field.
struct CaseName {
  template <class Case>
  std::string operator()(const ::testing::TestParamInfo<Case>& case_info) const {
    return case_info.param.name;
  }
};
const CaseName case_name;

// ---------------------------------------------------------------- the stamp

struct StampCase {
  const char* name;
  const char* text;
  std::optional<int64_t> value;
  const char* error;  // a part of the message when value is nullopt
};

class RampStamp : public ::testing::TestWithParam<StampCase> {};

TEST_P(RampStamp, Parses) {
  const auto& c = GetParam();
  std::string error;
  auto v = ramp::parse_stamp(c.text, error);
  EXPECT_EQ(v, c.value) << error;
  if (!c.value) {
    EXPECT_NE(error.find(c.error), std::string::npos) << error;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RampStamp,
    ::testing::Values(
        StampCase{"Plain", "1763424000", 1763424000, ""},
        StampCase{"DateNewline", "1763424000\n", 1763424000, ""},
        StampCase{"Surrounded", " \t1763424000 \r\n", 1763424000, ""},
        StampCase{"Zero", "0", 0, ""}, StampCase{"LeadingZeros", "0001763424000", 1763424000, ""},
        StampCase{"Empty", "", std::nullopt, "empty"},
        StampCase{"OnlyNewline", "\n\n", std::nullopt, "empty"},
        StampCase{"Word", "yesterday", std::nullopt, "not a number: \"yesterday\""},
        StampCase{"Plus", "+1763424000", std::nullopt, "not a number"},
        StampCase{"Negative", "-86400", std::nullopt, "negative: \"-86400\""},
        StampCase{"Garbage", "1763424000x", std::nullopt,
                  "trailing garbage after the number: \"x\""},
        StampCase{"TwoNumbers", "1763424000\n1763510400\n", std::nullopt, "trailing garbage"},
        StampCase{"Fraction", "1763424000.25", std::nullopt, "trailing garbage"},
        StampCase{"Milliseconds", "1763424000000", std::nullopt, "milliseconds instead of seconds"},
        StampCase{"Huge", "99999999999999999999999999", std::nullopt, "out of range"}),
    case_name);

TEST(RampStamp, NulByteInTheMiddle) {
  std::string error;
  EXPECT_EQ(ramp::parse_stamp(std::string_view("17634\0"
                                               "24000",
                                               11),
                              error),
            std::nullopt);
  EXPECT_EQ(error, "trailing garbage after the number: \"\\x0024000\" (want only epoch seconds)");
}

class RampStampFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sg-ramp-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(RampStampFile, ReadsWhatDateWrites) {
  std::string error;
  EXPECT_EQ(ramp::read_stamp(write("start", "1763424000\n"), error), 1763424000);
  EXPECT_EQ(error, "");
}

TEST_F(RampStampFile, MissingIsAnErrorNamingThePath) {
  const auto path = (dir_ / "nope").string();
  std::string error;
  EXPECT_EQ(ramp::read_stamp(path, error), std::nullopt);
  EXPECT_EQ(error, path + ": missing (No such file or directory)");
}

TEST_F(RampStampFile, EmptyPathIsAnError) {
  std::string error;
  EXPECT_EQ(ramp::read_stamp("", error), std::nullopt);
  EXPECT_EQ(error, "ramp stamp: no file named");
}

TEST_F(RampStampFile, BadContentNamesThePathAndWhy) {
  std::string error;
  const auto empty = write("empty", "");
  EXPECT_EQ(ramp::read_stamp(empty, error), std::nullopt);
  EXPECT_EQ(error, empty + ": empty: no warmup start (epoch seconds) in it");
  const auto word = write("word", "Mon Nov 18 2026\n");
  EXPECT_EQ(ramp::read_stamp(word, error), std::nullopt);
  EXPECT_EQ(error, word +
                       ": not a number: \"Mon Nov 18 2026\" (want epoch seconds, e.g. from "
                       "date +%s)");
  const auto big = write("big", std::string(300, '1'));
  EXPECT_EQ(ramp::read_stamp(big, error), std::nullopt);
  EXPECT_EQ(error, big + ": over 256 bytes, not a stamp (want epoch seconds)");
}

TEST_F(RampStampFile, DirectoryIsUnreadable) {
  std::string error;
  EXPECT_EQ(ramp::read_stamp(dir_.string(), error), std::nullopt);
  EXPECT_EQ(error, dir_.string() + ": cannot read (Is a directory)");
}

// Root reads any file: as root (CI), the read runs in a child that has
// dropped to the unprivileged user nobody (65534), as rampd without root would.
TEST_F(RampStampFile, NoPermissionIsUnreadable) {
  const auto path = write("locked", "1763424000\n");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // the folder itself may be entered
  std::string error;
  bool readable = false;
  if (::geteuid() != 0) {
    readable = ramp::read_stamp(path, error).has_value();
  } else {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
      std::string e;
      const bool ok = ramp::read_stamp(path, e).has_value();
      const auto n = ::write(fds[1], e.data(), e.size());
      ::_exit(n < 0 ? 3 : ok ? 1 : 0);
    }
    ::close(fds[1]);
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) error.append(buf, size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 2) << "cannot drop to nobody";
    readable = WEXITSTATUS(status) == 1;
  }
  EXPECT_FALSE(readable);
  EXPECT_EQ(error, path + ": cannot open (Permission denied)");
}

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

// ---------------------------------------------------------------- schedules

struct ScheduleCase {
  uint32_t day;
  uint64_t trucking;
  uint64_t healthcare;
};

TEST(RampSchedule, TheBriefsTwoRamps) {
  const std::vector<ScheduleCase> table = {
      {0, 50, 100},    {1, 50, 100},     {2, 150, 300},           {3, 150, 300}, {4, 250, 300},
      {5, 250, 600},   {6, 250, 600},    {7, 300, 600},           {9, 300, 600}, {10, 300, 1000},
      {11, 300, 1000}, {365, 300, 1000}, {4000000000u, 300, 1000}};
  for (const auto& c : table) {
    SCOPED_TRACE(c.day);
    EXPECT_EQ(ramp::caps_on(kTrucking, c.day).hourly, c.trucking);
    EXPECT_EQ(ramp::caps_on(kHealthcare, c.day).hourly, c.healthcare);
    EXPECT_EQ(ramp::caps_on(kTrucking, c.day).daily, std::nullopt);
    EXPECT_TRUE(ramp::caps_on(kTrucking, c.day).operator_daily.empty());
  }
  EXPECT_EQ(ramp::step_days(kTrucking), (std::vector<uint32_t>{0, 2, 4, 7}));
  EXPECT_EQ(ramp::step_days(kHealthcare), (std::vector<uint32_t>{0, 2, 5, 10}));
}

RampConfig with_daily_and_google() {
  RampConfig r = kTrucking;
  r.daily = {{0, 400}, {3, 1500}, {7, 4000}};
  r.operators["google"] = {{0, 0}, {30, 20}};
  r.operators["microsoft"] = {{0, 0}, {7, 120}};
  return r;
}

TEST(RampSchedule, DailyAndOperatorCaps) {
  const RampConfig r = with_daily_and_google();
  EXPECT_EQ(ramp::step_days(r), (std::vector<uint32_t>{0, 2, 3, 4, 7, 30}));
  auto caps = ramp::caps_on(r, 3);
  EXPECT_EQ(caps.hourly, 150u);
  EXPECT_EQ(caps.daily, 1500u);
  EXPECT_EQ(caps.operator_daily,
            (std::map<std::string, uint64_t>{{"google", 0}, {"microsoft", 0}}));
  caps = ramp::caps_on(r, 29);
  EXPECT_EQ(caps.operator_daily,
            (std::map<std::string, uint64_t>{{"google", 0}, {"microsoft", 120}}));
  caps = ramp::caps_on(r, 30);
  EXPECT_EQ(caps.daily, 4000u);
  EXPECT_EQ(caps.operator_daily,
            (std::map<std::string, uint64_t>{{"google", 20}, {"microsoft", 120}}));
  EXPECT_EQ(ramp::caps_on(RampConfig{}, 5).hourly, std::nullopt);
}

// ---------------------------------------------------------------- progression

Count counted(uint32_t day, const char* stamp, RampCount mode = RampCount::calendar_days) {
  Count c;
  c.day = day;
  c.stamp_day = day_of(stamp);
  c.mode = mode;
  return c;
}

TEST(RampAdvance, ReasonForAPerson) {
  RampState prev{3, 1, day_of("20261121"), day_of("20261120")};
  auto a = ramp::advance(kTrucking, prev, counted(4, "20261118", RampCount::send_days),
                         day_of("20261122"));
  EXPECT_EQ(a.reason, "day 4 since 2026-11-18 (send days): step [4, 250/h]");
  EXPECT_EQ(a.state.day, 4u);
  EXPECT_EQ(a.state.step_index, 2u);
  EXPECT_EQ(a.state.updated_civil_day, day_of("20261122"));
  EXPECT_EQ(a.state.stepped_civil_day, day_of("20261122"));
  EXPECT_EQ(a.caps.hourly, 250u);
  EXPECT_FALSE(a.held || a.first_start || a.count_went_back || a.clock_went_back ||
               a.stamp_in_future);

  a = ramp::advance(with_daily_and_google(), std::nullopt, counted(3, "20261118"),
                    day_of("20261121"));
  EXPECT_EQ(a.reason,
            "day 3 since 2026-11-18 (calendar days): step [3, 150/h, 1500/day, google 0/day, "
            "microsoft 0/day]; first start: day taken from the stamp");
}

// Calendar days, rampd running once a day from the first day: the ramp
// follows the schedule exactly.
TEST(RampAdvance, CalendarDaysFollowTheSchedule) {
  const uint64_t trucking[] = {50, 50, 150, 150, 250, 250, 250, 300, 300, 300, 300, 300};
  const uint64_t healthcare[] = {100, 100, 300, 300, 300, 600, 600, 600, 600, 600, 1000, 1000};
  const int64_t start = day_of("20261102");
  std::optional<RampState> t, h;
  for (uint32_t d = 0; d < 12; ++d) {
    SCOPED_TRACE(d);
    auto count = ramp::calendar_days(start, start + d);
    auto at = ramp::advance(kTrucking, t, count, start + d);
    auto ah = ramp::advance(kHealthcare, h, count, start + d);
    EXPECT_FALSE(at.held || ah.held);
    EXPECT_EQ(at.state.day, d);
    EXPECT_EQ(at.caps.hourly, trucking[d]);
    EXPECT_EQ(ah.caps.hourly, healthcare[d]);
    t = at.state;
    h = ah.state;
  }
}

// Send days, with a week whose weekend sends nothing: the ramp stands still
// over the weekend; calendar days would have run two days ahead.
TEST(RampAdvance, SendDaysWeekendDoesNotAdvance) {
  struct Day {
    const char* key;
    uint64_t sent;      // the day's total (known to rampd from the next day on)
    uint32_t send_day;  // the count rampd finds that morning
    uint64_t cap;       // trucking's hourly cap in force that day
    uint32_t calendar;  // what calendar days would say
  };
  const std::vector<Day> week = {
      {"20261116", 300, 0, 50, 0},    // Monday: warmup starts
      {"20261117", 900, 1, 50, 1},    //
      {"20261118", 1400, 2, 150, 2},  //
      {"20261119", 2000, 3, 150, 3},  //
      {"20261120", 2500, 4, 250, 4},  // Friday
      {"20261121", 0, 5, 250, 5},     // Saturday: nothing sent
      {"20261122", 0, 5, 250, 6},     // Sunday: nothing sent
      {"20261123", 2600, 5, 250, 7},  // Monday: calendar days would be at 300/h
      {"20261124", 2700, 6, 250, 8},  //
      {"20261125", 3000, 7, 300, 9},  //
  };
  RampConfig r = kTrucking;
  r.count = RampCount::send_days;
  r.send_day_minimum = 100;
  const int64_t stamp = day_of("20261116");
  std::vector<SentDay> history;
  std::optional<RampState> state;
  for (const auto& d : week) {
    SCOPED_TRACE(d.key);
    const int64_t today = day_of(d.key);
    // What policyd's counter holds so far today: not yet the day's total.
    history.push_back({d.key, d.sent / 3});
    std::string error;
    auto count = ramp::send_days(history, stamp, today, r.send_day_minimum, error);
    ASSERT_TRUE(count) << error;
    EXPECT_EQ(count->day, d.send_day);
    EXPECT_EQ(ramp::calendar_days(stamp, today).day, d.calendar);
    auto a = ramp::advance(r, state, *count, today);
    EXPECT_EQ(a.state.day, d.send_day);
    EXPECT_EQ(a.caps.hourly, d.cap);
    EXPECT_FALSE(a.held);
    state = a.state;
    history.back().sent = d.sent;  // the day is over
  }
  EXPECT_EQ(
      ramp::advance(r, state, counted(7, "20261116", RampCount::send_days), day_of("20261125"))
          .reason,
      "day 7 since 2026-11-16 (send days): step [7, 300/h]");
}

// rampd down five days (or a stamp re-aligned by hand five days back): the
// count jumps, the ramp climbs one step a day.
TEST(RampAdvance, OutageClimbsOneStepADay) {
  struct Morning {
    uint32_t count;
    uint32_t day;  // in force
    uint64_t cap;
    bool held;
  };
  // Trucking, last run on day 2 (150/h); next run five days later.
  const int64_t last = day_of("20261118");
  RampState state{2, 1, last, last};
  const std::vector<Morning> trucking = {{7, 6, 250, true}, {8, 8, 300, false}, {9, 9, 300, false}};
  for (std::size_t i = 0; i < trucking.size(); ++i) {
    SCOPED_TRACE(i);
    auto a = ramp::advance(kTrucking, state, counted(trucking[i].count, "20261116"),
                           last + 5 + static_cast<int64_t>(i));
    EXPECT_EQ(a.state.day, trucking[i].day);
    EXPECT_EQ(a.caps.hourly, trucking[i].cap);
    EXPECT_EQ(a.held, trucking[i].held);
    state = a.state;
  }

  // Healthcare, last run on day 1 (100/h); the count is 6 when it comes back.
  state = RampState{1, 0, last, last - 1};
  const std::vector<Morning> healthcare = {
      {6, 4, 300, true}, {12, 9, 600, true}, {13, 13, 1000, false}};
  for (std::size_t i = 0; i < healthcare.size(); ++i) {
    SCOPED_TRACE(i);
    const int64_t today = last + 5 + static_cast<int64_t>(i);
    auto a = ramp::advance(kHealthcare, state, counted(healthcare[i].count, "20261116"), today);
    EXPECT_EQ(a.state.day, healthcare[i].day);
    EXPECT_EQ(a.caps.hourly, healthcare[i].cap);
    EXPECT_EQ(a.held, healthcare[i].held);
    EXPECT_EQ(a.state.updated_civil_day, today);
    state = a.state;
  }
  auto a =
      ramp::advance(kHealthcare, RampState{1, 0, last, last - 1}, counted(6, "20261116"), last + 5);
  EXPECT_EQ(a.reason,
            "day 6 since 2026-11-16 (calendar days): step [2, 300/h], held at day 4 (at most one "
            "step a day)");
}

TEST(RampAdvance, StepBoundariesOfEverySchedule) {
  // Boundaries 0 2 3 4 7 30: from day 2, a jump to 40 takes four mornings.
  const RampConfig r = with_daily_and_google();
  const int64_t today = day_of("20261201");
  RampState state{2, 1, today - 1, today - 1};
  const uint32_t expected[] = {3, 6, 29, 40};
  for (uint32_t i = 0; i < 4; ++i) {
    auto a = ramp::advance(r, state, counted(40, "20261020"), today + i);
    EXPECT_EQ(a.state.day, expected[i]) << i;
    EXPECT_EQ(a.state.step_index, i + 2) << i;
    state = a.state;
  }
  EXPECT_EQ(ramp::caps_on(r, state.day).operator_daily.at("google"), 20u);
}

TEST(RampAdvance, AtMostOneStepPerCivilDayHoweverOftenRun) {
  const int64_t today = day_of("20261201");
  RampState state{0, 0, today - 1, today - 1};
  for (int run = 0; run < 5; ++run) {
    auto a = ramp::advance(kTrucking, state, counted(9, "20261120"), today);
    EXPECT_EQ(a.state.day, 3u) << run;
    EXPECT_EQ(a.caps.hourly, 150u) << run;
    EXPECT_TRUE(a.held);
    state = a.state;
  }
  EXPECT_EQ(state.stepped_civil_day, today);
  EXPECT_EQ(ramp::advance(kTrucking, state, counted(9, "20261120"), today + 1).state.day, 6u);
}

TEST(RampAdvance, MovesWithinAStepWithoutSteppingAgain) {
  // Stepped to [2, 150/h] today; the count moving on to 3 the same day is the same step.
  const int64_t today = day_of("20261201");
  auto a = ramp::advance(kTrucking, RampState{2, 1, today, today}, counted(3, "20261128"), today);
  EXPECT_EQ(a.state.day, 3u);
  EXPECT_FALSE(a.held);
  EXPECT_EQ(a.state.stepped_civil_day, today);
}

// A stamp moved later (or send history lost) lowers the count: the caps in
// force stay; count_went_back says so for the log.
TEST(RampAdvance, NeverGoesBack) {
  const int64_t today = day_of("20261201");
  RampState prev{5, 2, today - 1, today - 2};
  auto a = ramp::advance(kTrucking, prev, counted(1, "20261130"), today);
  EXPECT_EQ(a.state.day, 5u);
  EXPECT_EQ(a.caps.hourly, 250u);
  EXPECT_TRUE(a.count_went_back);
  EXPECT_FALSE(a.held);
  EXPECT_EQ(a.state.stepped_civil_day, today - 2);
  EXPECT_EQ(a.reason,
            "day 1 since 2026-11-30 (calendar days): step [4, 250/h], kept at day 5 (the ramp "
            "never goes back)");
  // The count catches up, then the ramp moves on.
  a = ramp::advance(kTrucking, a.state, counted(7, "20261124"), today + 1);
  EXPECT_EQ(a.state.day, 7u);
  EXPECT_FALSE(a.count_went_back);
}

TEST(RampAdvance, StampInTheFuture) {
  const int64_t today = day_of("20261201");
  auto count = ramp::calendar_days(day_of("20261210"), today);
  auto a = ramp::advance(kTrucking, std::nullopt, count, today);
  EXPECT_TRUE(a.stamp_in_future);
  EXPECT_EQ(a.state.day, 0u);
  EXPECT_EQ(a.caps.hourly, 50u);
  EXPECT_EQ(a.reason,
            "day 0 since 2026-12-10 (calendar days, stamp in the future): step [0, 50/h]; first "
            "start: day taken from the stamp");
  // A stamp moved into the future while the ramp was at day 5: day 5 stays.
  a = ramp::advance(kTrucking, RampState{5, 2, today - 1, today - 1}, count, today);
  EXPECT_EQ(a.state.day, 5u);
  EXPECT_TRUE(a.stamp_in_future && a.count_went_back);
}

TEST(RampAdvance, FirstStartTakesTheCountedDay) {
  const int64_t today = day_of("20261201");
  auto a = ramp::advance(kHealthcare, std::nullopt, counted(12, "20261119"), today);
  EXPECT_TRUE(a.first_start);
  EXPECT_EQ(a.state.day, 12u);
  EXPECT_EQ(a.state.step_index, 3u);
  EXPECT_EQ(a.caps.hourly, 1000u);
  EXPECT_EQ(a.state.updated_civil_day, today);
  EXPECT_EQ(a.state.stepped_civil_day, today);
  // No second step the day of the first start.
  a = ramp::advance(kTrucking, std::nullopt, counted(1, "20261130"), today);
  a = ramp::advance(kTrucking, a.state, counted(6, "20261125"), today);
  EXPECT_EQ(a.state.day, 1u);
  EXPECT_TRUE(a.held);
}

TEST(RampAdvance, ClockGoingBackNeverSteps) {
  const int64_t today = day_of("20261201");
  RampState prev{2, 1, today, today - 3};
  auto a = ramp::advance(kTrucking, prev, counted(9, "20261120"), today - 1);
  EXPECT_TRUE(a.clock_went_back);
  EXPECT_EQ(a.state.day, 3u);  // within the step in force
  EXPECT_EQ(a.caps.hourly, 150u);
  EXPECT_EQ(a.state.updated_civil_day, today);
  EXPECT_EQ(a.reason,
            "day 9 since 2026-11-20 (calendar days): step [2, 150/h], held at day 3 (at most one "
            "step a day); today (2026-11-30) is before the last update (2026-12-01): no step");
}

// ---------------------------------------------------------------- config: ramp.operators

TEST(RampConfigOperators, Parses) {
  auto r = testing::parse_text(R"(
[operators.google]
domains = ["gmail.com"]
[operators.microsoft]
domains = ["outlook.com"]
[[stream]]
name = "trucking"
ports = [25]
ramp = { stamp = "/s", hourly = [[0, 50]], operators = { google = [[0, 0], [30, 20]], microsoft = [[0, 120]] } }
)");
  ASSERT_NE(r.config, nullptr) << testing::all_errors(r);
  const auto& ops = r.config->streams.at(0).ramp->operators;
  ASSERT_EQ(ops.size(), 2u);
  ASSERT_EQ(ops.at("google").size(), 2u);
  EXPECT_EQ(ops.at("google")[1].day, 30u);
  EXPECT_EQ(ops.at("google")[1].cap, 20u);
  EXPECT_EQ(ops.at("microsoft")[0].cap, 120u);
}

TEST(RampConfigOperators, Errors) {
  auto r = testing::parse_text(R"(
[operators.google]
domains = ["gmail.com"]
[[stream]]
name = "trucking"
ports = [25]
[stream.ramp]
stamp = "/s"
hourly = [[0, 50]]
operators = { yahoo = [[0, 0]], google = [[5, 0]], default = [[0, 1]] }
[[stream]]
name = "healthcare"
ports = [2526]
ramp = { stamp = "/s", hourly = [[0, 50]], operators = [1] }
)");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 4u) << testing::all_errors(r);
  const std::string f = testing::kConfigFile;
  // toml++ keeps a table's keys sorted: default, google, yahoo.
  EXPECT_EQ(r.errors[0].to_string(),
            f + ":9:62: ramp 'operators' names operator 'default', which no "
                "[operators.default] table defines");
  EXPECT_EQ(r.errors[1].to_string(), f + ":9:43: the first 'operators.google' step must be day 0");
  EXPECT_EQ(r.errors[2].to_string(),
            f + ":9:23: ramp 'operators' names operator 'yahoo', which no [operators.yahoo] "
                "table defines");
  EXPECT_EQ(r.errors[3].to_string(), f + ":13:56: 'operators' must be a table");
}

}  // namespace
}  // namespace sg
