#include "common/civil_time.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "tests/fakes/fake_clock.hpp"

namespace sg {
namespace {

constexpr int64_t kHourMs = 3'600'000;

// Every test leaves the process in UTC, whatever it set.
class CivilTimeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(set_process_timezone("UTC")); }
  void TearDown() override { ASSERT_TRUE(set_process_timezone("UTC")); }
};

// Local midnights in America/Chicago, epoch ms (from the IANA database).
constexpr int64_t kChi20260115 = 1768456800000;  // CST, UTC-6
constexpr int64_t kChi20260116 = 1768543200000;
constexpr int64_t kChi20260307 = 1772863200000;
constexpr int64_t kChi20260308 = 1772949600000;  // spring forward at 02:00
constexpr int64_t kChi20260309 = 1773032400000;  // CDT, UTC-5
constexpr int64_t kChi20261031 = 1793422800000;
constexpr int64_t kChi20261101 = 1793509200000;  // fall back at 02:00
constexpr int64_t kChi20261102 = 1793599200000;  // CST again
constexpr int64_t kChi20261231 = 1798696800000;
constexpr int64_t kChi20270101 = 1798783200000;

TEST_F(CivilTimeTest, UtcKeyAndNextMidnight) {
  const int64_t midnight_0115 = 1768435200000;  // 2026-01-15T00:00:00Z
  const int64_t midnight_0116 = 1768521600000;
  auto d = civil_day(midnight_0115 + 13 * kHourMs + 1234);
  EXPECT_EQ(d.key, "20260115");
  EXPECT_EQ(d.next_midnight_ms, midnight_0116);

  auto at_midnight = civil_day(midnight_0115);
  EXPECT_EQ(at_midnight.key, "20260115");
  EXPECT_EQ(at_midnight.next_midnight_ms, midnight_0116);

  auto last_ms = civil_day(midnight_0116 - 1);
  EXPECT_EQ(last_ms.key, "20260115");
  EXPECT_EQ(last_ms.next_midnight_ms, midnight_0116);
}

TEST_F(CivilTimeTest, UtcLeapDayAndYearEnd) {
  const int64_t feb29 = 1709164800000;  // 2024-02-29T00:00:00Z
  const int64_t mar01 = 1709251200000;
  auto d = civil_day(feb29 + 5 * kHourMs);
  EXPECT_EQ(d.key, "20240229");
  EXPECT_EQ(d.next_midnight_ms, mar01);
  EXPECT_EQ(civil_day(mar01).key, "20240301");
}

TEST_F(CivilTimeTest, UnknownZoneIsRefusedAndLeavesTzAlone) {
  EXPECT_FALSE(set_process_timezone("Nowhere/Atlantis"));
  EXPECT_FALSE(set_process_timezone(""));
  EXPECT_FALSE(set_process_timezone("../etc/passwd"));
  // Still UTC.
  EXPECT_EQ(civil_day(1768435200000 + kHourMs).key, "20260115");
  EXPECT_EQ(civil_day(1768435200000 + kHourMs).next_midnight_ms, 1768521600000);
}

TEST_F(CivilTimeTest, ChicagoJustBeforeAndAfterLocalMidnight) {
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  // 23:59:59.999 local on 2026-01-15 is 05:59:59.999Z on the 16th: still the 15th here.
  auto before = civil_day(kChi20260116 - 1);
  EXPECT_EQ(before.key, "20260115");
  EXPECT_EQ(before.next_midnight_ms, kChi20260116);

  auto after = civil_day(kChi20260116);
  EXPECT_EQ(after.key, "20260116");
  EXPECT_EQ(after.next_midnight_ms, kChi20260116 + 24 * kHourMs);

  auto day = civil_day(kChi20260115 + 12 * kHourMs);
  EXPECT_EQ(day.key, "20260115");
  EXPECT_EQ(day.next_midnight_ms - kChi20260115, 24 * kHourMs);
}

TEST_F(CivilTimeTest, ChicagoSpringForwardDayIs23Hours) {
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  auto eve = civil_day(kChi20260308 - 1);
  EXPECT_EQ(eve.key, "20260307");
  EXPECT_EQ(eve.next_midnight_ms, kChi20260308);
  EXPECT_EQ(eve.next_midnight_ms - kChi20260307, 24 * kHourMs);

  // Before the 02:00 jump, and after it.
  for (int64_t t : {kChi20260308, kChi20260308 + 1 * kHourMs + 59 * 60'000,
                    kChi20260308 + 2 * kHourMs + 1, kChi20260309 - 1}) {
    SCOPED_TRACE(t);
    auto d = civil_day(t);
    EXPECT_EQ(d.key, "20260308");
    EXPECT_EQ(d.next_midnight_ms, kChi20260309);
    EXPECT_EQ(d.next_midnight_ms - kChi20260308, 23 * kHourMs);
  }
  auto next = civil_day(kChi20260309);
  EXPECT_EQ(next.key, "20260309");
  EXPECT_EQ(next.next_midnight_ms - kChi20260309, 24 * kHourMs);
}

TEST_F(CivilTimeTest, ChicagoFallBackDayIs25Hours) {
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  auto eve = civil_day(kChi20261101 - 1);
  EXPECT_EQ(eve.key, "20261031");
  EXPECT_EQ(eve.next_midnight_ms, kChi20261101);
  EXPECT_EQ(eve.next_midnight_ms - kChi20261031, 24 * kHourMs);

  // Both 01:30s of the repeated hour belong to the same day.
  for (int64_t t : {kChi20261101, kChi20261101 + 90 * 60'000, kChi20261101 + 150 * 60'000,
                    kChi20261101 + 24 * kHourMs, kChi20261102 - 1}) {
    SCOPED_TRACE(t);
    auto d = civil_day(t);
    EXPECT_EQ(d.key, "20261101");
    EXPECT_EQ(d.next_midnight_ms, kChi20261102);
    EXPECT_EQ(d.next_midnight_ms - kChi20261101, 25 * kHourMs);
  }
  auto next = civil_day(kChi20261102);
  EXPECT_EQ(next.key, "20261102");
  EXPECT_EQ(next.next_midnight_ms - kChi20261102, 24 * kHourMs);
}

TEST_F(CivilTimeTest, ChicagoYearEnd) {
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  auto d = civil_day(kChi20261231 + 23 * kHourMs);
  EXPECT_EQ(d.key, "20261231");
  EXPECT_EQ(d.next_midnight_ms, kChi20270101);
  EXPECT_EQ(civil_day(kChi20270101).key, "20270101");
}

TEST_F(CivilTimeTest, SwitchingZoneChangesTheDay) {
  // 2026-01-16T03:00Z is the 16th in UTC and still the 15th in Chicago.
  const int64_t t = 1768521600000 + 3 * kHourMs;
  EXPECT_EQ(civil_day(t).key, "20260116");
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  EXPECT_EQ(civil_day(t).key, "20260115");
  EXPECT_EQ(civil_day(t).next_midnight_ms, kChi20260116);
  ASSERT_TRUE(set_process_timezone("UTC"));
  EXPECT_EQ(civil_day(t).key, "20260116");
}

// ---------------------------------------------------------------- FakeClock

TEST(FakeClock, SetAndAdvance) {
  sg::testing::FakeClock clock;
  const Clock& as_clock = clock;
  EXPECT_EQ(as_clock.now_ms(), 0);
  clock.set(kChi20260308);
  EXPECT_EQ(as_clock.now_ms(), kChi20260308);
  EXPECT_EQ(clock.advance(kHourMs), kChi20260308 + kHourMs);
  EXPECT_EQ(as_clock.now_ms(), kChi20260308 + kHourMs);
  clock.advance(-kHourMs);
  EXPECT_EQ(as_clock.now_ms(), kChi20260308);
  EXPECT_EQ(sg::testing::FakeClock(42).now_ms(), 42);
}

TEST(FakeClock, AdvancedFromSeveralThreads) {
  sg::testing::FakeClock clock(1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&clock] {
      int64_t last = clock.now_ms();
      for (int i = 0; i < 10000; ++i) {
        clock.advance(1);
        int64_t now = clock.now_ms();
        EXPECT_GT(now, last);  // only moves forward here
        last = now;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(clock.now_ms(), 1000 + 4 * 10000);
}

}  // namespace
}  // namespace sg
