// End to end through a real Postfix: the operator of a custom domain comes
// from its MX hosts (dnsmasq on loopback) and drives the per-operator caps;
// with commit = "end_of_message" only mail Postfix accepted counts, and a
// transaction abandoned after RCPT gives its budget back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

// `postfix -c DIR start` is for root only (CI runs as root).
class MxOperatorE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  }
};
using ReservationE2E = MxOperatorE2E;

const std::vector<std::string> kZone = {
    "--mx-host=gclinic.example,aspmx.l.google.com,1",
    "--mx-host=gclinic.example,alt1.aspmx.l.google.com,5",
    "--mx-host=msclinic.example,msclinic-example.mail.protection.outlook.com,0",
    "--mx-host=yclinic.example,mx-biz.mail.am0.yahoodns.net,1",
    "--mx-host=ownmx.example,mx.ownmx.example,10",
};

TEST_F(MxOperatorE2E, GoogleHostedPracticeRefusedWhenGoogleClosedM365HostedDelivered) {
  HarnessOptions o;
  o.trucking = "daily_cap = 1000\nover_cap = \"defer\"\noperator_daily = { google = 0 }\n";
  o.dns_records = kZone;
  Harness h(o);
  auto s = h.submit("trucking",
                    {"dr.lee@gclinic.example", "dr.kim@msclinic.example", "office@ownmx.example"});
  EXPECT_TRUE(s.reply_to("dr.lee@gclinic.example").starts_with("450 4.7.1"))
      << s.reply_to("dr.lee@gclinic.example");
  EXPECT_NE(s.reply_to("dr.lee@gclinic.example")
                .find("stream trucking's mail to mailbox provider google is closed"),
            std::string::npos);
  EXPECT_TRUE(s.accepted("dr.kim@msclinic.example")) << s.transcript;
  EXPECT_TRUE(s.accepted("office@ownmx.example")) << s.transcript;
  ASSERT_FALSE(s.queue_id.empty()) << s.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("dr.kim@msclinic.example", 20s));
  ASSERT_TRUE(h.sink().wait_for_rcpt("office@ownmx.example", 20s));
  EXPECT_TRUE(h.sink().messages_to("dr.lee@gclinic.example").empty());
  EXPECT_EQ(h.dns()->queries("MX", "gclinic.example"), 1);
  EXPECT_EQ(h.dns()->queries("MX", "msclinic.example"), 1);
}

TEST_F(MxOperatorE2E, CustomDomainOnYahooMxIsRefusedAtRcpt) {
  HarnessOptions o;
  o.dns_records = kZone;
  Harness h(o);
  auto s = h.submit("healthcare", {"owner@yclinic.example"});
  EXPECT_TRUE(s.reply_to("owner@yclinic.example").starts_with("554 5.7.1"))
      << s.reply_to("owner@yclinic.example");
  EXPECT_NE(s.reply_to("owner@yclinic.example")
                .find("yclinic.example (its MX mx-biz.mail.am0.yahoodns.net is yahoo's) is in "
                      "the Yahoo/AOL/Verizon mail family"),
            std::string::npos)
      << s.reply_to("owner@yclinic.example");
}

TEST_F(ReservationE2E, OnlyAcceptedMailCountsAndAnAbandonedTransactionGivesItsBudgetBack) {
  HarnessOptions o;
  o.policyd = "commit = \"end_of_message\"\nreserve_ttl_s = 10\n";
  o.trucking = "daily_cap = 2\nover_cap = \"defer\"\n";
  Harness h(o);

  // A client that quits after RCPT: reserved, never committed.
  auto abandoned = h.submit("trucking", {"a@fleet-one.example"}, "RCPT");
  EXPECT_TRUE(abandoned.accepted("a@fleet-one.example")) << abandoned.transcript;
  EXPECT_EQ(h.daily_count("trucking"), 1);

  // A whole message: committed at END-OF-MESSAGE.
  auto sent = h.submit("trucking", {"b@fleet-two.example"});
  ASSERT_TRUE(sent.accepted("b@fleet-two.example")) << sent.transcript;
  ASSERT_FALSE(sent.queue_id.empty()) << sent.transcript;
  EXPECT_EQ(h.daily_count("trucking"), 2);
  // policyd logs its answer to END-OF-MESSAGE before Postfix says "queued".
  EXPECT_NE(h.policyd_log().find("reason=committed"), std::string::npos) << h.policyd_log();

  // The daily cap of 2 is spent (one committed, one reserved)...
  auto over = h.submit("trucking", {"c@fleet-three.example"});
  EXPECT_TRUE(over.reply_to("c@fleet-three.example").starts_with("450 4.7.1"))
      << over.reply_to("c@fleet-three.example");

  // ...until the abandoned reservation expires and the sweeper returns it.
  // The sweeper gives the charge back in Redis first and logs it after, so
  // the test waits for both.
  ASSERT_TRUE(wait_until(
      [&] {
        return h.daily_count("trucking") == 1 &&
               h.policyd_log().find("1 transaction(s) never reached END-OF-MESSAGE") !=
                   std::string::npos;
      },
      40s))
      << h.daily_count("trucking") << "\n"
      << h.policyd_log();

  auto again = h.submit("trucking", {"c@fleet-three.example"});
  EXPECT_TRUE(again.accepted("c@fleet-three.example")) << again.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("b@fleet-two.example", 20s));
  ASSERT_TRUE(h.sink().wait_for_rcpt("c@fleet-three.example", 20s));
  EXPECT_TRUE(h.sink().messages_to("a@fleet-one.example").empty());  // never had DATA
  EXPECT_EQ(h.daily_count("trucking"), 2);
}

}  // namespace
}  // namespace sg::e2e
