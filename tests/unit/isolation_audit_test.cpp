// The isolation proof (rules/isolation_audit.hpp) on a log of both example
// streams (tests/data/maillog/audit/two-streams.log): each stream's mail
// through its own transport is counted; healthcare mail through trucking's
// transport, staff submission through healthcare's, and trucking mail
// through the default smtp are the three breaches; cron mail through the
// default smtp is fine; a delivery whose submission is not in the log is
// counted apart. And the submission lines themselves (formats/maillog.hpp).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "formats/maillog.hpp"
#include "rules/isolation_audit.hpp"

namespace sg {
namespace {

TEST(MaillogSubmission, SmtpdAndPickupLinesTellWhereAMessageCameIn) {
  auto s = maillog::parse_submission(
      "Dec  3 14:00:03 mta01 postfix/healthcare/smtpd[2104]: 4BBB0002: "
      "client=listmonk-hc[198.51.100.11], sasl_method=PLAIN, sasl_username=listmonk\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->queue_id, "4BBB0002");
  EXPECT_EQ(s->service_name(), "postfix/healthcare");
  EXPECT_EQ(s->client, "listmonk-hc[198.51.100.11]");
  EXPECT_FALSE(s->pickup);
  auto p = maillog::parse_submission(
      "2026-12-03T14:07:00+00:00 mta01 postfix/pickup[2108]: 4DDD0004: uid=0 from=<root>");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->pickup);
  EXPECT_EQ(p->client, "uid=0");
  for (const char* not_one :
       {"Dec  3 14:00:03 mta01 postfix/smtpd[1]: connect from x[192.0.2.1]",
        "Dec  3 14:00:03 mta01 postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554",
        "Dec  3 14:00:03 mta01 postfix/cleanup[1]: 4BBB0002: message-id=<a@b>",
        "Dec  3 14:00:03 mta01 postfix/smtpd[1]: 4B-B0002: client=x[192.0.2.1]",
        "Nov 21 21:02:47 mta01/ pickup[2108]: 4DDD0004: uid=0 from=<root>"})
    EXPECT_FALSE(maillog::parse_submission(not_one)) << not_one;
}

Config two_streams() {
  Config c;
  for (auto [name, transport] :
       {std::pair{"trucking", "out05"}, std::pair{"healthcare", "hcout1"}}) {
    StreamConfig s;
    s.name = name;
    s.postfix.syslog_name = std::string("postfix/") + name;
    s.postfix.transport = transport;
    c.streams.push_back(s);
  }
  return c;
}

TEST(IsolationAudit, CountsEachStreamAndNamesEveryBreach) {
  audit::IsolationAudit a(two_streams());
  std::ifstream in(std::string(SG_SOURCE_DIR) + "/tests/data/maillog/audit/two-streams.log");
  for (std::string line; std::getline(in, line);) a.feed(line);
  EXPECT_EQ(a.lines(), 18u);
  const auto& t = a.streams().at("trucking");
  const auto& h = a.streams().at("healthcare");
  EXPECT_EQ(t.submitted, 2u);
  EXPECT_EQ(t.results[static_cast<int>(maillog::Status::sent)], 1u);
  EXPECT_EQ(t.breaches, 1u);
  EXPECT_EQ(h.submitted, 2u);
  EXPECT_EQ(h.results[static_cast<int>(maillog::Status::sent)], 1u);
  EXPECT_EQ(h.results[static_cast<int>(maillog::Status::deferred)], 2u)
      << "its own transport's, and the retry agent's while it was suspended (no path)";
  EXPECT_EQ(h.breaches, 1u);
  EXPECT_EQ(a.other_mail(), 2u) << "cron's and staff's";
  EXPECT_EQ(a.unknown_origin(), 1u);
  ASSERT_EQ(a.breach_count(), 3u);
  ASSERT_EQ(a.breaches().size(), 3u);
  EXPECT_EQ(a.breaches()[0].queue_id, "4CCC0003");
  EXPECT_EQ(a.breaches()[0].came_in, "stream healthcare (postfix/healthcare)");
  EXPECT_EQ(a.breaches()[0].left_by, "transport out05 (stream trucking)");
  EXPECT_EQ(a.breaches()[1].came_in, "postfix/submission (no stream)");
  EXPECT_EQ(a.breaches()[1].left_by, "transport hcout1 (stream healthcare)");
  EXPECT_EQ(a.breaches()[2].left_by, "postfix/smtp (no stream's transport)");
  EXPECT_EQ(a.breaches()[2].status, "bounced");
}

}  // namespace
}  // namespace sg
