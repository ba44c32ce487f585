// BreakerFeed: Postfix log lines -> the caps-hash fields policyd reads.
#include "rampd/breaker_feed.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/civil_time.hpp"
#include "tests/unit/config_text.hpp"

namespace sg::rampd {
namespace {

std::shared_ptr<const Config> config(const std::string& action) {
  auto r = parse_config(R"(
[operators.yahoo]
domains = ["yahoo.com"]
mx_suffixes = [".yahoodns.net"]
[[stream]]
name = "trucking"
ports = [25]
postfix = { transport = "out05" }
[[stream]]
name = "healthcare"
ports = [2526]
postfix = { transport = "hcout1" }
[[breaker]]
name = "tss04"
operator = "yahoo"
text = "TSS04"
threshold = 5
window_s = 600
action = ")" + action + R"("
cooldown_s = 3600
recovery_s = 3600
)",
                        "/tmp/test.toml");
  EXPECT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  return r.config;
}

std::vector<std::string> burst() {
  std::ifstream in(std::string(SG_SOURCE_DIR) + "/tests/data/maillog/tss04-burst.log");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

constexpr int64_t kAfter = 1'795'381'500'000;  // 2026-11-22T21:05:00Z

TEST(BreakerFeed, OpenDeferBreakerBecomesADeferFieldWithItsEnd) {
  auto cfg = config("defer");
  BreakerFeed f(*cfg, tzif::Zone{});
  auto trips = f.feed(burst(), kAfter);
  ASSERT_EQ(trips.size(), 1u);
  auto fields = f.fields("healthcare", kAfter);
  ASSERT_EQ(fields.size(), 1u);
  const std::string v = fields.at("breaker:op:yahoo");
  EXPECT_EQ(v.substr(0, 6 + 13), "defer " + std::to_string(trips[0].until_ms)) << v;
  // What policyd words its replies with: the rule's name, then what it saw,
  // without a double quote (a reply is logged inside reply="...").
  EXPECT_EQ(v.substr(19),
            " 0 tss04: saw 5 deferred/bounced results matching text 'TSS04' within "
            "600s (threshold 5)")
      << v;
  EXPECT_TRUE(f.fields("trucking", kAfter).empty());
  EXPECT_EQ(f.counts().lines, 19u);
  EXPECT_GE(f.counts().of_streams, 9u);
}

// streamguard_rampd_deliveries_total: every result of a stream's transport,
// by stream, operator (the relay host tells yahoo; gmail and outlook are no
// operator of this config), status and enhanced status code.
TEST(BreakerFeed, DeliveryResultsAreCountedByStreamOperatorStatusAndCode) {
  auto cfg = config("defer");
  BreakerFeed f(*cfg, tzif::Zone{});
  f.feed(burst(), kAfter);
  using Key = std::array<std::string, 4>;
  const std::map<Key, uint64_t> want = {
      {{"healthcare", "yahoo", "deferred", "4.7.0"}, 6},
      {{"trucking", "yahoo", "deferred", "4.7.0"}, 3},
      {{"healthcare", "other", "deferred", "4.7.28"}, 6},
      {{"healthcare", "other", "sent", "2.6.0"}, 4},
  };
  EXPECT_EQ(f.counts().results, want);
  // The path each left by: healthcare's transport, no bind address set.
  const std::map<Key, uint64_t> paths = {
      {{"healthcare", "hcout1", "default", "deferred"}, 12},
      {{"healthcare", "hcout1", "default", "sent"}, 4},
      {{"trucking", "out05", "default", "deferred"}, 3},
  };
  EXPECT_EQ(f.counts().egress, paths);
}

TEST(BreakerFeed, HoldAndRecoveryAreWrittenAsPolicydReadsThem) {
  auto cfg = config("hold");
  BreakerFeed f(*cfg, tzif::Zone{});
  auto trips = f.feed(burst(), kAfter);
  ASSERT_EQ(trips.size(), 1u);
  EXPECT_EQ(f.fields("healthcare", kAfter).at("breaker:op:yahoo").substr(0, 5), "hold ");
  const int64_t mid = trips[0].until_ms + 1'800'000;
  const std::string v = f.fields("healthcare", mid).at("breaker:op:yahoo");
  EXPECT_EQ(v.substr(0, 8), "recover ") << v;
  EXPECT_NE(v.find(" 0.550 "), std::string::npos) << v;  // 0.1 + 0.9 x half way
  EXPECT_TRUE(f.fields("healthcare", trips[0].until_ms + 3'600'000).empty());
}

TEST(BreakerFeed, FreezeRampIsNotWrittenForPolicyd) {
  auto cfg = config("freeze_ramp");
  BreakerFeed f(*cfg, tzif::Zone{});
  ASSERT_EQ(f.feed(burst(), kAfter).size(), 1u);
  EXPECT_TRUE(f.fields("healthcare", kAfter).empty());
  EXPECT_TRUE(f.engine().ramp_frozen("healthcare", kAfter));
}

// A delivery line with this classic syslog stamp.
maillog::Delivery classic_line(const std::string& stamp) {
  auto d = maillog::parse_line(
      stamp +
      " mta01 postfix/out05/smtp[1]: 3F4A1A0B2C: to=<a@yahoo.com>, "
      "relay=mx.yahoodns.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.0, "
      "status=deferred (host mx.yahoodns.net[192.0.2.1] said: 421 4.7.0 [TSS04] x)");
  EXPECT_TRUE(d) << stamp;
  return d ? *d : maillog::Delivery{};
}

tzif::Zone zone_file(const std::string& name) {
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  std::string error;
  auto z = tzif::Zone::parse(bytes.str(), error);
  EXPECT_TRUE(z) << name << ": " << error;
  return z ? *z : tzif::Zone{};
}

TEST(BreakerFeed, LineTimeComesFromTheIsoStampOrTheSyslogStampInThisYear) {
  auto iso = maillog::parse_line(burst().front());
  ASSERT_TRUE(iso);
  EXPECT_EQ(line_time_ms(*iso, 0, tzif::Zone{}), 1'795'381'200'993);
  EXPECT_EQ(line_time_ms(classic_line("Nov 22 21:00:00"), kAfter, tzif::Zone{}), 1'795'381'200'000);
  // Read in January, a December line is last year's, not eleven months ahead.
  const int64_t jan2 = 1'798'848'000'000;  // 2027-01-02T00:00:00Z
  const auto dec = classic_line("Dec 31 23:00:00");
  EXPECT_LT(line_time_ms(dec, jan2, tzif::Zone{}), jan2);
  EXPECT_GT(line_time_ms(dec, jan2, tzif::Zone{}), jan2 - 2 * 86'400'000);
}

// A UTC host's syslog with an America/Chicago config (the process's TZ, for
// calendar days): the stamp is the host's, not the config's. Read in the
// config's zone it would be six hours late, and a breaker would end hours off.
TEST(BreakerFeed, ClassicStampsAreReadInTheHostsZoneNotTheConfigs) {
  ASSERT_TRUE(set_process_timezone("America/Chicago"));
  const auto host = zone_file("Etc/UTC");
  EXPECT_EQ(line_time_ms(classic_line("Nov 22 21:00:00"), kAfter, host), 1'795'381'200'000);
  // A Chicago host writes the same instant as 15:00 (CST, UTC-6), and in
  // July (CDT, UTC-5) 16:00 is 21:00 UTC.
  const auto chicago = zone_file("America/Chicago");
  EXPECT_EQ(line_time_ms(classic_line("Nov 22 15:00:00"), kAfter, chicago), 1'795'381'200'000);
  const int64_t jul2 = 1'782'950'400'000;  // 2026-07-02T00:00:00Z
  EXPECT_EQ(line_time_ms(classic_line("Jul  1 16:00:00"), jul2, chicago), jul2 - 3 * 3'600'000);
  ASSERT_TRUE(set_process_timezone("UTC"));
}

}  // namespace
}  // namespace sg::rampd

namespace sg::rampd {
namespace {

TEST(BreakerFeed, RemapTakesAReloadedStreamTransportAndKeepsTheCounts) {
  auto before = parse_config(R"(
[[stream]]
name = "healthcare"
ports = [2526]
postfix = { transport = "hcout9" }
)",
                             "/tmp/test.toml");
  ASSERT_TRUE(before.config);
  BreakerFeed f(*before.config, tzif::Zone{});
  f.feed(burst(), kAfter);  // the burst is logged by hcout1: no stream's yet
  EXPECT_EQ(f.counts().of_streams, 0u);
  auto after = parse_config(R"(
[[stream]]
name = "healthcare"
ports = [2526]
postfix = { transport = "hcout1" }
)",
                            "/tmp/test.toml");
  ASSERT_TRUE(after.config);
  f.remap(*after.config);
  f.feed(burst(), kAfter);
  EXPECT_EQ(f.counts().lines, 38u);
  EXPECT_EQ(f.counts().of_streams, 16u);  // hcout1's lines now count for healthcare
}

}  // namespace
}  // namespace sg::rampd
