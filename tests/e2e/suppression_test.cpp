// Suppression through the real pipeline (issue 11): a campaign on one stream
// to 50 addresses, 20 of them dead (the sink answers 550 5.1.1) and 10 at a
// dead Microsoft 365 tenant (451 4.4.4); rampd follows Postfix's log and
// learns them; the same campaign through the other stream is refused at RCPT
// for every learned address and domain, with the reason, and the 20 live
// addresses get it once more. An entry whose time is up is mailable again.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTenant = "closed-tenant.example";

std::string addr(const char* kind, int i) {
  if (std::string(kind) == "tenant") return "staff" + std::to_string(i) + "@" + kTenant;
  return std::string(kind) + std::to_string(i) + "@fleet" + std::to_string(i) + ".example";
}

// Lines of the Postfix log that report a result for `rcpt`.
int results_for(const std::string& log, const std::string& rcpt) {
  int n = 0;
  const std::string to = "to=<" + rcpt + ">";
  for (std::size_t at = log.find(to); at != std::string::npos; at = log.find(to, at + 1))
    if (log.find("status=", at) < log.find('\n', at)) ++n;
  return n;
}

TEST(SuppressionE2E, WhatOneStreamLearnedIsRefusedAtRcptOnTheOther) {
  HarnessOptions o;
  o.rampd = "interval_s = 1\n";
  // The shipped rules' shape, with a dead tenant learned from 5 deferrals at
  // once (the shipped rule wants them spread over a day).
  o.rules = R"(
[[suppress]]
name = "user-unknown"
scope = "address"
status = ["bounced"]
dsn = ["5.1.1", "5.1.0", "5.1.10", "5.2.1"]
ttl_s = 31536000

[[suppress]]
name = "dead-tenant"
scope = "domain"
dsn = "4.4.4"
text = ["no mail-enabled subscriptions"]
threshold = 5
window_s = 86400
ttl_s = 2592000
)";
  Harness h(o);
  h.sink().answer_rcpt([](const std::string& rcpt) -> std::string {
    if (rcpt.starts_with("dead"))
      return "550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown";
    if (rcpt.ends_with(kTenant))
      return "451 4.4.4 Mail received as unauthenticated, incoming to a recipient domain "
             "configured in a hosted tenant which has no mail-enabled subscriptions. ATTR5";
    return "";
  });
  h.start_rampd();

  std::vector<std::string> live, dead, tenant, all;
  for (int i = 0; i < 20; ++i) live.push_back(addr("live", i));
  for (int i = 0; i < 20; ++i) dead.push_back(addr("dead", i));
  for (int i = 0; i < 10; ++i) tenant.push_back(addr("tenant", i));
  for (const auto* v : {&live, &dead, &tenant}) all.insert(all.end(), v->begin(), v->end());

  // The first campaign, through trucking: every recipient accepted.
  auto first = h.submit("trucking", all);
  for (const auto& r : all) ASSERT_TRUE(first.accepted(r)) << r << "\n" << first.transcript;
  for (const auto& r : live) ASSERT_TRUE(h.sink().wait_for_rcpt(r, 30s)) << r;
  // rampd learns the 20 addresses and the tenant's domain.
  ASSERT_TRUE(wait_until(
      [&] {
        return h.redis().cmd({"HLEN", "sg:suppress"}) == "21";
      },
      30s))
      << h.redis().cmd({"HLEN", "sg:suppress"}) << "\n"
      << h.rampd_log();
  EXPECT_NE(h.redis().cmd({"HGET", "sg:{healthcare}:suppress", std::string("d:") + kTenant}),
            "(nil)");
  const std::string log_before = h.postfix().log();
  for (const auto& r : dead) EXPECT_EQ(results_for(log_before, r), 1) << r;

  // The same campaign through healthcare, one message per recipient as
  // Listmonk sends it (Postfix drops a session after 20 refused RCPTs,
  // smtpd_hard_error_limit): refused at RCPT, with the reason.
  std::map<std::string, std::string> second;
  for (const auto& r : all) second[r] = h.submit("healthcare", {r}).reply_to(r);
  for (const auto& r : dead) {
    const auto& reply = second[r];
    // Postfix takes the enhanced status from policyd's reply and names the address.
    EXPECT_TRUE(reply.starts_with("554 5.1.1 <" + r +
                                  ">: Recipient address rejected: streamguard: <" + r +
                                  "> is suppressed: it hard-bounced (550 5.1.1"))
        << reply;
    EXPECT_NE(reply.find("via trucking (rule user-unknown)"), std::string::npos) << reply;
  }
  for (const auto& r : tenant) {
    const auto& reply = second[r];
    EXPECT_TRUE(reply.starts_with("554 5.1.2 <" + r +
                                  ">: Recipient address rejected: streamguard: domain "
                                  "closed-tenant.example is "
                                  "suppressed: its mail failed (451 4.4.4 Mail received as "
                                  "unauthenticated"))
        << reply;
  }
  for (const auto& r : live) EXPECT_TRUE(second[r].starts_with("250")) << second[r];
  for (const auto& r : live)
    ASSERT_TRUE(h.sink().wait_for(
        [&](const SinkMessage& m) { return m.has_rcpt(r) && m.helo == "hcmta01.example.com"; },
        30s))
        << r;
  for (const auto& r : live) EXPECT_EQ(h.sink().messages_to(r).size(), 2u) << r;

  // Nothing new reached a learned address: no new bounce, no new deferral.
  ASSERT_TRUE(wait_drain_rounds(h.rampd_status_socket(), 2, 30s));
  const std::string log_after = h.postfix().log();
  for (const auto& r : dead) EXPECT_EQ(results_for(log_after, r), 1) << r;
  for (const auto& r : tenant) EXPECT_EQ(results_for(log_after, r), results_for(log_before, r));

  // An entry whose time is up is mailable again.
  const std::string field = "a:" + dead[0];
  std::string record = h.redis().cmd({"HGET", "sg:{healthcare}:suppress", field});
  record = "1000" + record.substr(record.find(' '));
  h.redis().cmd({"HSET", "sg:{healthcare}:suppress", field, record});
  auto third = h.submit("healthcare", {dead[0]});
  EXPECT_TRUE(third.accepted(dead[0])) << third.reply_to(dead[0]);
}

}  // namespace
}  // namespace sg::e2e

namespace sg::e2e {
namespace {

CommandResult ctl(const Harness& h, std::vector<std::string> args) {
  std::vector<std::string> argv{SG_CTL_BIN, "suppress"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--config", h.config_path()});
  return run_command(argv, std::chrono::seconds(30));
}

// The operator's side: an entry added by hand is refused by every stream
// with its reason, shown, listed, and taken out again.
TEST(SuppressionE2E, StreamguardctlAddsShowsListsAndRemovesAnEntry) {
  Harness h;
  const std::string rcpt = "frontdesk@old-practice.example";
  auto added = ctl(
      h, {"add", "Old-Practice.example", "--reason", "practice closed in June", "--days", "10"});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  EXPECT_NE(added.output.find("domain old-practice.example: suppressed until "), std::string::npos)
      << added.output;

  for (const char* stream : {"trucking", "healthcare"}) {
    auto s = h.submit(stream, {rcpt});
    EXPECT_NE(s.reply_to(rcpt).find("domain old-practice.example is suppressed: added by hand on "),
              std::string::npos)
        << s.reply_to(rcpt);
    EXPECT_NE(s.reply_to(rcpt).find(": practice closed in June; no stream mails it until "),
              std::string::npos)
        << s.reply_to(rcpt);
  }

  auto shown = ctl(h, {"show", rcpt});
  EXPECT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("address frontdesk@old-practice.example: not suppressed"),
            std::string::npos)
      << shown.output;
  EXPECT_NE(shown.output.find("added by hand"), std::string::npos) << shown.output;

  auto listed = ctl(h, {"list", "--kind", "domain"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("domain\told-practice.example\t"), std::string::npos)
      << listed.output;
  EXPECT_EQ(ctl(h, {"list", "--kind", "address"}).output.find("old-practice"), std::string::npos);

  auto removed = ctl(h, {"remove", "old-practice.example"});
  EXPECT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_TRUE(h.submit("healthcare", {rcpt}).accepted(rcpt));
  EXPECT_EQ(ctl(h, {"show", rcpt}).exit_code, 1);

  auto bad = ctl(h, {"add", "not an address", "--reason", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("is neither an address (name@domain) nor a domain"), std::string::npos)
      << bad.output;
}

}  // namespace
}  // namespace sg::e2e
