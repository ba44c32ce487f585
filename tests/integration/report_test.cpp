// streamguardctl report's screen, from the /status a real rampd gives after
// reading a real Postfix log (tests/data/maillog/tss04-burst.log: Yahoo's
// TSS04 deferrals trip the yahoo breaker; Gmail defers with 4.7.28;
// Outlook-hosted practices take the mail).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ctl/report_view.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

// 2026-11-22T21:05:00Z, just after the burst in tss04-burst.log (21:00-21:04).
constexpr int64_t kAfterTheBurst = 1'795'381'500'000;

std::string report_config(const std::string& maillog) {
  return config_with_streams(R"(
[operators.yahoo]
domains = ["yahoo.com", "aol.com"]
mx_suffixes = [".yahoodns.net"]

[rampd]
maillog = ")" + maillog + R"("
maillog_from = "start"

[[stream]]
name = "trucking"
ports = [25]
daily_cap = 1000
postfix = { transport = "out05" }

[[stream]]
name = "healthcare"
ports = [2526]
hourly_cap = 150
daily_cap = 1000
postfix = { transport = "hcout1" }

[[breaker]]
name = "yahoo-tss04"
operator = "yahoo"
dsn = "4.7"
text = "TSS04"
threshold = 5
window_s = 600
action = "defer"
cooldown_s = 3600
recovery_s = 3600
)");
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    maillog = std::filesystem::temp_directory_path() / ("sg-report-" + std::to_string(::getpid()));
    std::filesystem::copy_file(std::string(SG_SOURCE_DIR) + "/tests/data/maillog/tss04-burst.log",
                               maillog, std::filesystem::copy_options::overwrite_existing);
    RampdHarness rampd(report_config(maillog), redis.url());
    rampd.ramp_round(kAfterTheBurst);
    rampd.log_round(kAfterTheBurst);
    in.config_path = "/etc/streamguard/streamguard.toml";
    in.configured = {{"trucking", {false, std::nullopt, 1000}}, {"healthcare", {false, 150, 1000}}};
    in.daemons = {{"streamguard-policyd", true, true, ""}, {"streamguard-rampd", true, true, ""}};
    in.rampd = nlohmann::json::parse(rampd.app().status_json());
    in.now_ms = kAfterTheBurst;
  }
  void TearDown() override { std::filesystem::remove(maillog); }

  RedisServer redis;
  std::string maillog;
  ReportInput in;
};

TEST_F(ReportTest, EachStreamShowsItsCapsDeliveryByProviderReasonsAndBreakers) {
  const std::string text = render_report(in, false);
  SCOPED_TRACE(text);
  EXPECT_NE(text.find("stream healthcare (enforce)"), std::string::npos);
  EXPECT_NE(
      text.find("hourly 150/h (one message every 24s); daily 1000 (the configuration's; no ramp)"),
      std::string::npos);
  // Yahoo took none of healthcare's mail in the hour: 0% delivered.
  EXPECT_NE(text.find("yahoo "), std::string::npos);
  EXPECT_NE(text.find("0.0%"), std::string::npos);
  EXPECT_NE(text.find("deferred 4.7.0"), std::string::npos);
  EXPECT_NE(text.find("deferred 4.7.28"), std::string::npos);
  EXPECT_NE(text.find("yahoo-tss04 open for yahoo, another "), std::string::npos);
  EXPECT_EQ(text.find('\033'), std::string::npos);  // no colour unless asked
  const std::string coloured = render_report(in, true);
  EXPECT_NE(coloured.find("\033[31m0.0%"), std::string::npos) << coloured;
}

TEST_F(ReportTest, TheJsonCarriesTheSameCountsPerStreamAndProvider) {
  auto j = report_json(in);
  const auto& yahoo = j["streams"]["healthcare"]["delivery"]["operators"]["yahoo"];
  ASSERT_TRUE(yahoo.is_object()) << j.dump(2);
  const auto& hour = yahoo["last_hour"];
  EXPECT_GE(hour["deferred"].get<int>(), 5) << hour.dump();
  EXPECT_EQ(hour["sent"], 0);
  EXPECT_EQ(hour["ratio"], 0.0);
  ASSERT_EQ(j["streams"]["healthcare"]["breakers"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["streams"]["healthcare"]["breakers"][0]["rule"], "yahoo-tss04");
  EXPECT_TRUE(j["streams"]["trucking"]["breakers"].empty());
}

TEST_F(ReportTest, WithoutRampdItSaysWhyThereIsNothingToReport) {
  in.rampd = nullptr;
  in.daemons[1] = {"streamguard-rampd", true, false, "unix:/run/streamguard/rampd.sock: refused"};
  const std::string text = render_report(in, false);
  EXPECT_NE(text.find("streamguard-rampd DOWN"), std::string::npos) << text;
  EXPECT_NE(text.find("rampd.sock: refused"), std::string::npos) << text;
  EXPECT_NE(text.find("nothing to report"), std::string::npos) << text;
}

}  // namespace
}  // namespace sg::testing
