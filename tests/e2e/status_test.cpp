// End to end: `streamguardctl status` over the daemons of a running
// pipeline, as an operator reads it: every daemon's row, what to act on
// below the table (Redis without appendonly, a failed reload), and exit 1
// with the reason when a daemon is down. And `streamguardctl report` on the
// same: a message through the trucking stream shows up delivered.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

using sg::testing::contains;

TEST(StatusE2E, OneTableOfEveryDaemonAndWhatToActOn) {
  if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  Harness h;
  h.start_rampd();
  auto status = [&] {
    return run_command({SG_CTL_BIN, "status", "--config", h.config_path()}, 30s);
  };
  auto up = status();
  EXPECT_EQ(up.exit_code, 0) << up.output;
  EXPECT_TRUE(contains(up.output, "DAEMON               UP   PID")) << up.output;
  for (const char* row : {"streamguard-policyd  yes", "streamguard-rampd    yes"})
    EXPECT_TRUE(contains(up.output, row)) << row << "\n" << up.output;
  EXPECT_TRUE(contains(up.output, "0 ok, 0 failed")) << up.output;
  // The test Redis keeps nothing on disk: said, with what to set.
  EXPECT_TRUE(contains(up.output, "streamguard-policyd: redis: appendonly is off")) << up.output;
  // Which build answers, on every daemon's /metrics.
  for (const auto& [socket, daemon] : {std::pair{h.policyd_status_socket(), "streamguard-policyd"},
                                       std::pair{h.rampd_status_socket(), "streamguard-rampd"}}) {
    const std::string metrics = http_get_unix(socket, "/metrics");
    EXPECT_TRUE(std::regex_search(
        metrics, std::regex(std::string("streamguard_build_info\\{daemon=\"") + daemon +
                            "\",version=\"[0-9]+\\.[0-9]+\\.[0-9]+\"\\} 1\n")))
        << metrics;
  }

  // A reload that cannot read a list fails; policyd keeps the running
  // configuration. (The file itself still parses, for streamguardctl.)
  const std::string body = http_get_unix(h.policyd_status_socket(), "/status");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(body, m, std::regex("\"pid\":([0-9]+)"))) << body;
  std::string config = slurp(h.config_path());
  config.replace(config.find("yahoo-family.txt"), 16, "no-such-list.txt");
  std::ofstream(h.config_path()) << config;
  ASSERT_EQ(::kill(std::stoi(m[1]), SIGHUP), 0);
  std::string after;
  ASSERT_TRUE(wait_until([&] { return contains(after = status().output, "0 ok, 1 failed"); }, 10s))
      << after;
  EXPECT_TRUE(contains(after, "streamguard-policyd: the last reload, at ")) << after;
  EXPECT_TRUE(contains(after, "failed: the configuration before it is still in force")) << after;

  h.stop_rampd();
  auto down = status();
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_TRUE(contains(down.output, "streamguard-rampd    NO")) << down.output;
  EXPECT_TRUE(contains(down.output, "streamguard-rampd: does not answer: cannot connect to unix:" +
                                        h.rampd_status_socket()))
      << down.output;
}

TEST(StatusE2E, TheReportShowsWhatWasDeliveredAndSaysWhenRampdIsDown) {
  if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  Harness h;
  h.start_rampd();
  auto report = [&] {
    return run_command({SG_CTL_BIN, "report", "--config", h.config_path()}, 30s);
  };
  auto sent = h.submit("trucking", {"dispatch@fleet.example"});
  ASSERT_TRUE(sent.accepted("dispatch@fleet.example")) << sent.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("dispatch@fleet.example", kDelivery));
  // rampd reads the log every few seconds: the report shows the result once
  // it has.
  CommandResult r;
  ASSERT_TRUE(wait_until([&] { return contains((r = report()).output, "100.0%"); }, 30s))
      << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "stream trucking (enforce)")) << r.output;
  EXPECT_TRUE(
      contains(r.output, "PROVIDER  SENT  DEFERRED  BOUNCED  EXPIRED  DELIVERED  LAST HOUR"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "100.0% of 1")) << r.output;
  EXPECT_FALSE(contains(r.output, "\033[")) << "colour on a pipe";

  h.stop_rampd();
  auto down = report();
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_TRUE(contains(down.output, "streamguard-rampd DOWN")) << down.output;
  EXPECT_TRUE(contains(down.output, "nothing to report")) << down.output;
}

}  // namespace
}  // namespace sg::e2e
