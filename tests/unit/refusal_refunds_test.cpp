// Mail a milter refused after END-OF-MESSAGE gets its charges back
// (rampd/refusal_refunds.hpp): cleanup's milter-reject line as Postfix
// writes it, which lines count, and the refunds made through the caps
// store (the fake; reservations.lua's "refund" is tested against a real
// Redis in tests/integration/reservation_test.cpp).
#include "rampd/refusal_refunds.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "formats/maillog.hpp"
#include "tests/fakes/fake_cap_store.hpp"
#include "tests/unit/config_text.hpp"

namespace sg::rampd {
namespace {

namespace net = boost::asio;

// As Postfix 3.7 logs it in the e2e tests (the file name shortened).
const std::string kRefused =
    "Dec 05 04:34:22 mta postfix/cleanup[26711]: DEE77A8C0FE: milter-reject: END-OF-MESSAGE "
    "from unknown[127.0.0.1]: 4.7.0 streamguard: the message would leave unsigned: From domain "
    "other.example.org has no SigningTable entry (refile:/etc/opendkim/signing.table); "
    "from=<news@send.example.com> to=<dr.smith@riverside-clinic.example> proto=ESMTP "
    "helo=<listmonk.example>";
const std::string kConnectRefused =
    "Dec 05 04:34:22 mta postfix/healthcare/smtpd[26690]: NOQUEUE: milter-reject: CONNECT from "
    "unknown[127.0.0.1]: 451 4.7.1 Service unavailable - try again later; proto=SMTP";
const std::string kSubmitted =
    "Dec 05 04:34:22 mta postfix/healthcare/smtpd[26690]: DEE77A8C0FE: client=unknown[127.0.0.1]";

TEST(MilterRefusal, CleanupsEndOfMessageLine) {
  const auto m = maillog::parse_milter_refusal(kRefused);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->timestamp, "Dec 05 04:34:22");
  EXPECT_EQ(m->syslog_name, "postfix/cleanup");
  EXPECT_EQ(m->queue_id, "DEE77A8C0FE");
  EXPECT_EQ(m->stage, "END-OF-MESSAGE");
  EXPECT_EQ(m->reply,
            "4.7.0 streamguard: the message would leave unsigned: From domain other.example.org "
            "has no SigningTable entry (refile:/etc/opendkim/signing.table)");
  EXPECT_TRUE(maillog::parse_milter_refusal(kRefused + "\n")) << "a line end is not part of it";
}

TEST(MilterRefusal, SmtpdsLineOfANamedMessageCountsItsNoQueueLinesDoNot) {
  const auto m = maillog::parse_milter_refusal(
      "2026-12-05T04:34:22.123456+00:00 mta postfix/trucking/smtpd[7]: 4BXk2L0TfTz9vKJ: "
      "milter-reject: END-OF-MESSAGE from a.example[192.0.2.7]: 5.7.1 no");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->queue_id, "4BXk2L0TfTz9vKJ");
  EXPECT_EQ(m->reply, "5.7.1 no") << "no envelope after it: the rest of the line";
  EXPECT_FALSE(maillog::parse_milter_refusal(kConnectRefused));
  for (const std::string& not_one : {
           kSubmitted,
           std::string("Dec 05 04:34:22 mta postfix/trucking/smtp[7]: DEE77A8C0FE: milter-reject: "
                       "END-OF-MESSAGE from a[1.2.3.4]: 5.7.1 no"),  // not cleanup or smtpd
           std::string("Dec 05 04:34:22 mta cleanup[7]: DEE77A8C0FE: milter-reject: "
                       "END-OF-MESSAGE from a[1.2.3.4]: 5.7.1 no"),  // not Postfix's name
           std::string("Dec 05 04:34:22 mta postfix/cleanup[7]: DEE77A8C0FE: milter-reject: "
                       "END-OF-MESSAGE a[1.2.3.4]: 5.7.1 no"),  // no " from "
           std::string("Dec 05 04:34:22 mta postfix/cleanup[7]: DEE77A8C0FE: milter-reject: "
                       "end-of-message from a[1.2.3.4]: 5.7.1 no"),  // not a stage name
           std::string("Dec 05 04:34:22 mta postfix/cleanup[7]: DEE77A8C0FE: milter-reject: "
                       "END-OF-MESSAGE from a: 5.7.1 no"),  // no client address
           std::string("Dec 05 04:34:22 mta postfix/cleanup[7]: DEE7/7A8C0FE: milter-reject: "
                       "END-OF-MESSAGE from a[1.2.3.4]: 5.7.1 no"),  // not a queue id
       })
    EXPECT_FALSE(maillog::parse_milter_refusal(not_one)) << not_one;
}

std::shared_ptr<const Config> config(const std::string& commit) {
  auto parsed = testing::parse_text(R"(
[policyd]
commit = ")" + commit + R"("
[[stream]]
name = "trucking"
ports = [25]
daily_cap = 100
[[stream]]
name = "healthcare"
ports = [2526]
daily_cap = 100
)");
  EXPECT_TRUE(parsed.config) << testing::all_errors(parsed);
  return parsed.config;
}

TEST(RefusalsToRefund, OnlyEndOfMessageRefusalsAndOnlyWhenPolicydCommitsThere) {
  const std::vector<std::string> lines = {kSubmitted, kConnectRefused, kRefused};
  const auto got = refusals_to_refund(*config("end_of_message"), lines);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].queue_id, "DEE77A8C0FE");
  EXPECT_TRUE(got[0].reply.starts_with("4.7.0 streamguard: the message would leave unsigned"));
  // Charged for good at RCPT: nothing was kept to give back.
  EXPECT_TRUE(refusals_to_refund(*config("rcpt"), lines).empty());
}

struct RefundTest : ::testing::Test {
  net::io_context io;
  testing::FakeCapStore store;
  RefusalRefunds refunds{store};
  std::shared_ptr<const Config> cfg = config("end_of_message");

  void run(const std::vector<std::string>& lines) {
    bool done = false;
    net::co_spawn(io, refunds.run(*cfg, lines, 1'795'400'000'000), [&](std::exception_ptr e) {
      EXPECT_FALSE(e);
      done = true;
    });
    io.restart();
    io.run();
    EXPECT_TRUE(done);
  }
  // What policyd's commit at END-OF-MESSAGE kept: one recipient's daily
  // charge of the stream and of microsoft.
  void accepted(const std::string& stream, const std::string& queue_id) {
    const std::vector<std::string> keys = {stream + "/daily/", stream + "/daily/microsoft"};
    for (const auto& k : keys) ++store.used[k];
    store.accepted[stream + "/" + queue_id] = keys;
  }
};

TEST_F(RefundTest, TheStreamThatChargedTheMessageGetsItBackOnce) {
  accepted("healthcare", "DEE77A8C0FE");
  accepted("healthcare", "AAA1");  // another message, accepted and not refused
  run({kSubmitted, kRefused});
  EXPECT_EQ(store.used["healthcare/daily/"], 1);
  EXPECT_EQ(store.used["healthcare/daily/microsoft"], 1);
  // The line names no stream: each is asked until one had the message.
  EXPECT_EQ(store.calls, (std::vector<std::string>{"refund trucking DEE77A8C0FE",
                                                   "refund healthcare DEE77A8C0FE"}));
  ASSERT_EQ(refunds.counts().count("healthcare"), 1u);
  EXPECT_EQ(refunds.counts().at("healthcare").messages, 1u);
  EXPECT_EQ(refunds.counts().at("healthcare").charges, 2u);
  EXPECT_EQ(refunds.counts().count("trucking"), 0u);

  // The same line read again (rampd restarted before it saved its place):
  // nothing more comes back.
  run({kRefused});
  EXPECT_EQ(store.used["healthcare/daily/"], 1);
  EXPECT_EQ(refunds.counts().at("healthcare").messages, 1u);
}

TEST_F(RefundTest, ARefundRedisDidNotTakeIsMadeNextRound) {
  accepted("trucking", "DEE77A8C0FE");
  store.fail_with = "redis: no reply within 2000 ms";
  run({kRefused});
  EXPECT_EQ(store.used["trucking/daily/"], 1);
  EXPECT_EQ(refunds.pending(), 1u);
  store.fail_with.clear();
  run({});  // no new lines
  EXPECT_EQ(store.used["trucking/daily/"], 0);
  EXPECT_EQ(refunds.pending(), 0u);
  EXPECT_EQ(refunds.counts().at("trucking").charges, 2u);
}

}  // namespace
}  // namespace sg::rampd
