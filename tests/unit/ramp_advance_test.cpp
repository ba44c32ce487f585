// The warmup ramp's progression: the step in force follows the counted day,
// at most one step per civil day however often it runs, never back, and with
// a reason a person can read.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "rules/ramp.hpp"
#include "tests/unit/ramp_test_support.hpp"

namespace sg {
namespace {

using ramp::Advanced;
using ramp::Count;
using ramp::RampState;
using ramp::SentDay;

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

}  // namespace
}  // namespace sg
