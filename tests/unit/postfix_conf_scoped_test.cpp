// streamguardctl postfix-conf keeps to the stream services: main.cf gets no
// parameter of Postfix's own, the operator's restrictions still follow
// streamguard's, relaying stays refused, a shadow stream only logs, and a
// stream on port 25 of every address is refused.
#include <gtest/gtest.h>

#include <string>

#include "common/config.hpp"
#include "ctl/postfix_conf.hpp"
#include "tests/unit/postfix_conf_test_support.hpp"

namespace sg {
namespace {

TEST(PostfixConfScoped, MainCfSetsNoParameterOfPostfixsOwn) {
  auto cfg = parse_ok(std::string(kTwoStreams) + R"(
[policyd]
commit = "end_of_message"
[milter]
listen = "unix:/var/spool/postfix/private/streamguard-milter"
opendkim_conf = "/etc/opendkim.conf"
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  std::istringstream lines(conf.main_cf);
  int assignments = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#' || line[0] == ' ') continue;
    ++assignments;
    EXPECT_TRUE(line.starts_with("streamguard_")) << line;
  }
  // recipient, end of data, milters, macros, egress header checks
  EXPECT_EQ(assignments, 5) << conf.main_cf;
  EXPECT_TRUE(contains(conf.master_cf,
                       "  -o smtpd_milters=$streamguard_milters\n"
                       "  -o milter_connect_macros=$streamguard_milter_connect_macros\n"
                       "  -o milter_macro_daemon_name=trucking\n"
                       "  -o milter_default_action=tempfail\n"
                       "  -o milter_protocol=6\n"))
      << conf.master_cf;
}

TEST(PostfixConfScoped, TheOperatorsOwnRestrictionsFollowStreamguards) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  CurrentPostfix now;
  now.recipient_restrictions = "permit_sasl_authenticated, check_client_access $mua_clients";
  now.source = "postconf -c /etc/postfix";
  const std::string m = render_postfix_conf(*cfg, {}, now).main_cf;
  EXPECT_TRUE(contains(m,
                       "policy_context=streamguard }\n"
                       "    permit_sasl_authenticated, check_client_access $mua_clients\n"))
      << m;
  EXPECT_TRUE(contains(m, "as postconf -c /etc/postfix\n")) << m;
}

TEST(PostfixConfScoped, WithoutAnyRelayRestrictionsTheStreamServicesStillRefuseRelaying) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  CurrentPostfix now;
  now.relay_restrictions = "";  // a main.cf from before Postfix 2.10
  const std::string m = render_postfix_conf(*cfg, {}, now).main_cf;
  EXPECT_TRUE(contains(m,
                       "policy_context=streamguard }\n"
                       "    permit_mynetworks\n"
                       "    permit_sasl_authenticated\n"
                       "    reject_unauth_destination\n"))
      << m;
}

TEST(PostfixConfScoped, AShadowStreamOnlyLogsAndLetsMailPassWhenStreamguardIsDown) {
  auto cfg = parse_ok(std::string(kTwoStreams) + R"(
[milter]
listen = "unix:/var/spool/postfix/private/streamguard-milter"
opendkim_conf = "/etc/opendkim.conf"
)");
  ASSERT_TRUE(cfg);
  auto shadowed = *cfg;
  shadowed.streams[1].mode = StreamMode::shadow;  // healthcare
  const auto conf = render_postfix_conf(shadowed, {});
  EXPECT_TRUE(contains(conf.main_cf,
                       "streamguard_shadow_recipient_restrictions =\n"
                       "    warn_if_reject check_recipient_access regexp:"
                       "/etc/postfix/streamguard-backstop.regexp\n"
                       "    check_policy_service { unix:private/streamguard, timeout=10s, "
                       "default_action=DUNNO, policy_context=streamguard }\n"))
      << conf.main_cf;
  const auto healthcare = conf.master_cf.substr(conf.master_cf.find("\n2526 "));
  EXPECT_TRUE(
      contains(healthcare.substr(0, healthcare.find("\n25", 1)),
               "  -o smtpd_recipient_restrictions=$streamguard_shadow_recipient_restrictions\n"
               "  -o smtpd_milters=$streamguard_milters\n"
               "  -o milter_connect_macros=$streamguard_milter_connect_macros\n"
               "  -o milter_macro_daemon_name=healthcare\n"
               "  -o milter_default_action=accept\n"))
      << conf.master_cf;
  // trucking still enforces.
  EXPECT_TRUE(contains(conf.master_cf,
                       "2525      inet  n       -       y       -       -       smtpd\n"
                       "  -o syslog_name=postfix/trucking\n"
                       "  -o content_filter=out05:\n"
                       "  -o smtpd_recipient_restrictions=$streamguard_recipient_restrictions\n"))
      << conf.master_cf;
  EXPECT_TRUE(contains(conf.master_cf,
                       "# 2526 -> stream healthcare -> transport "
                       "sg-healthcare  (shadow)\n"))
      << conf.master_cf;
  EXPECT_FALSE(contains(render_postfix_conf(*cfg, {}).main_cf, "shadow"))
      << "no stream in shadow, no shadow list";
}

TEST(PostfixConfScoped, AStreamOnPort25OfEveryAddressIsRefused) {
  auto cfg = parse_ok(R"(
[[stream]]
name = "trucking"
ports = [25]
postfix = { transport = "out05" }
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  ASSERT_EQ(conf.errors.size(), 1u);
  EXPECT_TRUE(contains(conf.errors[0], "stream trucking submits on port 25 on every address"))
      << conf.errors[0];
  EXPECT_TRUE(contains(conf.errors[0], "inbound mail")) << conf.errors[0];
  EXPECT_TRUE(contains(conf.errors[0], "[postfix] listen_address")) << conf.errors[0];
}

TEST(PostfixConfScoped, Port25OnItsOwnAddressWarnsWhenInetInterfacesTakesThatAddressToo) {
  auto cfg = parse_ok(R"(
[postfix]
listen_address = "172.18.0.1"
[[stream]]
name = "trucking"
ports = [25]
)");
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(render_postfix_conf(*cfg, {}).errors.empty());
  EXPECT_TRUE(render_postfix_conf(*cfg, {}).warnings.empty()) << "inet_interfaces unknown";
  for (const std::string interfaces : {"all", "127.0.0.1, 172.18.0.1", "172.18.0.1"}) {
    CurrentPostfix now;
    now.inet_interfaces = interfaces;
    const auto conf = render_postfix_conf(*cfg, {}, now);
    ASSERT_EQ(conf.warnings.size(), 1u) << interfaces;
    EXPECT_TRUE(contains(conf.warnings[0], "172.18.0.1:smtp cannot bind")) << conf.warnings[0];
  }
  CurrentPostfix apart;
  apart.inet_interfaces = "203.0.113.5, 127.0.0.1";
  EXPECT_TRUE(render_postfix_conf(*cfg, {}, apart).warnings.empty());
}

}  // namespace
}  // namespace sg
