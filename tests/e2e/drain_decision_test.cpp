// Held mail meets the decision live mail meets: rampd's drainer checks each
// recipient as policyd answers RCPT (recipient/recipient_check.hpp), so the
// operator comes from the MX hosts too, the operator's breaker and caps
// apply, and a recipient the stream must not mail is never released to.
// Real Postfix, policyd, Redis, dnsmasq on loopback and the rampd binary.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

// The value of one series in a /metrics text (-1 when absent).
double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string ms_from_now(std::chrono::milliseconds d) {
  using namespace std::chrono;
  return std::to_string(
      duration_cast<milliseconds>((system_clock::now() + d).time_since_epoch()).count());
}

TEST(DrainDecisionE2E, MailHeldForADomainOnGooglesMxWaitsForGooglesBreakerThenLeavesOnce) {
  HarnessOptions o;
  o.dns_records = {"--mx-host=gclinic.example,aspmx.l.google.com,1"};
  // Closed, so policyd holds the mail; google has a daily cap of its own.
  o.healthcare = "hourly_cap = 0\nover_cap = \"hold\"\noperator_daily = { google = 100 }\n";
  o.rampd = "drain_interval_s = 1\n";
  Harness h(o);
  const std::string to = "frontdesk@gclinic.example";
  auto s = h.submit("healthcare", {to});
  ASSERT_TRUE(s.accepted(to)) << s.transcript;
  ASSERT_TRUE(wait_until([&] { return one_message_held(h); })) << h.policyd_log();

  // The stream opens (the caps hash overrides the config) while google's
  // breaker is open: gclinic.example is google's only by its MX hosts.
  h.redis().cmd({"HSET", "sg:{healthcare}:caps", "hourly", "1200", "breaker:op:google",
                 "hold " + ms_from_now(10min) + " 0 421 4.7.28 rate limited (test)"});
  h.start_rampd();
  ASSERT_TRUE(wait_until(
      [&] {
        return h.rampd_log().find("held " + s.queue_id +
                                  " (stream healthcare) waits: streamguard: stream "
                                  "healthcare's mail to mailbox provider google is paused") !=
               std::string::npos;
      },
      20s))
      << h.rampd_log();
  // Five more rounds (each looks the domain up again, from the cache): it stays.
  const auto hits = [&] {
    return metric(http_get_unix(h.rampd_status_socket(), "/metrics"),
                  "streamguard_dns_cache_total{result=\"hit\"}");
  };
  const double first = hits();
  ASSERT_TRUE(wait_until([&] { return hits() >= first + 5; }, 20s)) << h.rampd_log();
  EXPECT_TRUE(h.sink().messages().empty()) << "released past google's open breaker";
  EXPECT_TRUE(one_message_held(h));
  EXPECT_EQ(h.daily_count("healthcare", "google"), 0);
  const auto metrics = http_get_unix(h.rampd_status_socket(), "/metrics");
  EXPECT_EQ(metric(metrics, "streamguard_rampd_held_waiting{stream=\"healthcare\"}"), 1) << metrics;

  // The breaker closes: released once, through the stream's transport, and
  // counted to google.
  h.redis().cmd({"HDEL", "sg:{healthcare}:caps", "breaker:op:google"});
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, 20s)) << h.rampd_log();
  ASSERT_TRUE(wait_until([&] { return h.postfix().queue().empty(); }, 15s));
  EXPECT_EQ(h.sink().messages().size(), 1u);
  EXPECT_EQ(h.sink().messages()[0].helo, "hcmta01.example.com");
  EXPECT_EQ(h.daily_count("healthcare", "google"), 1);
  EXPECT_EQ(h.daily_count("healthcare"), 1);
}

// A custom domain on Yahoo's MX whose lookup failed when it was submitted
// (on_failure = "hold"): when rampd's lookup answers, the domain is Yahoo
// family, which the stream excludes. The message is returned to its sender,
// never released.
TEST(DrainDecisionE2E, MailHeldWhileDnsFailedIsReturnedToItsSenderWhenItsMxIsYahoos) {
  HarnessOptions o;
  // policyd's dnsmasq knows nothing of yclinic.example: REFUSED, a failure.
  o.dns_records = {"--mx-host=gclinic.example,aspmx.l.google.com,1"};
  o.dns = "on_failure = \"hold\"\n";
  o.rampd = "drain_interval_s = 1\n";
  Harness h(o);
  const std::string to = "office@yclinic.example";
  auto s = h.submit("healthcare", {to});
  ASSERT_TRUE(s.accepted(to)) << s.transcript;
  ASSERT_TRUE(wait_until([&] { return one_message_held(h); })) << h.policyd_log();
  EXPECT_NE(h.policyd_log().find("operator_by=mx-failed action=hold"), std::string::npos)
      << h.policyd_log();

  // rampd asks a server that knows the domain's MX hosts: Yahoo's.
  sg::testing::DnsServer yahoo({"--mx-host=yclinic.example,mx-biz.mail.am0.yahoodns.net,1"});
  std::string config = slurp(h.config_path());
  const auto at = config.find(h.dns()->address());
  ASSERT_NE(at, std::string::npos);
  config.replace(at, h.dns()->address().size(), yahoo.address());
  std::ofstream(h.config_path()) << config;
  h.start_rampd();

  // Postfix returns it to the sender (news@send.example.com, relayed to the
  // sink) as expired; the recipient never gets it.
  ASSERT_TRUE(h.sink().wait_for_rcpt(Harness::kFrom, 30s)) << h.rampd_log() << h.postfix().log();
  ASSERT_TRUE(wait_until([&] { return h.postfix().queue().empty(); }, 15s));
  for (const auto& m : h.sink().messages()) {
    EXPECT_EQ(m.rcpts, std::vector<std::string>{Harness::kFrom});
    EXPECT_EQ(m.mail_from, "");  // a bounce
    EXPECT_NE(m.data.find(to), std::string::npos) << "the bounce names the recipient";
  }
  EXPECT_NE(h.rampd_log().find(
                "held " + s.queue_id +
                " (stream healthcare): returned to its sender, never released: " + to + ": "),
            std::string::npos)
      << h.rampd_log();
  EXPECT_NE(h.postfix().log().find("status=force-expired, returned to sender"), std::string::npos)
      << h.postfix().log();
  const auto metrics = http_get_unix(h.rampd_status_socket(), "/metrics");
  EXPECT_EQ(metric(metrics, "streamguard_rampd_returned_total{stream=\"healthcare\"}"), 1)
      << metrics;
  EXPECT_EQ(metric(metrics, "streamguard_rampd_released_total{stream=\"healthcare\"}"), 0)
      << metrics;
  EXPECT_EQ(h.daily_count("healthcare"), 0);  // nothing charged
}

}  // namespace
}  // namespace sg::e2e
