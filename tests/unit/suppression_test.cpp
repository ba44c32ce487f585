// The suppression learner (rules/suppression.hpp) on hand-made results, and
// the [[suppress]] section of the config.
#include "rules/suppression.hpp"

#include <gtest/gtest.h>

#include "tests/unit/config_text.hpp"

namespace sg::suppression {
namespace {

constexpr int64_t kS = 1000;
constexpr int64_t kDay = 86400 * kS;

SuppressRule address_rule() {
  SuppressRule r;
  r.name = "user-unknown";
  r.scope = SuppressScope::address;
  r.status = {"bounced"};
  r.dsn = {"5.1.1"};
  r.ttl_s = 365 * 86400;
  return r;
}

SuppressRule tenant_rule() {
  SuppressRule r;
  r.name = "dead-tenant";
  r.scope = SuppressScope::domain;
  r.dsn = {"4.4.4"};
  r.text = {"no mail-enabled subscriptions"};
  r.threshold = 3;
  r.window_s = 5 * 86400;
  r.span_s = 86400;
  r.ttl_s = 30 * 86400;
  return r;
}

breaker::Event bounce(int64_t t, std::string rcpt, std::string dsn = "5.1.1",
                      maillog::Status status = maillog::Status::bounced) {
  breaker::Event e;
  e.time_ms = t;
  e.stream = "healthcare";
  e.status = status;
  e.dsn = std::move(dsn);
  e.recipient = std::move(rcpt);
  e.reply = "550 5.1.1 " + e.recipient + ": Recipient address rejected: User unknown";
  e.text = "host mx[192.0.2.1] said: " + e.reply + " (in reply to RCPT TO command)";
  return e;
}

breaker::Event tenant(int64_t t, std::string rcpt) {
  auto e = bounce(t, std::move(rcpt), "4.4.4", maillog::Status::deferred);
  e.reply =
      "451 4.4.4 Mail received as unauthenticated, incoming to a recipient domain "
      "configured in a hosted tenant which has no mail-enabled subscriptions.";
  e.text = e.reply;
  return e;
}

TEST(SuppressionLearner, OneHardBounceTeachesTheAddressLowerCasedWithItsReason) {
  Learner l({address_rule()});
  auto got = l.record(bounce(5 * kS, "Dr.Who@Clinic.Example"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "dr.who@clinic.example");
  EXPECT_EQ(got[0].scope, SuppressScope::address);
  EXPECT_EQ(got[0].stream, "healthcare");
  EXPECT_EQ(got[0].dsn, "5.1.1");
  EXPECT_EQ(got[0].text.substr(0, 10), "550 5.1.1 ");
  EXPECT_EQ(got[0].learned_ms, 5 * kS);
  EXPECT_EQ(got[0].until_ms, 5 * kS + 365 * kDay);
  EXPECT_EQ(entry_field(got[0].scope, got[0].key), "a:dr.who@clinic.example");
  EXPECT_EQ(l.learned_by_rule().at("user-unknown"), 1u);
}

TEST(SuppressionLearner, RetriesDoNotTeachItAgainUntilItsEntryEnds) {
  auto rule = address_rule();
  rule.ttl_s = 3600;
  Learner l({rule});
  EXPECT_EQ(l.record(bounce(0, "a@b.example")).size(), 1u);
  EXPECT_TRUE(l.record(bounce(60 * kS, "a@b.example")).empty());
  EXPECT_EQ(l.record(bounce(3601 * kS, "a@b.example")).size(), 1u);
  EXPECT_EQ(l.counts().learned, 2u);
}

TEST(SuppressionLearner, OtherStatusesCodesAndAddressWithoutDomainTeachNothing) {
  Learner l({address_rule()});
  EXPECT_TRUE(l.record(bounce(0, "a@b.example", "5.1.1", maillog::Status::deferred)).empty());
  EXPECT_TRUE(l.record(bounce(0, "a@b.example", "5.1.2")).empty());
  EXPECT_TRUE(l.record(bounce(0, "a@b.example", "5.1.10")).empty());  // by component
  EXPECT_TRUE(l.record(bounce(0, "postmaster")).empty());
  EXPECT_TRUE(l.record(bounce(0, "")).empty());  // the expiry line has no recipient
  EXPECT_EQ(l.counts().learned, 0u);
}

TEST(SuppressionLearner, AReputationReplyNeverTeachesEvenWhenTheRuleMatchesIt) {
  auto rule = address_rule();
  rule.dsn = {"5"};  // too broad: would match 5.7.1 too
  Learner l({rule});
  auto e = bounce(0, "a@b.example", "5.7.1");
  e.text = "550 5.7.1 Our system has detected that this message is likely unsolicited mail";
  EXPECT_TRUE(l.record(e).empty());
  auto tss = bounce(0, "c@d.example", "5.0.0");
  tss.text = "554 Message not allowed - [TSS04] see https://postmaster.yahooinc.com";
  EXPECT_TRUE(l.record(tss).empty());
  EXPECT_EQ(l.counts().reputation_ignored, 2u);
  EXPECT_TRUE(is_reputation_reply("4.7.500", "Server busy"));
  EXPECT_TRUE(is_reputation_reply("5.0.0", "on our block list (S3150)"));
  EXPECT_FALSE(is_reputation_reply("5.1.1", "550 5.1.1 User unknown"));
  EXPECT_FALSE(
      is_reputation_reply("4.4.4", "hosted tenant which has no mail-enabled subscriptions"));
}

TEST(SuppressionLearner, ADeadTenantNeedsItsThresholdSpreadOverItsSpan) {
  Learner l({tenant_rule()});
  // Three deferrals in an hour: a bad hour, not a dead tenant.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(l.record(tenant(i * 600 * kS, "x" + std::to_string(i) + "@gone.example")).empty());
  // Still failing a day after the first: learned, for the whole domain.
  auto got = l.record(tenant(kDay, "office@gone.example"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "gone.example");
  EXPECT_EQ(got[0].scope, SuppressScope::domain);
  EXPECT_EQ(got[0].count, 4u);
  EXPECT_EQ(got[0].until_ms, kDay + 30 * kDay);
}

TEST(SuppressionLearner, AWindowThatPassesStartsTheCountAgain) {
  Learner l({tenant_rule()});
  EXPECT_TRUE(l.record(tenant(0, "a@gone.example")).empty());
  EXPECT_TRUE(l.record(tenant(kDay / 2, "a@gone.example")).empty());
  // Six days later: the first window (5 days) has passed; this one starts anew.
  EXPECT_TRUE(l.record(tenant(6 * kDay, "a@gone.example")).empty());
  EXPECT_TRUE(l.record(tenant(7 * kDay, "a@gone.example")).empty());
  EXPECT_EQ(l.record(tenant(7 * kDay + 1, "a@gone.example")).size(), 1u);
}

TEST(SuppressionLearner, ADeliveryToTheDomainShowsItAlive) {
  Learner l({tenant_rule()});
  EXPECT_TRUE(l.record(tenant(0, "a@flaky.example")).empty());
  EXPECT_TRUE(l.record(tenant(kDay / 2, "a@flaky.example")).empty());
  auto sent = bounce(kDay / 2 + 1, "b@flaky.example", "2.0.0", maillog::Status::sent);
  EXPECT_TRUE(l.record(sent).empty());
  // The count starts again after the delivery: two more do not reach three.
  EXPECT_TRUE(l.record(tenant(kDay, "a@flaky.example")).empty());
  EXPECT_TRUE(l.record(tenant(2 * kDay, "a@flaky.example")).empty());
  EXPECT_EQ(l.record(tenant(2 * kDay + 1, "a@flaky.example")).size(), 1u);
}

TEST(SuppressionLearner, CellsAreBoundedAndWhatDoesNotFitIsCounted) {
  auto rule = tenant_rule();
  Learner l({rule}, Learner::Limits{2});
  EXPECT_TRUE(l.record(tenant(0, "a@one.example")).empty());
  EXPECT_TRUE(l.record(tenant(0, "a@two.example")).empty());
  EXPECT_TRUE(l.record(tenant(0, "a@three.example")).empty());
  EXPECT_EQ(l.counts().dropped, 1u);
  // Once the first windows have passed, their cells make room.
  EXPECT_TRUE(l.record(tenant(6 * kDay, "a@three.example")).empty());
  EXPECT_EQ(l.counts().dropped, 1u);
}

TEST(SuppressionLearner, TheReplyIsKeptAsOneAsciiLineWithoutContinuationMarkers) {
  Learner l({address_rule()});
  auto e = bounce(0, "a@b.example");
  e.reply =
      "550-5.1.1 The email account that you tried to reach does not exist. 550-5.1.1 "
      "Please try double-checking. 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser "
      "caf\xc3\xa9";
  auto got = l.record(e);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text,
            "550-5.1.1 The email account that you tried to reach does not exist. Please try "
            "double-checking. https://support.google.com/mail/?p=NoSuchUser caf??");

  Learner l2({address_rule()});
  auto longer = bounce(0, "c@d.example");
  longer.reply = "550 5.1.1 " + std::string(400, 'x');
  auto cut = l2.record(longer);
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(cut[0].text.size(), kMaxEntryText + 3);
  EXPECT_TRUE(cut[0].text.ends_with("x..."));
}

TEST(SuppressConfig, ParsesARuleWithListsAndReportsMistakesByLine) {
  auto ok = testing::parse_text(R"(
[[stream]]
name = "a"
ports = [25]

[[suppress]]
name = "gone"
scope = "domain"
dsn = ["4.4.4", "5.4.1"]
text = "tenant"
threshold = 3
window_s = 432000
span_s = 86400
ttl_s = 2592000
)");
  ASSERT_TRUE(ok.config) << testing::all_errors(ok);
  const auto& r = ok.config->suppress.at(0);
  EXPECT_EQ(r.scope, SuppressScope::domain);
  EXPECT_EQ(r.dsn, (std::vector<std::string>{"4.4.4", "5.4.1"}));
  EXPECT_EQ(r.text, (std::vector<std::string>{"tenant"}));
  EXPECT_EQ(r.span_s, 86400u);

  auto bad = testing::parse_text(R"(
[[stream]]
name = "a"
ports = [25]

[[suppress]]
name = "rep"
dsn = ["5.1.1", "5.7.1"]
text = []
window_s = 60
span_s = 3600
)");
  ASSERT_FALSE(bad.config);
  const auto errors = testing::all_errors(bad);
  const std::string f = testing::kConfigFile;
  EXPECT_NE(errors.find(f + ":5:1: suppress rule 'rep' needs 'scope'"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(f + ":5:1: suppress rule 'rep' needs 'ttl_s'"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("matches dsn 5.7.1, a security or policy status"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(":8:8: 'text' must name at least one entry"), std::string::npos) << errors;
  EXPECT_NE(errors.find("span_s (3600) is longer than window_s (60)"), std::string::npos) << errors;
}

}  // namespace
}  // namespace sg::suppression
