// streamguardctl postfix-conf's main.cf and master.cf fragments: a service
// per port and a transport per stream, listen and bind addresses, the
// backstop before the policy service, the end-of-data check when policyd
// commits there, and the warning when policyd is not where smtpd asks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config.hpp"
#include "ctl/postfix_conf.hpp"
#include "tests/unit/postfix_conf_test_support.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- main.cf and master.cf

TEST(PostfixConf, BackstopListsAreThoseEveryStreamExcludesInTheFirstStreamsOrder) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  EXPECT_EQ(backstop_lists(*cfg), (std::vector<std::string>{"dead_isp", "yahoo_family"}));
}

TEST(PostfixConf, MasterCfHasAServicePerPortAndATransportPerStream) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  const std::string& m = conf.master_cf;
  const std::string scoped =
      "  -o smtpd_recipient_restrictions=$streamguard_recipient_restrictions\n";
  EXPECT_TRUE(contains(m,
                       "2525      inet  n       -       y       -       -       smtpd\n"
                       "  -o syslog_name=postfix/trucking\n"
                       "  -o content_filter=out05:\n" +
                           scoped +
                           "2527      inet  n       -       y       -       -       smtpd\n"
                           "  -o syslog_name=postfix/trucking\n"
                           "  -o content_filter=out05:\n" +
                           scoped +
                           "2526      inet  n       -       y       -       -       smtpd\n"
                           "  -o syslog_name=postfix/healthcare\n"
                           "  -o content_filter=sg-healthcare:\n" +
                           scoped))
      << m;
  EXPECT_TRUE(contains(m,
                       "out05     unix  -       -       y       -       -       smtp\n"
                       "  -o syslog_name=postfix/out05\n"
                       "  -o smtp_bind_address=192.0.2.94\n"
                       "  -o smtp_helo_name=mta05.example.com\n"
                       "sg-healthcare unix  -       -       y       -       -       smtp\n"
                       "  -o syslog_name=postfix/sg-healthcare\n"))
      << m;
  EXPECT_FALSE(contains(m, "sg-healthcare\n  -o smtp_bind")) << "no address: none rendered";
  EXPECT_TRUE(contains(m,
                       "# 2525 -> stream trucking   -> transport out05\n"
                       "# 2527 -> stream trucking   -> transport out05\n"
                       "# 2526 -> stream healthcare -> transport sg-healthcare\n"))
      << m;
}

TEST(PostfixConf, ListenAddressChrootAndIpv6Bind) {
  auto cfg = parse_ok(R"(
[postfix]
listen_address = "127.0.0.1"
chroot = false
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "t6", bind_address = "2001:db8::25" }
[[stream]]
name = "b"
ports = [10025]
)");
  ASSERT_TRUE(cfg);
  const std::string m = render_postfix_conf(*cfg, {}).master_cf;
  EXPECT_TRUE(contains(m, "127.0.0.1:smtp inet  n       -       n       -       -       smtpd\n"))
      << m;
  EXPECT_TRUE(contains(m, "127.0.0.1:10025 inet  n       -       n       -       -       smtpd\n"))
      << m;
  EXPECT_TRUE(contains(m,
                       "t6        unix  -       -       n       -       -       smtp\n"
                       "  -o syslog_name=postfix/t6\n"
                       "  -o smtp_bind_address6=2001:db8::25\n"))
      << m;
  PostfixConfig v6;
  v6.listen_address = "::1";
  EXPECT_EQ(submission_service(v6, 2526), "[::1]:2526");
}

TEST(PostfixConf, MainCfPutsTheBackstopBeforeThePolicyService) {
  auto cfg = parse_ok(R"(
[postfix]
policy_service = "inet:127.0.0.1:10040"
policy_timeout = "30s"
default_action = "HOLD"
backstop_dir = "/etc/postfix/streamguard/"
[policyd]
listen = "inet:127.0.0.1:10040"
[[stream]]
name = "a"
ports = [2525]
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  // With a stock main.cf (no smtpd_recipient_restrictions of its own), the
  // list ends with policyd: relay control is smtpd_relay_restrictions'.
  EXPECT_TRUE(contains(conf.main_cf,
                       "streamguard_recipient_restrictions =\n"
                       "    check_recipient_access "
                       "regexp:/etc/postfix/streamguard/streamguard-backstop.regexp\n"
                       "    check_policy_service { inet:127.0.0.1:10040, timeout=30s, "
                       "default_action=HOLD, policy_context=streamguard }\n\n"))
      << conf.main_cf;
  EXPECT_FALSE(contains(conf.main_cf, "end_of_data_restrictions")) << conf.main_cf;
  EXPECT_FALSE(contains(conf.master_cf, "end_of_data_restrictions")) << conf.master_cf;
  EXPECT_TRUE(conf.warnings.empty());
  ASSERT_EQ(conf.maps.size(), 1u);
  EXPECT_EQ(conf.maps[0].file, "streamguard-backstop.regexp");
}

TEST(PostfixConf, CommitAtEndOfMessageAsksPolicydAgainAtEndOfData) {
  auto cfg = parse_ok(R"(
[policyd]
commit = "end_of_message"
[[stream]]
name = "a"
ports = [2525]
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  EXPECT_TRUE(contains(conf.main_cf,
                       "streamguard_end_of_data_restrictions =\n"
                       "    check_policy_service { unix:private/streamguard, timeout=10s, "
                       "default_action=DEFER_IF_PERMIT, policy_context=streamguard }\n"))
      << conf.main_cf;
  EXPECT_TRUE(
      contains(conf.master_cf,
               "  -o smtpd_end_of_data_restrictions=$streamguard_end_of_data_restrictions\n"))
      << conf.master_cf;
}

// Every assignment in main.cf.fragment is one of streamguard's own
// parameters: merging it changes no Postfix setting, so no service but the

TEST(PostfixConf, WarnsWhenPolicydDoesNotListenWhereSmtpdConnects) {
  auto cfg = parse_ok(R"(
[policyd]
listen = "unix:/var/spool/postfix/private/other"
[[stream]]
name = "a"
ports = [2525]
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  ASSERT_EQ(conf.warnings.size(), 1u);
  EXPECT_TRUE(contains(conf.warnings[0], "unix:private/streamguard")) << conf.warnings[0];
}

}  // namespace
}  // namespace sg
