// issue 12's proof of the operator's view on the real Postfix: both streams
// send at once, the sink takes some recipients and refuses others (5xx
// bounces, 4xx deferrals); `streamguardctl report --json` then shows, per
// stream and mailbox provider, exactly what the sink saw. `audit-log` finds
// every message on its own stream's path, and after the test routes
// healthcare's submission port into trucking's transport (a real
// misconfiguration, made with postconf and a reload), names the message
// that left by the wrong path.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;
using sg::testing::contains;
using Counts = std::map<std::string, int>;  // "stream/operator/status" -> results

std::string provider(const std::string& rcpt) {
  return rcpt.ends_with("@gmail.com") ? "google" : "other";
}

TEST(ReportE2E, TheReportShowsWhatTheSinkSawPerStreamAndProviderAndTheAuditNamesAMisroute) {
  Harness h;
  h.start_rampd();
  // What the sink answered at RCPT, by stream (the recipients say which).
  std::mutex mu;
  Counts saw;
  const std::map<std::string, std::string> streams_of = {{"@gmail.com", "trucking"},
                                                         {"@fleet-report.example", "trucking"},
                                                         {"@clinic-report.example", "healthcare"}};
  auto stream_of = [&](const std::string& rcpt) {
    for (const auto& [suffix, s] : streams_of)
      if (rcpt.ends_with(suffix)) return s;
    return std::string("?");
  };
  h.sink().answer_rcpt([&](const std::string& rcpt) -> std::string {
    // The bounce notices Postfix sends back to the sender reach the sink
    // too (sometimes before the test has counted the rest): not the test's.
    if (stream_of(rcpt) == "?") return "";
    std::string status = "sent", reply;
    if (rcpt.starts_with("gone")) status = "bounced", reply = "550 5.1.1 no such user";
    if (rcpt.starts_with("busy")) status = "deferred", reply = "451 4.7.0 try later";
    std::lock_guard lk(mu);
    ++saw[stream_of(rcpt) + "/" + provider(rcpt) + "/" + status];
    return reply;
  });

  const std::vector<std::string> trucking = {
      "driver1@gmail.com",         "driver2@gmail.com", "driver3@gmail.com",
      "gone1@gmail.com",           "busy1@gmail.com",   "dispatch1@fleet-report.example",
      "gone2@fleet-report.example"};
  const std::vector<std::string> healthcare = {
      "frontdesk1@clinic-report.example", "frontdesk2@clinic-report.example",
      "busy2@clinic-report.example", "gone3@clinic-report.example"};
  auto t = std::async(std::launch::async, [&] { return h.submit("trucking", trucking); });
  auto c = std::async(std::launch::async, [&] { return h.submit("healthcare", healthcare); });
  for (auto* s : {&t, &c}) {
    auto sub = s->get();
    ASSERT_FALSE(sub.queue_id.empty()) << sub.transcript;
  }
  // Every recipient answered once (a deferral is retried only after
  // Postfix's minimal_backoff_time, 300 s, past this test).
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lk(mu);
        int n = 0;
        for (const auto& [k, v] : saw) n += v;
        return n == int(trucking.size() + healthcare.size());
      },
      30s));

  // rampd reads the log every few seconds; then its counts stop moving.
  auto report_counts = [&](nlohmann::json& j) {
    auto r = run_command({SG_CTL_BIN, "report", "--json", "--config", h.config_path()}, 30s);
    Counts out;
    j = nlohmann::json::parse(r.output, nullptr, false);
    if (j.is_discarded()) return out;
    for (const auto& [stream, s] : j["streams"].items())
      if (s.contains("delivery") && s["delivery"].contains("operators"))
        for (const auto& [op, c2] : s["delivery"]["operators"].items())
          for (const char* status : {"sent", "deferred", "bounced", "expired"})
            if (int n = c2["today"][status].get<int>(); n > 0)
              out[stream + "/" + op + "/" + status] = n;
    return out;
  };
  nlohmann::json j;
  Counts shown;
  const Counts expected = [&] {
    std::lock_guard lk(mu);
    return saw;
  }();
  EXPECT_TRUE(wait_until([&] { return (shown = report_counts(j)) == expected; }, 30s))
      << "report: " << nlohmann::json(shown).dump() << "\nsink: " << nlohmann::json(expected).dump()
      << "\n"
      << j.dump(2);
  EXPECT_EQ(expected.at("trucking/google/sent"), 3);
  EXPECT_EQ(expected.at("healthcare/other/deferred"), 1);

  // The screen an operator reads says the same.
  auto screen = run_command({SG_CTL_BIN, "report", "--config", h.config_path()}, 30s);
  EXPECT_EQ(screen.exit_code, 0) << screen.output;
  std::cout << "SCREEN\n" << screen.output << "END\n";
  EXPECT_TRUE(contains(screen.output, "1 bounced 5.1.1, 1 deferred 4.7.0")) << screen.output;
  // policyd's live count (every recipient it accepted), not rampd's of a
  // minute ago.
  EXPECT_TRUE(contains(screen.output, "usage      7 accepted today of 1000 (0.7%)\n"))
      << screen.output;
  EXPECT_TRUE(contains(screen.output, "usage      4 accepted today of 1000 (0.4%)\n"))
      << screen.output;

  // Each stream's mail left by its own path...
  auto audit = [&] {
    return run_command(
        {SG_CTL_BIN, "audit-log", "--config", h.config_path(), "--log", h.postfix().log_path()},
        30s);
  };
  auto clean = audit();
  EXPECT_EQ(clean.exit_code, 0) << clean.output;

  // ...until healthcare's port is routed into trucking's transport.
  const std::string service =
      "127.0.0.1:" + std::to_string(h.port("healthcare")) + "/inet/content_filter=out05:";
  auto set = h.postfix().command("postconf", {"-P", service});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  ASSERT_EQ(h.postfix().command("postfix", {"reload"}).exit_code, 0);
  const std::string misrouted = "frontdesk9@clinic-report.example";
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = h.submit("healthcare", {misrouted});
        return !s.queue_id.empty();
      },
      20s));
  ASSERT_TRUE(h.sink().wait_for_rcpt(misrouted, kDelivery));
  ASSERT_TRUE(h.postfix().wait_for_log({"to=<" + misrouted + ">", "status=sent"}));
  auto breach = audit();
  EXPECT_EQ(breach.exit_code, 1) << breach.output;
  EXPECT_TRUE(
      contains(breach.output, "to=<" + misrouted + "> status=sent: came in by stream healthcare"))
      << breach.output;
  EXPECT_TRUE(contains(breach.output, "left by transport out05 (stream trucking)"))
      << breach.output;
}

}  // namespace
}  // namespace sg::e2e
