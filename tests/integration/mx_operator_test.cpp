// MX-based operators against a real DNS server (dnsmasq on loopback) and a
// real Redis: the operator a custom domain's MX hosts name drives the
// per-operator caps and the operator's list.
#include <gtest/gtest.h>

#include <chrono>

#include "common/dns_server.hpp"
#include "tests/integration/dns_server.hpp"
#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kZone = {
    // A practice on Google Workspace: every MX host is Google's.
    "--mx-host=gclinic.example,aspmx.l.google.com,1",
    "--mx-host=gclinic.example,alt1.aspmx.l.google.com,5",
    "--mx-host=gclinic.example,alt2.aspmx.l.google.com,5",
    // A practice on Microsoft 365.
    "--mx-host=msclinic.example,msclinic-example.mail.protection.outlook.com,0",
    // A custom domain on Yahoo's MX (a small-business mailbox).
    "--mx-host=yclinic.example,mx-biz.mail.am0.yahoodns.net,1",
    // Split: Google first, its own backup MX second.
    "--mx-host=mixed.example,aspmx.l.google.com,1",
    "--mx-host=mixed.example,backup.mixed.example,20",
    // Does not exist.
    "--local=/nx.example/",
};

std::string mx_config(const std::string& dns_server, const std::string& dns_extra = "") {
  std::string lists = std::string(SG_SOURCE_DIR) + "/deploy/lists/";
  return "timezone = \"UTC\"\nlog_level = \"warn\"\n[redis]\non_error = \"defer\"\nexpect_rampd = "
         "false\n"
         "[dns]\nservers = [\"" +
         dns_server + "\"]\ntimeout_ms = 200\ntries = 1\n" + dns_extra +
         "\n[lists]\nyahoo_family = \"" + lists + "yahoo-family.txt\"\nconsumer = \"" + lists +
         "consumer-webmail.txt\"\n"
         "[operators.google]\ndomains = [\"gmail.com\"]\nmx_suffixes = [\".google.com\"]\n"
         "[operators.microsoft]\ndomains = [\"outlook.com\"]\n"
         "mx_suffixes = [\".mail.protection.outlook.com\"]\n"
         "[operators.yahoo]\ndomains = [\"yahoo.com\"]\nmx_suffixes = [\".yahoodns.net\"]\n"
         "list = \"yahoo_family\"\n"
         R"(
[[stream]]
name = "trucking"
ports = [25]
exclude = ["yahoo_family"]
over_cap = "defer"
daily_cap = 1000
operator_daily = { google = 0, default = 120 }

[[stream]]
name = "healthcare"
ports = [2526]
exclude = ["yahoo_family", "consumer"]
over_cap = "hold"
daily_cap = 1000
)";
}

class MxOperatorTest : public ::testing::Test {
 protected:
  void SetUp() override { start(mx_config(dns.address())); }
  void start(const std::string& text) {
    policyd.reset();
    policyd = std::make_unique<PolicydHarness>(text, redis.url());
    ASSERT_TRUE(policyd->wait_redis_ready());
  }
  std::string day() const { return civil_day(policyd->clock.now_ms()).key; }
  std::string count(const std::string& stream, const std::string& op = "") const {
    return redis.cmd(
        {"GET", "sg:{" + stream + "}:count:day:" + day() + (op.empty() ? "" : ":op:" + op)});
  }

  RedisServer redis;
  DnsServer dns{kZone};
  std::unique_ptr<PolicydHarness> policyd;
};

TEST_F(MxOperatorTest, GoogleHostedPracticeIsRefusedWhenGoogleIsClosedM365HostedIsAccepted) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("dr.lee@gclinic.example", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider google "
            "is closed: its daily cap is 0; try again later");
  EXPECT_EQ(c.rcpt("dr.kim@msclinic.example", 25), "DUNNO");
  EXPECT_EQ(count("trucking", "microsoft"), "1");
  EXPECT_EQ(count("trucking", "google"), "(nil)");
  EXPECT_EQ(count("trucking"), "1");  // the refused google recipient charged nothing
  EXPECT_EQ(dns.queries("MX", "gclinic.example"), 1);
  EXPECT_EQ(dns.queries("MX", "msclinic.example"), 1);
}

TEST_F(MxOperatorTest, MxSplitBetweenOperatorAndOwnHostIsNoOperator) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("office@mixed.example", 25), "DUNNO");
  EXPECT_EQ(count("trucking"), "1");
  EXPECT_EQ(count("trucking", "google"), "(nil)");
}

TEST_F(MxOperatorTest, CustomDomainOnYahooMxIsYahooFamilyOnEveryStream) {
  PolicyClient c(policyd->socket());
  for (int port : {25, 2526}) {
    EXPECT_EQ(c.rcpt("owner@yclinic.example", port),
              "REJECT 5.7.1 streamguard: yclinic.example (its MX mx-biz.mail.am0.yahoodns.net is "
              "yahoo's) is in the Yahoo/AOL/Verizon mail family, which stream " +
                  std::string(port == 25 ? "trucking" : "healthcare") + " excludes")
        << port;
  }
  EXPECT_EQ(count("trucking"), "(nil)");
  EXPECT_EQ(count("healthcare"), "(nil)");
}

TEST_F(MxOperatorTest, StaticMapAnswersWithoutDns) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("someone@gmail.com", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider google "
            "is closed: its daily cap is 0; try again later");
  EXPECT_EQ(c.rcpt("someone@outlook.com", 25), "DUNNO");
  EXPECT_EQ(dns.queries("MX", "gmail.com"), 0);
  EXPECT_EQ(dns.queries("MX", "outlook.com"), 0);
}

TEST_F(MxOperatorTest, AnswersAreCachedForTheirTtl) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@msclinic.example", 25), "DUNNO");
  EXPECT_EQ(c.rcpt("b@msclinic.example", 2526), "DUNNO");
  EXPECT_EQ(c.rcpt("c@msclinic.example", 25), "DUNNO");
  EXPECT_EQ(dns.queries("MX", "msclinic.example"), 1);
  policyd->clock.advance(299'000);  // dnsmasq's answers carry TTL 300
  EXPECT_EQ(c.rcpt("d@msclinic.example", 25), "DUNNO");
  EXPECT_EQ(dns.queries("MX", "msclinic.example"), 1);
  policyd->clock.advance(2'000);
  EXPECT_EQ(c.rcpt("e@msclinic.example", 25), "DUNNO");
  EXPECT_EQ(dns.queries("MX", "msclinic.example"), 2);
  EXPECT_NE(policyd->metrics_text().find("streamguard_dns_cache_total{result=\"hit\"} 3"),
            std::string::npos)
      << policyd->metrics_text();
}

TEST_F(MxOperatorTest, NonexistentDomainIsNoOperator) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("x@nx.example", 25), "DUNNO");
  EXPECT_NE(policyd->metrics_text().find("streamguard_dns_lookups_total{result=\"nxdomain\"} 1"),
            std::string::npos);
}

TEST_F(MxOperatorTest, RefusedLookupFollowsOnFailureDefer) {
  PolicyClient c(policyd->socket());
  // dnsmasq knows nothing of this name and forwards nowhere: REFUSED.
  EXPECT_EQ(c.rcpt("x@unknown-zone.example", 25),
            "DEFER_IF_PERMIT 4.7.1 streamguard: cannot tell which mailbox provider receives mail "
            "for unknown-zone.example (MX lookup: every DNS server refused, failed or could not be "
            "reached); try again later");
  EXPECT_EQ(count("trucking"), "(nil)");
}

TEST_F(MxOperatorTest, OnFailureUnknownGoesOnWithoutAnOperator) {
  start(mx_config(dns.address(), "on_failure = \"unknown\"\n"));
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("x@unknown-zone.example", 25), "DUNNO");
  EXPECT_EQ(count("trucking"), "1");
}

TEST(MxOperatorTimeout, SilentServerTimesOutIntoOnFailureHold) {
  RedisServer redis;
  SilentDnsServer silent;
  PolicydHarness policyd(mx_config(silent.address(), "on_failure = \"hold\"\n"), redis.url());
  ASSERT_TRUE(policyd.wait_redis_ready());
  PolicyClient c(policyd.socket());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.rcpt("x@msclinic.example", 25),
            "HOLD streamguard: cannot tell which mailbox provider receives mail for "
            "msclinic.example (MX lookup: timeout after 1 tries); accepted and held: "
            "streamguard-rampd releases it once the lookup answers");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(MxOperatorTest, ReloadEmptiesTheCache) {
  PolicyClient c(policyd->socket());
  EXPECT_EQ(c.rcpt("a@msclinic.example", 25), "DUNNO");
  ASSERT_TRUE(policyd->reload().empty());
  EXPECT_EQ(c.rcpt("b@msclinic.example", 25), "DUNNO");
  EXPECT_EQ(dns.queries("MX", "msclinic.example"), 2);
}

}  // namespace
}  // namespace sg::testing
