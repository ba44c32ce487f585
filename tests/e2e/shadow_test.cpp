// End to end: a stream in shadow mode, on the real Postfix with OpenDKIM and
// the milter, as `streamguardctl postfix-conf` renders it. Nothing is
// refused because of streamguard, and every refusal it would have made is
// logged (the backstop's reject_warning, policyd's and the milter's would=)
// and counted (their streamguard_*_shadow_total). The stream beside it still enforces.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

using sg::testing::contains;

// policyd's decision line for a recipient domain ("" if none).
std::string decision_for(const std::string& log, const std::string& domain) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (contains(line, " decision ") && contains(line, "rcpt_domain=" + domain + " ")) return line;
  return "";
}

TEST(ShadowE2E, AShadowStreamRefusesNothingAndLogsWhatItWouldHaveRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  HarnessOptions o;
  o.milter = true;
  // OpenDKIM will not sign for the submitting client (127.0.0.1): the
  // milter's DKIM check would tempfail the message.
  o.opendkim_internal_hosts = "172.16.0.0/12\n";
  o.trucking = "mode = \"shadow\"\ndaily_cap = 1\nover_cap = \"hold\"\n";
  Harness h(o);

  // Yahoo is on the backstop, the second fleet address is over the daily cap
  // of 1, and the message would leave unsigned.
  const std::string yahoo = "someone@yahoo.com", first = "a@fleet-one.example",
                    second = "b@fleet-two.example";
  auto s = h.submit("trucking", {yahoo, first, second});
  for (const auto& r : {yahoo, first, second})
    EXPECT_TRUE(s.accepted(r)) << r << "\n" << s.transcript;
  ASSERT_FALSE(s.queue_id.empty()) << s.transcript << h.milter_log();
  for (const auto& r : {yahoo, first, second})
    EXPECT_TRUE(h.sink().wait_for_rcpt(r, 20s)) << r << "\n" << h.postfix().log();
  const auto got = h.sink().messages_to(first);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(contains(got[0].data, "X-Streamguard-Stream")) << "stream tag left the MTA";

  // What it would have done, each where an operator looks.
  EXPECT_TRUE(contains(h.postfix().log(), "reject_warning: RCPT from")) << h.postfix().log();
  EXPECT_TRUE(contains(h.postfix().log(), "<someone@yahoo.com>")) << h.postfix().log();
  const std::string policyd = h.policyd_log();
  EXPECT_TRUE(contains(policyd, "stream=trucking rcpt_domain=yahoo.com")) << policyd;
  EXPECT_TRUE(contains(policyd, "action=dunno would=reject")) << policyd;
  EXPECT_TRUE(contains(policyd, "rcpt_domain=fleet-two.example")) << policyd;
  EXPECT_TRUE(contains(policyd, "action=dunno would=hold")) << policyd;
  EXPECT_TRUE(contains(h.milter_log(), "stream=trucking")) << h.milter_log();
  EXPECT_TRUE(contains(h.milter_log(), "result=accept would=tempfail")) << h.milter_log();

  // And counted, where Prometheus reads: one would-be refusal each.
  const std::string policy_metrics = http_get_unix(h.policyd_status_socket(), "/metrics");
  EXPECT_TRUE(contains(policy_metrics,
                       "streamguard_policy_shadow_total{stream=\"trucking\","
                       "would=\"reject\",reason=\"excluded:yahoo_family\"} 1\n"))
      << policy_metrics;
  EXPECT_TRUE(contains(policy_metrics,
                       "streamguard_policy_shadow_total{stream=\"trucking\","
                       "would=\"hold\",reason=\"over_cap:daily\"} 1\n"))
      << policy_metrics;
  const std::string milter_metrics = http_get_unix(h.milter_status_socket(), "/metrics");
  EXPECT_TRUE(contains(milter_metrics,
                       "streamguard_milter_shadow_total{stream=\"trucking\","
                       "would=\"tempfail\"} 1\n"))
      << milter_metrics;
  EXPECT_TRUE(contains(milter_metrics, "streamguard_build_info{daemon=\"streamguard-milter\","))
      << milter_metrics;

  // The enforcing stream beside it still refuses.
  auto e = h.submit("healthcare", {yahoo});
  EXPECT_TRUE(contains(e.reply_to(yahoo), "554 5.7.1")) << e.transcript;
}

// `streamguardctl enforce STREAM` turns a watching stream on in one command
// (config line, daemons reloaded, Postfix applied); `shadow STREAM` back.
TEST(ShadowE2E, EnforceTurnsAShadowStreamOnInOneCommandAndShadowTurnsItBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  HarnessOptions o;
  o.trucking = "mode = \"shadow\"\ndaily_cap = 1\nover_cap = \"hold\"\n";
  Harness h(o);
  h.start_rampd();
  auto ctl = [&](const char* command) {
    return run_command({SG_CTL_BIN, command, "trucking", "--config", h.config_path(),
                        "--postfix-config", h.postfix().config_dir()},
                       120s);
  };
  const std::string yahoo = "someone@yahoo.com", config_before = slurp(h.config_path());
  EXPECT_TRUE(h.submit("trucking", {yahoo, "a@fleet-one.example"}).accepted(yahoo));

  auto on = ctl("enforce");
  ASSERT_EQ(on.exit_code, 0) << on.output;
  EXPECT_TRUE(contains(on.output, "mode = \"shadow\"  ->  mode = \"enforce\"")) << on.output;
  for (const char* step : {"streamguard-policyd (pid ", "streamguard-rampd (pid ",
                           "postfix reload: done", "stream trucking enforces"})
    EXPECT_TRUE(contains(on.output, step)) << step << "\n" << on.output;
  std::string expected = config_before;
  expected.replace(expected.find("mode = \"shadow\""), 15, "mode = \"enforce\"");
  EXPECT_EQ(slurp(h.config_path()), expected) << "only the stream's mode line changes";

  // Enforced: the backstop refuses at RCPT, policyd holds over the cap.
  auto s = h.submit("trucking", {yahoo, "b@fleet-two.example"});
  EXPECT_TRUE(contains(s.reply_to(yahoo), "554 5.7.1")) << s.transcript;
  const std::string held = decision_for(h.policyd_log(), "fleet-two.example");
  EXPECT_TRUE(contains(held, "action=hold reason=over_cap:daily")) << h.policyd_log();
  EXPECT_FALSE(contains(held, "would=")) << held;

  auto off = ctl("shadow");
  ASSERT_EQ(off.exit_code, 0) << off.output;
  EXPECT_EQ(slurp(h.config_path()), config_before);
  EXPECT_TRUE(h.submit("trucking", {yahoo}).accepted(yahoo)) << h.postfix().log();
}

}  // namespace
}  // namespace sg::e2e
