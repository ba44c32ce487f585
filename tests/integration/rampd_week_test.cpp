// Issue 5's week: over an injected week of clock, streamguard-rampd ages two
// streams' ramps independently, one by send days (a weekend without sending
// does not count) and one by calendar days, and the caps in Redis and in each
// stream's own Listmonk settings table follow the schedules. Real Redis, real
// PostgreSQL.
#include <gtest/gtest.h>

#include <fstream>

#include "rules/limiter_keys.hpp"
#include "rules/ramp.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/postgres_server.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

// Monday 2026-11-16 08:00Z: both warmups start; the rounds run at noon.
constexpr int64_t kStamp = 1'794'816'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kNoon0 = kStamp * 1000 + 4 * 3'600'000;

void create_listmonk_db(PostgresServer& pg, const std::string& db) {
  pg.exec("postgres", "CREATE DATABASE " + db);
  pg.exec(db,
          "CREATE TABLE settings (key TEXT NOT NULL UNIQUE, value JSONB NOT NULL DEFAULT '{}', "
          "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW());"
          "INSERT INTO settings (key, value) VALUES ('app.message_sliding_window', 'false'), "
          "('app.message_sliding_window_duration', '\"1h\"'), "
          "('app.message_sliding_window_rate', '10000'), ('app.concurrency', '10');");
}

class RampdWeekTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("sg-week-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/truck-stamp") << kStamp << "\n";
    std::ofstream(dir + "/hc-stamp") << kStamp << "\n";
    create_listmonk_db(pg, "lm_trucking");
    create_listmonk_db(pg, "lm_healthcare");
    rampd = std::make_unique<RampdHarness>(
        config_with_streams(
            R"(
[[stream]]
name = "trucking"
ports = [25]
over_cap = "hold"
ramp = { stamp = ")" +
            dir +
            R"(/truck-stamp", count = "send_days", hourly = [[0, 50], [2, 150], [4, 250]], operators = { google = [[0, 0], [3, 20]] } }
listmonk = { dsn = ")" +
            pg.admin_dsn("lm_trucking") + R"(", fraction = 0.9 }

[[stream]]
name = "healthcare"
ports = [2526]
ramp = { stamp = ")" +
            dir + R"(/hc-stamp", count = "calendar_days", hourly = [[0, 100], [2, 300], [5, 600]] }
listmonk = { dsn = ")" +
            pg.admin_dsn("lm_healthcare") + R"(", fraction = 0.5 }
)"),
        redis.url());
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string cap(const std::string& stream, const std::string& field) {
    return redis.cmd({"HGET", keys::caps("sg", stream), field});
  }
  std::string listmonk_rate(const std::string& db) {
    return pg.query(db,
                    "SELECT value::text FROM settings WHERE key = "
                    "'app.message_sliding_window_rate'");
  }

  RedisServer redis;
  PostgresServer pg;
  std::string dir;
  std::unique_ptr<RampdHarness> rampd;
};

TEST_F(RampdWeekTest, CapsInRedisAndListmonkFollowBothSchedulesIndependently) {
  struct Day {
    bool trucking_sends;  // policyd counts trucking mail that day (Mon-Fri)
    const char* trucking_hourly;
    const char* trucking_google;
    const char* healthcare_hourly;
  };
  // Send days of trucking by day k: Mon 0, Tue 1, Wed 2, Thu 3, Fri 4, Sat 5
  // (Fri counted), Sun 5 (Sat sent nothing), Mon 5 (nor did Sunday).
  const Day week[] = {
      {true, "50", "0", "100"},    {true, "50", "0", "100"},   {true, "150", "0", "300"},
      {true, "150", "20", "300"},  {true, "250", "20", "300"}, {false, "250", "20", "600"},
      {false, "250", "20", "600"}, {true, "250", "20", "600"},
  };
  for (int k = 0; k < 8; ++k) {
    SCOPED_TRACE("day " + std::to_string(k));
    const int64_t now = kNoon0 + k * kDayMs;
    const std::string day = ramp::day_key(ramp::civil_day_number(now));
    if (week[k].trucking_sends)  // what policyd counted this morning
      redis.cmd({"INCRBY", keys::daily_count("sg", "trucking", day), "40"});
    rampd->ramp_round(now);

    EXPECT_EQ(cap("trucking", "hourly"), week[k].trucking_hourly);
    EXPECT_EQ(cap("trucking", "op:google:daily"), week[k].trucking_google);
    EXPECT_EQ(cap("healthcare", "hourly"), week[k].healthcare_hourly);
    EXPECT_EQ(cap("healthcare", "op:google:daily"), "(nil)");  // healthcare's ramp has none
    EXPECT_EQ(listmonk_rate("lm_trucking"),
              std::to_string(std::stoi(week[k].trucking_hourly) * 9 / 10));
    EXPECT_EQ(listmonk_rate("lm_healthcare"),
              std::to_string(std::stoi(week[k].healthcare_hourly) / 2));
  }
  // The day, the reason and a version that went up with each change.
  EXPECT_EQ(cap("trucking", "ramp:day"), "5");
  EXPECT_NE(cap("trucking", "ramp:reason").find("send days"), std::string::npos)
      << cap("trucking", "ramp:reason");
  EXPECT_EQ(cap("healthcare", "ramp:day"), "7");
  EXPECT_EQ(cap("trucking", "ramp:version"), "4");    // day 0, then 2, 3, 4 changed a cap
  EXPECT_EQ(cap("healthcare", "ramp:version"), "3");  // day 0, 2, 5
  EXPECT_EQ(pg.query("lm_trucking",
                     "SELECT value::text FROM settings WHERE key = "
                     "'app.message_sliding_window'"),
            "true");
  EXPECT_EQ(pg.query("lm_trucking",
                     "SELECT value::text FROM settings WHERE key = "
                     "'app.concurrency'"),
            "10");  // never touched
  // rampd's own send history holds the five past days policyd counted (Mon-Fri;
  // today's count is copied once the day is over).
  EXPECT_EQ(redis.cmd({"HLEN", keys::sent_days("sg", "trucking")}), "5");
}

TEST_F(RampdWeekTest, MissingStampIsALoudErrorAndChangesNothing) {
  rampd->ramp_round(kNoon0 + 3 * kDayMs);
  ASSERT_EQ(cap("healthcare", "hourly"), "300");
  std::filesystem::remove(dir + "/hc-stamp");
  rampd->ramp_round(kNoon0 + 6 * kDayMs);
  EXPECT_EQ(cap("healthcare", "hourly"), "300");  // neither cap 0 nor the last step
  const auto& rep = rampd->app().ramps().at("healthcare");
  EXPECT_FALSE(rep.ok);
  EXPECT_NE(rep.error.find(dir + "/hc-stamp"), std::string::npos) << rep.error;
  EXPECT_NE(rampd->app().metrics_text().find("streamguard_rampd_ramp_ok{stream=\"healthcare\"} 0"),
            std::string::npos);
  EXPECT_EQ(listmonk_rate("lm_healthcare"), "150");  // Listmonk untouched as well
  EXPECT_EQ(cap("trucking", "hourly"), "50");        // the other stream goes on
}

// A stream in shadow mode: its caps are still published (policyd counts
// them and reports what it would do), but Listmonk's own rate is left alone.
TEST_F(RampdWeekTest, AShadowStreamsListmonkIsLeftAsItIs) {
  RampdHarness shadow(config_with_streams(R"(
[[stream]]
name = "healthcare"
ports = [2526]
mode = "shadow"
ramp = { stamp = ")" + dir + R"(/hc-stamp", count = "calendar_days", hourly = [[0, 100], [2, 300]] }
listmonk = { dsn = ")" + pg.admin_dsn("lm_healthcare") +
                                          R"(", fraction = 0.5 }
)"),
                      redis.url());
  shadow.ramp_round(kNoon0);
  EXPECT_EQ(cap("healthcare", "hourly"), "100");
  EXPECT_EQ(listmonk_rate("lm_healthcare"), "10000");  // as the sender set it
  EXPECT_EQ(pg.query("lm_healthcare",
                     "SELECT value::text FROM settings WHERE key = 'app.message_sliding_window'"),
            "false");
  const std::string status = shadow.app().status_json();
  EXPECT_NE(status.find("\"shadow\": true"), std::string::npos) << status;
  EXPECT_NE(status.find("\"would_rate\": 50"), std::string::npos) << status;
}

// A send-days warmup in progress when streamguard is installed: no history
// yet, but the days it had made are carried over, so the stream does not
// drop back to day 0 (trucking at 50/h).
TEST_F(RampdWeekTest, ASendDaysWarmupInProgressCarriesItsDaysOver) {
  RampdHarness carried(
      config_with_streams(
          R"(
[[stream]]
name = "trucking"
ports = [25]
ramp = { stamp = ")" +
          dir +
          R"(/truck-stamp", count = "send_days", send_days_before = 4, hourly = [[0, 50], [2, 150], [4, 250]] }
)"),
      redis.url());
  carried.ramp_round(kNoon0 + 10 * kDayMs);
  EXPECT_EQ(cap("trucking", "hourly"), "250");
  EXPECT_EQ(cap("trucking", "ramp:day"), "4");
  // The first day streamguard counted adds to them (a step a day at most).
  redis.cmd({"INCRBY",
             keys::daily_count("sg", "trucking",
                               ramp::day_key(ramp::civil_day_number(kNoon0 + 10 * kDayMs))),
             "40"});
  carried.ramp_round(kNoon0 + 11 * kDayMs);
  EXPECT_EQ(cap("trucking", "ramp:day"), "5");
}

}  // namespace
}  // namespace sg::testing
