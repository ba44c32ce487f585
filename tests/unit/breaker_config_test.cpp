// How log lines become breaker events (stream by transport, operator by
// relay) and how [[breaker]] rules are read from the config, with errors
// that name the file, line and column.
#include "rules/breaker.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "formats/maillog.hpp"
#include "tests/unit/breaker_test_support.hpp"
#include "tests/unit/config_text.hpp"

namespace sg::breaker {
namespace {

using namespace breaker_test;

// ---------------------------------------------------------------- events from log lines

TEST(BreakerMapper, StreamFromTransportOperatorFromRelay) {
  EventMapper m(*config());
  const auto yahoo = corpus("yahoo.log");
  ASSERT_GE(yahoo.size(), 4u);
  EXPECT_EQ(m.stream_for(yahoo[0]), "healthcare");
  EXPECT_EQ(m.operator_for(yahoo[0]), "yahoo") << "relay mta6.am0.yahoodns.net";
  // A custom domain on Yahoo's MX is Yahoo by its relay.
  EXPECT_EQ(m.operator_for(yahoo[2]), "yahoo") << yahoo[2].recipient;
  // att.net's MX (prodigy.net) is no known suffix: the recipient domain tells.
  EXPECT_EQ(m.operator_for(yahoo[3]), "yahoo") << yahoo[3].relay_host;

  const auto ms = corpus("microsoft.log");
  EXPECT_EQ(m.stream_for(ms[0]), "trucking");
  EXPECT_EQ(m.operator_for(ms[0]), "microsoft") << "a custom domain on M365";

  const auto other = corpus("timeouts-expired.log");
  // relay=none: the MX that timed out is named in the detail.
  EXPECT_EQ(other[2].relay_host, "");
  EXPECT_EQ(m.operator_for(other[2]), "yahoo");
  EXPECT_EQ(m.operator_for(other[0]), "");
  // The queue manager's expiry line is of no stream.
  EXPECT_EQ(other[5].status, maillog::Status::expired);
  EXPECT_FALSE(m.event(other[5], kT0));

  auto e = m.event(yahoo[0], kT0);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stream, "healthcare");
  EXPECT_EQ(e->op, "yahoo");
  EXPECT_EQ(e->dsn, "4.7.0");
  EXPECT_EQ(e->status, maillog::Status::deferred);
  EXPECT_EQ(e->time_ms, kT0);
  EXPECT_NE(e->text.find("[TSS04]"), std::string::npos);
}

TEST(BreakerMapper, UppercaseRelayHost) {
  EventMapper m(*config());
  maillog::Delivery d;
  d.syslog_name = "postfix/out05/smtp";
  d.relay_host = "ALT1.ASPMX.L.GOOGLE.com";
  d.recipient = "a@example.org";
  EXPECT_EQ(m.operator_for(d), "google");
  d.syslog_name = "postfix/smtp";
  EXPECT_EQ(m.stream_for(d), "");
}

// ---------------------------------------------------------------- [[breaker]] in the config

TEST(BreakerConfig, ParsesRulesAndDefaults) {
  const auto& rules = config()->breakers;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "yahoo-tss04");
  EXPECT_EQ(rules[0].op, "yahoo");
  EXPECT_EQ(rules[0].dsn, (std::vector<std::string>{"4.7"}));
  EXPECT_EQ(rules[0].text, (std::vector<std::string>{"tss04"}));
  EXPECT_EQ(rules[0].status, (std::vector<std::string>{"deferred", "bounced"}));
  EXPECT_EQ(rules[0].threshold, 5u);
  EXPECT_EQ(rules[0].window_s, 600u);
  EXPECT_EQ(rules[0].action, BreakerAction::hold);
  EXPECT_EQ(rules[0].cooldown_s, 3600u);
  EXPECT_EQ(rules[0].recovery_s, 1800u);
  EXPECT_EQ(rules[1].status, (std::vector<std::string>{"bounced"}));
  EXPECT_EQ(rules[1].action, BreakerAction::freeze_ramp);
  EXPECT_EQ(rules[1].recovery_s, 0u);

  auto r = testing::parse_text(R"(
[[stream]]
name = "a"
ports = [25]

[[breaker]]
name = "min"
operator = "any"
threshold = 1
window_s = 1
)");
  ASSERT_TRUE(r.config) << testing::all_errors(r);
  const auto& b = r.config->breakers.at(0);
  EXPECT_EQ(b.op, "");
  EXPECT_TRUE(b.dsn.empty());
  EXPECT_TRUE(b.text.empty());
  EXPECT_EQ(b.action, BreakerAction::defer);
  EXPECT_EQ(b.cooldown_s, 3600u);
  EXPECT_STREQ(to_string(BreakerAction::freeze_ramp), "freeze_ramp");
}

void expect_errors(std::string_view text, const std::vector<std::string>& expected) {
  auto r = testing::parse_text(text);
  EXPECT_EQ(r.config, nullptr);
  std::vector<std::string> got;
  for (const auto& e : r.errors) got.push_back(e.to_string());
  EXPECT_EQ(got, expected);
}

TEST(BreakerConfig, ErrorsNameFileLineColumn) {
  const std::string f = testing::kConfigFile;
  expect_errors(R"(
[operators.yahoo]
domains = ["yahoo.com"]

[[stream]]
name = "a"
ports = [25]

[[breaker]]
name = "one"
operator = "yahooo"
dsn = "4.7."
text = ""
status = ["deferred", "queued"]
threshold = 0
window_s = 600
action = "reject"
colour = 1

[[breaker]]
name = "one"
window_s = 60
)",
                {
                    f + ":17:10: unknown key 'colour' in [[breaker]] (known: name, operator, dsn, "
                        "text, status, threshold, window_s, action, cooldown_s, recovery_s)",
                    f + ":10:12: 'operator' names operator 'yahooo', which no "
                        "[operators.yahooo] table defines (or \"any\")",
                    f + ":11:7: 'dsn' is \"4.7.\", must be an enhanced status or a prefix of one "
                        "(e.g. \"5.7.1\", \"4.7\")",
                    f + ":12:8: 'text' must be 1-200 characters",
                    f + ":13:10: 'status' names \"queued\", must be \"sent\", \"deferred\", "
                        "\"bounced\" or \"expired\"",
                    f + ":14:13: 'threshold' is 0, must be from 1 to 10000",
                    f + ":16:10: 'action' is \"reject\", must be one of \"defer\", \"hold\", "
                        "\"freeze_ramp\"",
                    f + ":19:1: breaker 'one' needs 'threshold'",
                    f + ":20:8: breaker name 'one' is used twice",
                });
  expect_errors(R"(
breaker = 1
[[stream]]
name = "a"
ports = [25]
)",
                {f + ":1:11: 'breaker' must be an array of tables: write [[breaker]]"});
}

}  // namespace
}  // namespace sg::breaker
