// End to end with a real OpenDKIM before streamguard-milter in smtpd_milters
// (as `streamguardctl postfix-conf` renders them): mail OpenDKIM signs leaves
// signed; mail it would not sign is refused instead of leaving unsigned;
// content hygiene gets the stream's configured action; a refused message's
// charge comes back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/status_probe.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

// Every test runs once per engine: [milter] engine = "libmilter" (the
// default) and "asio".
class MilterE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  }
  // The harness options with the milter on, in this test's engine.
  HarnessOptions milter_options() const {
    HarnessOptions o;
    o.milter = true;
    o.milter_settings = "engine = \"" + GetParam() + "\"\n";
    return o;
  }
};

using sg::testing::contains;

// A Listmonk-like campaign message: multipart/alternative, one-click
// unsubscribe, Message-ID on the sending domain.
std::string message(const std::string& from, const std::string& to, const std::string& id,
                    bool with_text = true) {
  std::string m = "From: Dispatch News <" + from + ">\r\n" + "To: <" + to + ">\r\n" +
                  "Subject: streamguard milter e2e\r\n"
                  "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
                  "Message-ID: <" +
                  id +
                  "@send.example.com>\r\n"
                  "List-Unsubscribe: <https://send.example.com/u/" +
                  id +
                  ">\r\n"
                  "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                  "MIME-Version: 1.0\r\n";
  if (!with_text)
    return m + "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Only HTML here.</p>\r\n";
  return m +
         "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello in text.\r\n"
         "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello in HTML.</p>\r\n"
         "--b1--\r\n";
}

TEST_P(MilterE2E, InternalClientWithSignedFromDomainLeavesSigned) {
  HarnessOptions o = milter_options();
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  auto s = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "m1"));
  ASSERT_FALSE(s.queue_id.empty()) << s.transcript << h.milter_log();
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, kDelivery)) << h.postfix().log();
  auto got = h.sink().messages_to(to);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(contains(got[0].data, "DKIM-Signature:")) << got[0].data;
  EXPECT_TRUE(contains(got[0].data, "d=send.example.com")) << got[0].data;
  EXPECT_TRUE(contains(got[0].data, "s=send")) << got[0].data;
  EXPECT_FALSE(contains(got[0].data, "X-Streamguard-Stream")) << got[0].data;
  EXPECT_TRUE(contains(h.milter_log(),
                       "stream=healthcare client=127.0.0.1 "
                       "from_domain=send.example.com result=accept"))
      << h.milter_log();
  EXPECT_TRUE(contains(h.milter_log(), "serving Postfix milter requests on unix:"))
      << h.milter_log();
  EXPECT_TRUE(contains(h.milter_log(), " (" + GetParam() + "); OpenDKIM")) << h.milter_log();
  // Postfix found nothing wrong in the milter's side of the protocol.
  EXPECT_FALSE(contains(h.postfix().log(), "warning: milter")) << h.postfix().log();
}

// The stream tag is for this MTA (the queue, postcat): the stream transport
// removes it as the mail leaves, and the DKIM signature, made before the tag
// was added, still holds the same headers.
TEST_P(MilterE2E, TheStreamTagStaysInsideTheMta) {
  HarnessOptions o = milter_options();
  o.healthcare = "hourly_cap = 0\nover_cap = \"hold\"\n";  // every message held
  Harness h(o);
  const std::string to = "dr.jones@riverside-clinic.example";
  auto s = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "m2"));
  ASSERT_FALSE(s.queue_id.empty()) << s.transcript << h.milter_log();
  const auto queued = h.postfix().command("postcat", {"-hq", s.queue_id});
  ASSERT_EQ(queued.exit_code, 0) << queued.output;
  EXPECT_TRUE(contains(queued.output, "X-Streamguard-Stream: healthcare")) << queued.output;

  ASSERT_EQ(h.postfix().command("postsuper", {"-H", s.queue_id}).exit_code, 0);
  h.postfix().command("postqueue", {"-f"});
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, kDelivery)) << h.postfix().log();
  const auto got = h.sink().messages_to(to);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(contains(got[0].data, "X-Streamguard-Stream")) << got[0].data;
  EXPECT_FALSE(contains(got[0].data, "healthcare")) << got[0].data;
  EXPECT_TRUE(contains(got[0].data, "DKIM-Signature:")) << got[0].data;
}

TEST_P(MilterE2E, ClientOutsideInternalHostsIsRefusedInsteadOfLeavingUnsigned) {
  HarnessOptions o = milter_options();
  o.opendkim_internal_hosts = "172.16.0.0/12\n";  // the Docker bridge only, not 127.0.0.1
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  auto s = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "m2"));
  EXPECT_TRUE(s.queue_id.empty()) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "451 4.7.0")) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "127.0.0.1")) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "InternalHosts")) << s.transcript;
  EXPECT_TRUE(h.sink().messages_to(to).empty());
}

TEST_P(MilterE2E, FromDomainOutsideTheSigningTableIsRefused) {
  HarnessOptions o = milter_options();
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  auto s = h.submit_data("healthcare", {to}, message("news@other.example.org", to, "m3"));
  EXPECT_TRUE(s.queue_id.empty()) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "451 4.7.0")) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "other.example.org")) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "SigningTable")) << s.transcript;
  EXPECT_TRUE(h.sink().messages_to(to).empty());
}

TEST_P(MilterE2E, HtmlOnlyMessageGetsTheStreamsAction) {
  HarnessOptions o = milter_options();
  o.healthcare = "daily_cap = 1000\nmilter = { html_only = \"reject\" }\n";
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  auto s = h.submit_data("healthcare", {to},
                         message("news@send.example.com", to, "m4", /*with_text=*/false));
  EXPECT_TRUE(s.queue_id.empty()) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "550 5.7.0")) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "text/html part and no text/plain alternative"))
      << s.transcript;
  // The same message on trucking, where html_only is left at "warn": it goes,
  // signed, and the warning is logged.
  const std::string to2 = "dispatch@fleet-one.example";
  auto t = h.submit_data("trucking", {to2},
                         message("news@send.example.com", to2, "m5", /*with_text=*/false));
  ASSERT_FALSE(t.queue_id.empty()) << t.transcript << h.milter_log();
  // Logged as the milter answers end-of-message: it may land just after
  // Postfix's 250 reached the client.
  EXPECT_TRUE(wait_until(
      [&] { return contains(h.milter_log(), "html_only: the message has a text/html part"); }, 10s))
      << h.milter_log();
}

TEST_P(MilterE2E, ADeadMilterTempfailsMailNeverPassesItUnchecked) {
  HarnessOptions o = milter_options();
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  h.kill_milter();
  auto s = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "m6"));
  EXPECT_TRUE(s.queue_id.empty()) << s.transcript;
  EXPECT_TRUE(contains(s.transcript, "451 4.7.1")) << s.transcript;
  EXPECT_TRUE(h.sink().messages_to(to).empty());
}

// After its signals, the milter still passes a message, then SIGTERM stops
// it cleanly (exit 0).
void delivers_then_stops_on_sigterm(Harness& h, const std::string& to) {
  auto s = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "s1"));
  ASSERT_FALSE(s.queue_id.empty()) << s.transcript << h.milter_log();
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, kDelivery)) << h.postfix().log();
  ASSERT_EQ(::kill(h.milter_pid(), SIGTERM), 0);
  int status = 0;
  ASSERT_TRUE(wait_until([&] { return ::waitpid(h.milter_pid(), &status, WNOHANG) > 0; }, 10s));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(contains(h.milter_log(), "SIGTERM: stopping")) << h.milter_log();
}

// libmilter's own signal thread stops the milter on SIGHUP; streamguard's
// main thread takes it first and reloads, as with the Asio engine.
TEST(MilterLibmilterE2E, SighupReloadsAndTheMilterKeepsServing) {
  if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  HarnessOptions o;
  o.milter = true;
  o.milter_settings = "engine = \"libmilter\"\n";
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::kill(h.milter_pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until(
        [&] {
          std::string log = h.milter_log();
          std::size_t n = 0;
          for (auto p = log.find("reload (SIGHUP)"); p != std::string::npos;
               p = log.find("reload (SIGHUP)", p + 1))
            ++n;
          return n == static_cast<std::size_t>(i + 1);
        },
        10s))
        << h.milter_log();
  }
  ASSERT_EQ(::waitpid(h.milter_pid(), nullptr, WNOHANG), 0) << "SIGHUP stopped the milter";
  auto metrics = http_get_unix(h.root() + "/milter-status.sock", "/metrics");
  EXPECT_TRUE(contains(metrics, "streamguard_config_reloads_total{result=\"ok\"} 3")) << metrics;
  delivers_then_stops_on_sigterm(h, to);
}

}  // namespace
}  // namespace sg::e2e

namespace sg::e2e {
namespace {

TEST_P(MilterE2E, OpenDkimFilesAreReReadWhenTheyChangeAndCountedOnTheStatusSocket) {
  HarnessOptions o = milter_options();
  o.opendkim_internal_hosts = "172.16.0.0/12\n";
  o.milter_settings += "reload_check_s = 1\n";
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  auto first = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "r1"));
  EXPECT_TRUE(contains(first.transcript, "is not in OpenDKIM's InternalHosts")) << first.transcript;

  // The operator adds the client to trusted.hosts (and forgets to reload
  // OpenDKIM): streamguard-milter re-reads the file by itself, predicts a
  // signature, and catches that none was made.
  std::ofstream(h.root() + "/opendkim/trusted.hosts") << "127.0.0.1\n172.16.0.0/12\n";
  ASSERT_TRUE(
      wait_until([&] { return contains(h.milter_log(), "reload (OpenDKIM files changed)"); }, 15s))
      << h.milter_log();
  auto second = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "r2"));
  EXPECT_TRUE(second.queue_id.empty()) << second.transcript;
  EXPECT_TRUE(contains(second.transcript,
                       "without a DKIM-Signature aligned to its From domain "
                       "send.example.com"))
      << second.transcript;

  auto metrics = http_get_unix(h.root() + "/milter-status.sock", "/metrics");
  EXPECT_TRUE(contains(metrics,
                       "streamguard_milter_dkim_refusals_total{stream=\"healthcare\","
                       "reason=\"not_internal\"} 1"))
      << metrics;
  EXPECT_TRUE(contains(metrics,
                       "streamguard_milter_dkim_refusals_total{stream=\"healthcare\","
                       "reason=\"not_signed\"} 1"))
      << metrics;
  EXPECT_TRUE(contains(metrics,
                       "streamguard_milter_messages_total{stream=\"healthcare\","
                       "result=\"tempfail\"} 2"))
      << metrics;
}

}  // namespace
}  // namespace sg::e2e

namespace sg::e2e {
namespace {

INSTANTIATE_TEST_SUITE_P(Milter, MilterE2E, ::testing::Values("libmilter", "asio"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace sg::e2e

namespace sg::e2e {
namespace {

// With commit = "end_of_message" policyd commits at END-OF-MESSAGE, before
// the milter's verdict: a message the milter then refuses is charged until
// rampd reads cleanup's milter-reject line and gives the charge back. An
// accepted message keeps its charge.
TEST(MilterRefundE2E, AMessageTheMilterRefusesAfterEndOfMessageGetsItsChargeBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  HarnessOptions o;
  o.milter = true;
  o.policyd = "commit = \"end_of_message\"\n";
  o.rampd = "maillog_from = \"start\"\n";  // every line of the file: counted below
  Harness h(o);
  h.start_rampd();
  const std::string to = "dr.smith@riverside-clinic.example";
  auto refused = h.submit_data("healthcare", {to}, message("news@other.example.org", to, "r1"));
  EXPECT_TRUE(refused.queue_id.empty()) << refused.transcript;
  EXPECT_TRUE(contains(refused.transcript, "451 4.7.0")) << refused.transcript;
  EXPECT_TRUE(contains(h.policyd_log(), "reason=committed")) << h.policyd_log();
  const std::string series = "streamguard_rampd_refunded_messages_total{stream=\"healthcare\"}";
  ASSERT_TRUE(wait_until(
      [&] { return read_metric(h.rampd_status_socket(), series).value_or(0) == 1; }, 30s))
      << h.rampd_log();
  EXPECT_EQ(h.daily_count("healthcare"), 0);
  EXPECT_TRUE(contains(h.rampd_log(),
                       "was refused by a milter after END-OF-MESSAGE (4.7.0 "
                       "streamguard: the message would leave unsigned"))
      << h.rampd_log();

  auto sent = h.submit_data("healthcare", {to}, message("news@send.example.com", to, "r2"));
  ASSERT_FALSE(sent.queue_id.empty()) << sent.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, 20s));
  // Once rampd has read every line Postfix wrote for it, the accepted
  // message has had no refund.
  std::ifstream maillog(h.postfix().log_path());
  double written = 0;
  for (std::string line; std::getline(maillog, line);) ++written;
  ASSERT_TRUE(wait_until(
      [&] {
        return read_metric(h.rampd_status_socket(), "streamguard_rampd_log_lines_total")
                   .value_or(0) >= written;
      },
      30s))
      << h.rampd_log();
  EXPECT_EQ(h.daily_count("healthcare"), 1);
  EXPECT_EQ(read_metric(h.rampd_status_socket(), series), 1);
}

// The Asio engine takes the signals on its loop: SIGHUP reloads (as SIGUSR1
// does), SIGTERM stops; mail goes on between.
TEST(MilterAsioE2E, SighupReloadsSigtermStops) {
  if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  HarnessOptions o;
  o.milter = true;
  o.milter_settings = "engine = \"asio\"\n";
  Harness h(o);
  const std::string to = "dr.smith@riverside-clinic.example";
  ASSERT_EQ(::kill(h.milter_pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_until([&] { return contains(h.milter_log(), "reload (SIGHUP)"); }, 10s))
      << h.milter_log();
  ASSERT_EQ(::kill(h.milter_pid(), SIGUSR1), 0);
  ASSERT_TRUE(wait_until([&] { return contains(h.milter_log(), "reload (SIGUSR1)"); }, 10s))
      << h.milter_log();
  delivers_then_stops_on_sigterm(h, to);
}

}  // namespace
}  // namespace sg::e2e
