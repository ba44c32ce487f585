// End to end: streamguard in a Postfix that carries more than the streams.
// Besides the two stream services, the harness's Postfix has the operator's
// own submission service (staff, applications; SASL), inbound mail for the
// host's own domain, and pickup (cron mail, sendmail). `streamguardctl postfix-conf` is rendered
// against that Postfix's own settings (postconf -c), and what it adds applies to the stream
// services only: the other paths get no policy request, no milter and no content_filter, while the
// stream ports stay enforced.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/operator_paths.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

using sg::testing::contains;

HarnessOptions with_milter() {
  HarnessOptions o;
  o.milter = true;
  return o;
}

TEST(ScopedE2E, TheOperatorsOwnPathsAreLeftAloneWhileTheStreamsAreEnforced) {
  Harness h(with_milter());
  // On a stream port the backstop refuses the Yahoo family at RCPT.
  auto stream = h.submit("trucking", {"someone@yahoo.com"});
  EXPECT_TRUE(contains(stream.reply_to("someone@yahoo.com"), "554 5.7.1")) << stream.transcript;
  // Staff submission (with its SASL login), inbound mail and pickup: as the
  // operator's Postfix would without streamguard (operator_paths.hpp).
  expect_operator_paths_untouched(h, "rendered");
}

TEST(ScopedE2E, MainCfKeepsItsOwnSettingsAndTheStreamServicesComposeWithThem) {
  Harness h;
  auto& pf = h.postfix();
  auto global = pf.command("postconf", {"-h", "smtpd_recipient_restrictions", "smtpd_milters"});
  ASSERT_EQ(global.exit_code, 0) << global.output;
  EXPECT_EQ(global.output, "permit_mynetworks, reject_unauth_destination\n\n") << global.output;
  // The stream service's list: streamguard's, then the operator's.
  auto scoped = pf.command("postconf", {"-h", "streamguard_recipient_restrictions"});
  EXPECT_TRUE(contains(scoped.output, "check_recipient_access regexp:")) << scoped.output;
  EXPECT_TRUE(contains(scoped.output,
                       "policy_context=streamguard } permit_mynetworks, "
                       "reject_unauth_destination"))
      << scoped.output;
  // postconf finds nothing to warn about: every streamguard_* parameter is
  // used by a stream service.
  auto n = pf.command("postconf", {"-n"});
  EXPECT_FALSE(contains(n.output, "warning")) << n.output;
}

}  // namespace
}  // namespace sg::e2e
