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
#include "tests/integration/tss04_log.hpp"

namespace sg::testing {
namespace {

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    maillog = tss04_log_copy("sg-report-");
    RampdHarness rampd(tss04_config(maillog, "hourly_cap = 150\n"), redis.url());
    rampd.ramp_round(kAfterBurst);
    rampd.log_round(kAfterBurst);
    in.config_path = "/etc/streamguard/streamguard.toml";
    in.configured = {{"trucking", {false, std::nullopt, 1000}}, {"healthcare", {false, 150, 1000}}};
    in.daemons = {{"streamguard-policyd", true, true, ""}, {"streamguard-rampd", true, true, ""}};
    in.rampd = nlohmann::json::parse(rampd.app().status_json());
    in.now_ms = kAfterBurst;
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

// Held mail rampd released is charged by rampd: policyd's count (as its
// last charge found it) lags until its next charge, rampd's until its next
// ramp round. The screen shows Redis's own count when the report could read
// it, else the larger of the two.
TEST_F(ReportTest, TheDaysCountIsTheLargerOfPolicydsAndRampdsView) {
  in.policyd = {{"daily_usage", {{"healthcare", {{"all", {{"used", 3}, {"cap", 1000}}}}}}}};
  in.rampd["streams"]["healthcare"]["sent_today"] = 8;
  EXPECT_NE(render_report(in, false).find("usage      8 accepted today of 1000 (0.8%)"),
            std::string::npos)
      << render_report(in, false);
  in.rampd["streams"]["healthcare"]["sent_today"] = 2;
  EXPECT_NE(render_report(in, false).find("usage      3 accepted today of 1000 (0.3%)"),
            std::string::npos)
      << render_report(in, false);
  // The count the report read from Redis itself wins over both.
  in.day_counts = {{"healthcare", 11}, {"trucking", 0}};
  EXPECT_NE(render_report(in, false).find("usage      11 accepted today of 1000 (1.1%)"),
            std::string::npos)
      << render_report(in, false);
  EXPECT_EQ(report_json(in)["streams"]["healthcare"]["accepted_today"], 11);
}

}  // namespace
}  // namespace sg::testing
