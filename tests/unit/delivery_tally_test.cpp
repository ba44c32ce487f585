// DeliveryTally: what rampd's /status says of delivery by stream and
// mailbox provider, over the last hour and the day.
#include "rampd/delivery_tally.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/civil_time.hpp"

namespace sg::rampd {
namespace {

constexpr int64_t kMidnight = 1'796'342'400'000;  // 2026-12-04T00:00:00Z
constexpr int64_t kNoon = kMidnight + 12 * 3'600'000;

breaker::Event result(int64_t t, std::string stream, std::string op, maillog::Status s,
                      std::string dsn) {
  breaker::Event e;
  e.time_ms = t;
  e.stream = std::move(stream);
  e.op = std::move(op);
  e.status = s;
  e.dsn = std::move(dsn);
  return e;
}

class DeliveryTallyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(set_process_timezone("UTC")); }
  DeliveryTally t;
};

TEST_F(DeliveryTallyTest, CountsTheLastHourAndTheDayByStreamAndOperator) {
  using S = maillog::Status;
  t.record(result(kNoon - 90 * 60'000, "trucking", "microsoft", S::sent, "2.6.0"));  // 10:30
  for (int i = 0; i < 3; ++i)
    t.record(result(kNoon - 10 * 60'000 + i, "trucking", "microsoft", S::sent, "2.6.0"));
  t.record(result(kNoon - 59 * 60'000, "trucking", "microsoft", S::deferred, "4.7.0"));
  t.record(result(kNoon - 5 * 60'000, "healthcare", "", S::bounced, "5.1.1"));

  auto hour = t.last_hour(kNoon);
  EXPECT_EQ((hour[{"trucking", "microsoft"}].sent), 3u);  // 10:30 is over an hour ago
  EXPECT_EQ((hour[{"trucking", "microsoft"}].deferred), 1u);
  EXPECT_EQ((hour[{"healthcare", "other"}].bounced), 1u);  // no operator known: "other"
  auto day = t.today(kNoon);
  EXPECT_EQ((day[{"trucking", "microsoft"}].sent), 4u);

  auto j = t.status(kNoon);
  const auto& ms = j["trucking"]["operators"]["microsoft"];
  EXPECT_DOUBLE_EQ(ms["last_hour"]["ratio"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(ms["today"]["ratio"].get<double>(), 0.8);
  EXPECT_EQ(j["trucking"]["today"]["sent"], 4);
  EXPECT_EQ(j["healthcare"]["last_hour"]["ratio"], 0.0);
  ASSERT_EQ(j["healthcare"]["reasons_today"].size(), 1u);
  EXPECT_EQ(j["healthcare"]["reasons_today"][0]["dsn"], "5.1.1");
  EXPECT_EQ(j["healthcare"]["reasons_today"][0]["status"], "bounced");
  EXPECT_EQ(j["healthcare"]["reasons_today"][0]["count"], 1);
}

TEST_F(DeliveryTallyTest, AStreamWithNoResultInTheHourHasNoRatioRatherThanZero) {
  t.record(result(kNoon - 3 * 3'600'000, "trucking", "google", maillog::Status::sent, "2.0.0"));
  auto j = t.status(kNoon);
  EXPECT_TRUE(j["trucking"]["last_hour"]["ratio"].is_null()) << j.dump();
  EXPECT_DOUBLE_EQ(j["trucking"]["today"]["ratio"].get<double>(), 1.0);
}

TEST_F(DeliveryTallyTest, TheReasonsAreOrderedByCount) {
  using S = maillog::Status;
  t.record(result(kNoon, "trucking", "yahoo", S::deferred, "4.7.0"));
  for (int i = 0; i < 3; ++i)
    t.record(result(kNoon + i, "trucking", "google", S::bounced, "5.7.1"));
  t.record(result(kNoon, "trucking", "google", S::deferred, ""));
  auto r = t.status(kNoon + 10)["trucking"]["reasons_today"];
  ASSERT_EQ(r.size(), 3u) << r.dump();
  EXPECT_EQ(r[0]["dsn"], "5.7.1");
  EXPECT_EQ(r[0]["count"], 3);
  EXPECT_EQ(r[2]["dsn"], "none");  // a deferral with no enhanced code
}

TEST_F(DeliveryTallyTest, ANewDayStartsTheDaysCountOverAndALateResultOfYesterdayStaysOut) {
  using S = maillog::Status;
  t.record(result(kMidnight - 60'000, "trucking", "google", S::sent, "2.0.0"));
  EXPECT_EQ((t.today(kMidnight - 1)[{"trucking", "google"}].sent), 1u);
  EXPECT_TRUE(t.today(kMidnight + 1).empty());  // the day turned, nothing of it read yet

  t.record(result(kMidnight + 60'000, "trucking", "google", S::deferred, "4.2.1"));
  t.record(result(kMidnight - 30'000, "trucking", "google", S::sent, "2.0.0"));  // late
  auto day = t.today(kMidnight + 120'000);
  EXPECT_EQ((day[{"trucking", "google"}].sent), 0u);
  EXPECT_EQ((day[{"trucking", "google"}].deferred), 1u);
  // The hour spans midnight: all three count there.
  EXPECT_EQ((t.last_hour(kMidnight + 120'000)[{"trucking", "google"}].total()), 3u);
}

}  // namespace
}  // namespace sg::rampd
