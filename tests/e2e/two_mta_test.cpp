// Several MTAs, one set of caps (issue 13, item 3): two Postfix instances,
// each with its own policyd, share one Redis. A campaign submitted to both
// at once, past the stream's daily cap, is accepted no more than the cap in
// total, and what was accepted reaches the sinks.
#include <gtest/gtest.h>

#include <future>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

TEST(TwoMtaE2E, TwoPostfixWithTheirOwnPolicydNeverAcceptMoreThanTheSharedDailyCap) {
  sg::testing::RedisServer redis;
  HarnessOptions o;
  o.shared_redis = &redis;
  o.trucking = "daily_cap = 12\nover_cap = \"defer\"\n";
  Harness mta1(o), mta2(o);

  // 3 messages of 5 recipients on each MTA, all at once: 30 asked, 12 allowed.
  auto campaign = [](Harness& h, const std::string& mta) {
    std::vector<std::future<Submission>> sent;
    for (int m = 0; m < 3; ++m) {
      std::vector<std::string> rcpts;
      for (int r = 0; r < 5; ++r)
        rcpts.push_back("d" + std::to_string(m) + "-" + std::to_string(r) + "@fleet-" + mta +
                        ".example");
      sent.push_back(
          std::async(std::launch::async, [&h, rcpts] { return h.submit("trucking", rcpts); }));
    }
    std::vector<std::string> accepted;
    for (auto& f : sent) {
      auto s = f.get();
      for (const auto& r : s.rcpts)
        if (s.accepted(r.address))
          accepted.push_back(r.address);
        else
          EXPECT_TRUE(r.reply.starts_with("450 4.7.1")) << r.reply;
    }
    return accepted;
  };
  auto a1 = std::async(std::launch::async, [&] { return campaign(mta1, "one"); });
  auto a2 = std::async(std::launch::async, [&] { return campaign(mta2, "two"); });
  const auto accepted1 = a1.get(), accepted2 = a2.get();
  EXPECT_EQ(accepted1.size() + accepted2.size(), 12u)
      << accepted1.size() << " on the first MTA, " << accepted2.size() << " on the second";
  EXPECT_EQ(mta1.daily_count("trucking"), 12);

  // Each MTA delivers what it accepted, and only that.
  for (const auto& [h, accepted] : {std::pair{&mta1, accepted1}, std::pair{&mta2, accepted2}})
    for (const auto& rcpt : accepted) EXPECT_TRUE(h->sink().wait_for_rcpt(rcpt, kDelivery)) << rcpt;
  std::size_t delivered = 0;
  for (auto* h : {&mta1, &mta2})
    for (const auto& m : h->sink().messages()) delivered += m.rcpts.size();
  EXPECT_EQ(delivered, 12u);
}

}  // namespace
}  // namespace sg::e2e
