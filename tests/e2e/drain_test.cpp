// Held mail drains: mail parked in Postfix's hold queue over a stream's cap
// is released by streamguard-rampd, oldest first, at the cap's rate, each
// message delivered exactly once, through its stream's own transport. Real
// Postfix, policyd, Redis and the rampd binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

TEST(DrainE2E, HeldMailDrainsAtTheCapRateAndEveryMessageIsDeliveredOnce) {
  HarnessOptions o;
  // 1200/h with a burst of one: one message every 3 s.
  o.healthcare = "hourly_cap = 1200\nburst = 1\nover_cap = \"hold\"\n";
  o.rampd = "drain_interval_s = 1\n";
  Harness h(o);

  constexpr int kMessages = 5;
  std::vector<std::string> rcpts;
  for (int i = 0; i < kMessages; ++i) {
    rcpts.push_back("frontdesk@clinic-" + std::to_string(i) + ".example");
    auto s = h.submit("healthcare", {rcpts.back()});
    ASSERT_TRUE(s.accepted(rcpts.back())) << s.transcript;
  }
  // The first went out; the others, over the rate, wait in the hold queue.
  ASSERT_TRUE(h.sink().wait_for_rcpt(rcpts[0], 15s)) << h.postfix().log();
  // Every message is either delivered or held: nothing else left in the queue.
  std::size_t held = 0, queued = 0;
  ASSERT_TRUE(wait_until([&] {
    auto q = h.postfix().queue();
    queued = q.size();
    held = std::count_if(q.begin(), q.end(), [](const auto& e) { return e.queue_name == "hold"; });
    return held >= 3 && held == queued &&
           h.sink().messages().size() + held == static_cast<std::size_t>(kMessages);
  })) << held
      << " held of " << queued << " queued, " << h.sink().messages().size() << " delivered";

  h.start_rampd();
  ASSERT_TRUE(wait_until([&] { return h.sink().messages().size() >= kMessages; }, 60s))
      << h.rampd_log();
  // Two more rounds over an empty hold queue: nothing more may arrive.
  ASSERT_TRUE(wait_drain_rounds(h.rampd_status_socket(), 2, 30s)) << h.rampd_log();

  // Every message exactly once, through the healthcare transport.
  auto msgs = h.sink().messages();
  std::map<std::string, int> seen;
  for (const auto& m : msgs)
    for (const auto& r : m.rcpts) ++seen[r];
  for (const auto& r : rcpts) EXPECT_EQ(seen[r], 1) << r;
  EXPECT_EQ(msgs.size(), static_cast<std::size_t>(kMessages));
  for (const auto& m : msgs) EXPECT_EQ(m.helo, "hcmta01.example.com");

  // At the cap's rate: the released messages left at least ~3 s apart.
  std::vector<std::chrono::steady_clock::time_point> times;
  for (std::size_t i = msgs.size() - held; i < msgs.size(); ++i) times.push_back(msgs[i].received);
  std::sort(times.begin(), times.end());
  for (std::size_t i = 1; i < times.size(); ++i)
    EXPECT_GE(times[i] - times[i - 1], 2500ms) << "release " << i;

  // The hold queue is empty, and rampd says what it did.
  EXPECT_TRUE(wait_until([&] { return h.postfix().queue().empty(); }, 15s));
  const auto metrics = http_get_unix(h.rampd_status_socket(), "/metrics");
  EXPECT_NE(metrics.find("streamguard_rampd_released_total{stream=\"healthcare\"} " +
                         std::to_string(held)),
            std::string::npos)
      << metrics;
  EXPECT_NE(h.rampd_log().find("released held"), std::string::npos) << h.rampd_log();
  // The releases were charged: policyd's daily count holds every message.
  EXPECT_EQ(h.daily_count("healthcare"), kMessages);
}

}  // namespace
}  // namespace sg::e2e

namespace sg::e2e {
namespace {

TEST(DrainE2E, MailHeldOnAClosedStreamIsKeptAndReportedNeverReleasedOrExpired) {
  HarnessOptions o;
  o.healthcare = "hourly_cap = 0\nover_cap = \"hold\"\n";  // closed: nothing may leave
  o.rampd = "drain_interval_s = 1\nheld_warn_s = 2\n";
  Harness h(o);
  const std::string to = "frontdesk@clinic-closed.example";
  auto s = h.submit("healthcare", {to});
  ASSERT_TRUE(s.accepted(to)) << s.transcript;
  ASSERT_TRUE(wait_until([&] { return !h.postfix().queue().empty(); }));

  h.start_rampd();
  ASSERT_TRUE(
      wait_until([&] { return h.rampd_log().find("has waited") != std::string::npos; }, 20s))
      << h.rampd_log();
  ASSERT_TRUE(wait_drain_rounds(h.rampd_status_socket(), 3, 30s)) << h.rampd_log();
  EXPECT_NE(h.rampd_log().find("held " + s.queue_id + " (stream healthcare) has waited"),
            std::string::npos)
      << h.rampd_log();
  auto q = h.postfix().queue();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].queue_name, "hold");  // still held: not released, not expired
  EXPECT_TRUE(h.sink().messages().empty());
  const auto metrics = http_get_unix(h.rampd_status_socket(), "/metrics");
  EXPECT_NE(metrics.find("streamguard_rampd_held{stream=\"healthcare\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("streamguard_rampd_held_over_warn{stream=\"healthcare\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(h.daily_count("healthcare"), 0);  // nothing charged for it
}

}  // namespace
}  // namespace sg::e2e
