// End to end: streamguard in a Postfix that carries more than the streams.
// Besides the two stream services, the harness's Postfix has the operator's
// own submission service (staff, applications) and pickup (cron mail,
// sendmail). `streamguardctl postfix-conf` is rendered against that
// Postfix's own settings (postconf -c), and what it adds applies to the
// stream services only: the other paths get no policy request, no milter
// and no content_filter, while the stream ports stay enforced.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The maillog lines of one queue id.
std::string lines_of(const std::string& log, const std::string& queue_id) {
  std::string out;
  std::size_t at = 0;
  while (at < log.size()) {
    const auto nl = log.find('\n', at);
    const std::string line = log.substr(at, nl == std::string::npos ? nl : nl - at + 1);
    if (contains(line, " " + queue_id + ":")) out += line;
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}

HarnessOptions with_milter() {
  HarnessOptions o;
  o.milter = true;
  return o;
}

TEST(ScopedE2E, TheOperatorsOwnSubmissionServiceIsLeftAlone) {
  Harness h(with_milter());
  // On a stream port the backstop refuses the Yahoo family at RCPT.
  auto stream = h.submit("trucking", {"someone@yahoo.com"});
  EXPECT_TRUE(contains(stream.reply_to("someone@yahoo.com"), "554 5.7.1")) << stream.transcript;

  // The same recipients through staff submission: accepted and delivered as
  // the operator's Postfix would without streamguard.
  const std::string yahoo = "colleague@yahoo.com", gmail = "friend@gmail.com";
  auto staff = h.submit("staff", {yahoo, gmail});
  ASSERT_TRUE(staff.accepted(yahoo)) << staff.transcript;
  ASSERT_TRUE(staff.accepted(gmail)) << staff.transcript;
  ASSERT_FALSE(staff.queue_id.empty()) << staff.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt(yahoo, 20s)) << h.postfix().log();
  ASSERT_TRUE(h.sink().wait_for_rcpt(gmail, 20s)) << h.postfix().log();

  // No policy request, no milter, no stream transport.
  EXPECT_FALSE(contains(h.policyd_log(), "queue_id=" + staff.queue_id)) << h.policyd_log();
  const auto got = h.sink().messages_to(yahoo);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(contains(got[0].data, "X-Streamguard-Stream")) << got[0].data;
  EXPECT_FALSE(contains(got[0].data, "DKIM-Signature")) << "OpenDKIM is a stream milter here";
  // The sink has the message before the smtp client logs its delivery.
  std::string lines;
  EXPECT_TRUE(wait_until(
      [&] {
        lines = lines_of(h.postfix().log(), staff.queue_id);
        return contains(lines, "status=sent") && contains(lines, "removed");
      },
      20s))
      << lines;
  EXPECT_TRUE(contains(lines, "postfix/smtp[")) << lines;  // the default transport
  EXPECT_FALSE(contains(lines, "postfix/out05")) << lines;
  EXPECT_FALSE(contains(lines, "postfix/hcout1")) << lines;
  EXPECT_FALSE(contains(lines, "milter")) << lines;
}

TEST(ScopedE2E, PickupMailIsLeftAlone) {
  Harness h(with_milter());
  // sendmail -bs: the message goes in through postdrop and pickup, as cron
  // mail does. (swaks talks SMTP to it over a pipe.)
  const std::string to = "ops@clinic.example";
  auto r = run_command({find_tool("swaks"), "--pipe",
                        find_tool("sendmail") + " -C " + h.postfix().config_dir() + " -bs",
                        "--from", "cron@e2e.test", "--to", to, "--suppress-data"},
                       30s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, 20s)) << h.postfix().log();
  const auto got = h.sink().messages_to(to);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(contains(got[0].data, "X-Streamguard-Stream")) << got[0].data;
  EXPECT_FALSE(contains(h.policyd_log(), "rcpt_domain=clinic.example")) << h.policyd_log();
  EXPECT_FALSE(contains(h.milter_log(), "client=")) << h.milter_log();
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
