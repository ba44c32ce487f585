// `streamguardctl audit-log` on the log of the real Postfix the harness
// runs with streamguardctl's rendering: mail of both streams and of the
// operator's staff submission, each delivered to the sink; the audit finds
// each stream's message left through its own transport and none through
// another's (exit 0). Then a message of healthcare's delivered through
// trucking's transport, written into a copy of the log as Postfix would log
// it, is named (exit 1).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

TEST(AuditLogE2E, EveryStreamLeftThroughItsOwnPathAndABreachIsNamed) {
  Harness h;
  const std::string t = "dispatch@fleet-audit.example", c = "frontdesk@clinic-audit.example",
                    s = "someone@partner-audit.example";
  h.submit("trucking", {t});
  h.submit("healthcare", {c});
  h.submit("staff", {s});
  for (const auto& rcpt : {t, c, s}) ASSERT_TRUE(h.sink().wait_for_rcpt(rcpt, 30s)) << rcpt;
  // The delivery lines reach the log just after the sink has the message.
  ASSERT_TRUE(wait_until(
      [&] {
        std::ifstream in(h.postfix().log_path());
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string log = ss.str();
        return log.find("to=<" + s + ">") != std::string::npos &&
               log.find("to=<" + c + ">") != std::string::npos &&
               log.find("to=<" + t + ">") != std::string::npos;
      },
      20s));

  auto ok = run_command(
      {SG_CTL_BIN, "audit-log", "--config", h.config_path(), "--log", h.postfix().log_path()}, 30s);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(std::regex_search(ok.output, std::regex("trucking +1 +1 +0 +0 +0 +0 "))) << ok.output;
  EXPECT_TRUE(std::regex_search(ok.output, std::regex("healthcare +1 +1 +0 +0 +0 +0 ")))
      << ok.output;
  EXPECT_NE(ok.output.find("mail of no stream (staff, cron, relay): 1 delivery results"),
            std::string::npos)
      << ok.output;

  // healthcare's message, as if it had left by trucking's transport.
  std::ifstream in(h.postfix().log_path());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string log = ss.str();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      log, m, std::regex("postfix/([a-z0-9-]+)/smtp(\\[[0-9]+\\]: [0-9A-Za-z]+: to=<" + c + ">)")))
      << log;
  std::smatch tm;
  ASSERT_TRUE(std::regex_search(
      log, tm, std::regex("postfix/([a-z0-9-]+)/smtp\\[[0-9]+\\]: [0-9A-Za-z]+: to=<" + t + ">")));
  // A copy: tm points into `log`, which the replace below shifts when
  // trucking's line comes after healthcare's (deliveries finish in either
  // order).
  const std::string trucking_transport = tm[1].str();
  log.replace(static_cast<std::size_t>(m.position(1)), m.length(1), trucking_transport);
  const std::string copy = h.postfix().log_path() + ".breach";
  std::ofstream(copy) << log;
  auto breach =
      run_command({SG_CTL_BIN, "audit-log", "--config", h.config_path(), "--log", copy}, 30s);
  EXPECT_EQ(breach.exit_code, 1) << breach.output;
  EXPECT_NE(breach.output.find("to=<" + c + "> status=sent: came in by stream healthcare"),
            std::string::npos)
      << breach.output;
  EXPECT_NE(breach.output.find("left by transport " + trucking_transport + " (stream trucking)"),
            std::string::npos)
      << breach.output;
}

}  // namespace
}  // namespace sg::e2e
