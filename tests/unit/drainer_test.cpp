// The drainer on the fake caps store and stand-ins for Postfix's commands
// (tests/unit/drainer_test_support.hpp): what is charged, released,
// committed, given back and counted, in order and within the caps, and how
// a failed or unfinished release is settled, without Redis or Postfix.
// Recipients excluded or suppressed while held are in
// drainer_exclusion_test.cpp. (The drainer against a real Postfix and Redis
// is the e2e tests'.)
#include "rampd/drainer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/drainer_test_support.hpp"

namespace sg::rampd {
namespace {

using namespace drainer_test;

TEST_F(DrainerTest, HeldMailWithinItsCapsIsChargedReleasedCommittedAndFlushed) {
  configure();
  hold("39812A80135", "sg-healthcare", {"a@clinic.example", "b@clinic.example"}, 1795386117);
  run_once();
  EXPECT_TRUE(released("39812A80135"));
  EXPECT_EQ(log(),
            (std::vector<std::string>{"postsuper -H 39812A80135", "postqueue -i 39812A80135"}));
  // The first round after a start cancels what an earlier rampd may have
  // left reserved; the release is marked before postsuper runs.
  EXPECT_EQ(acts(),
            (std::vector<std::string>{"cancel healthcare rampd-39812A80135", "charge healthcare",
                                      "charge healthcare", "release healthcare rampd-39812A80135",
                                      "commit healthcare rampd-39812A80135"}));
  EXPECT_TRUE(store.releasing_set["healthcare"].empty());
  EXPECT_EQ(store.committed["healthcare/rampd-39812A80135"], 2);
  const auto& st = drainer.status().streams.at("healthcare");
  EXPECT_EQ(st.released_total, 1u);
  EXPECT_EQ(st.recipients_released_total, 2u);
  EXPECT_TRUE(drainer.status().problem.empty()) << drainer.status().problem;
}

// Oldest first by arrival, not by queue id: the younger message has the
// smaller id here, and the stream's cap lets one through.
TEST_F(DrainerTest, TheOldestHeldMessageIsReleasedFirst) {
  configure();  // trucking: daily_cap = 3
  hold("39812A80100", "sg-trucking", {"a@fleet.example", "b@fleet.example"}, 1795386300);
  hold("39812A80199", "sg-trucking", {"c@fleet.example", "d@fleet.example"}, 1795386100);
  run_once();
  EXPECT_TRUE(released("39812A80199"));
  EXPECT_FALSE(released("39812A80100"));
}

// A message partly charged long ago: its reservation is near expiry (a
// sweep would give it back under it), so it starts over, never keeping
// charges a sweep may return.
TEST_F(DrainerTest, APartialChargeNearItsReservationsExpiryStartsOver) {
  configure();  // trucking: daily_cap = 3
  hold("39812A80135", "sg-trucking", {"a@fleet.example", "b@fleet.example"}, 1795386100);
  hold("39812A80136", "sg-trucking", {"c@fleet.example", "d@fleet.example"}, 1795386200);
  run_once();  // 135 released (2), 136 holds 1 charge
  ASSERT_EQ(store.reserved["trucking/rampd-39812A80136"], 1);
  auto later = [&](int64_t ms) {
    auto guard = net::make_work_guard(io);
    net::co_spawn(io, drainer.run_once(cfg, kNowMs + ms),
                  [&](std::exception_ptr) { guard.reset(); });
    io.restart();
    io.run();
  };
  later(Drainer::kReserveMs / 2 + 1000);
  // Two cancels: the first round's (what an earlier rampd may have left),
  // and the start over.
  EXPECT_EQ(std::count(store.calls.begin(), store.calls.end(), "cancel trucking rampd-39812A80136"),
            2);
  EXPECT_EQ(store.used["trucking/daily/"], 3) << "the stale charge was kept as well as a new one";
  EXPECT_FALSE(released("39812A80136"));
}

TEST_F(DrainerTest, OverTheStreamCapNothingIsReleasedAndTheOldestKeepsItsCharges) {
  configure();  // trucking: daily_cap = 3
  hold("39812A80135", "sg-trucking", {"a@fleet.example", "b@fleet.example"}, 1795386100);
  hold("39812A80136", "sg-trucking", {"c@fleet.example", "d@fleet.example"}, 1795386200);
  run_once();
  EXPECT_TRUE(released("39812A80135"));
  EXPECT_FALSE(released("39812A80136")) << "released past the stream's daily cap";
  // The second message got one of its two charges; it keeps it (the stream
  // is blocked, not the message) and waits for the next round.
  EXPECT_EQ(store.reserved["trucking/rampd-39812A80136"], 1);
  EXPECT_EQ(store.used["trucking/daily/"], 3);
  EXPECT_EQ(drainer.status().streams.at("trucking").held, 2u);  // counted before the release
}

TEST_F(DrainerTest, AnOperatorCapSkipsThatMessageAndGivesItsChargesBackNotTheStream) {
  configure("", "operator_daily = { google = 0 }\n");
  hold("39812A80135", "sg-trucking", {"a@fleet.example", "b@gmail.com"}, 1795386100);
  hold("39812A80136", "sg-trucking", {"c@fleet.example"}, 1795386200);
  run_once();
  EXPECT_FALSE(released("39812A80135")) << "released past google's cap of 0";
  EXPECT_TRUE(released("39812A80136")) << "one operator's cap held up the whole stream";
  EXPECT_EQ(store.reserved.count("trucking/rampd-39812A80135"), 0u);
  EXPECT_EQ(store.used["trucking/daily/"], 1) << "the skipped message's charge was not given back";
}

// The list grew while the mail waited: the stream must not mail the domain now.
TEST_F(DrainerTest, APostsuperThatFailsIsSettledNextRoundAndNeverCountedTwice) {
  configure();
  hold("39812A80135", "sg-healthcare", {"a@clinic.example"}, 1795386117);
  std::ofstream(dir / "refuse") << "";
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_TRUE(store.committed.empty());
  EXPECT_EQ(store.releasing_set["healthcare"].count("rampd-39812A80135"), 1u);
  EXPECT_EQ(drainer.status().release_failures_total, 1u);
  EXPECT_EQ(log(), std::vector<std::string>{"postsuper -H 39812A80135"})
      << "flushed unreleased mail";
  run_once();  // still refused
  EXPECT_EQ(store.used["healthcare/daily/"], 1);
  fs::remove(dir / "refuse");
  run_once();
  EXPECT_TRUE(released("39812A80135"));
  EXPECT_EQ(store.used["healthcare/daily/"], 1);
  EXPECT_EQ(store.committed["healthcare/rampd-39812A80135"], 1);
  EXPECT_TRUE(store.releasing_set["healthcare"].empty());
}

// postsuper releases the message, then hangs past its deadline: the round
// cannot tell; the next one sees the message gone from the hold queue and
// commits its charges (given back, the message would go uncounted).
TEST_F(DrainerTest, APostsuperThatReleasesThenHangsIsCommittedNextRound) {
  configure();
  script("postsuper", R"SH(#!/bin/sh
d=$(dirname "$0")
echo "postsuper $1 $2" >> "$d/log"
mv "$d/hold/$2" "$d/released/$2"
exec sleep 30
)SH");
  drainer.set_command_timeout_ms(500);
  hold("39812A80135", "sg-healthcare", {"a@clinic.example", "b@clinic.example"}, 1795386117);
  run_once();
  EXPECT_TRUE(released("39812A80135"));
  EXPECT_EQ(drainer.status().release_failures_total, 1u);
  EXPECT_TRUE(store.committed.empty());
  run_once();
  EXPECT_EQ(store.committed["healthcare/rampd-39812A80135"], 2);
  EXPECT_EQ(store.used["healthcare/daily/"], 2);
  EXPECT_TRUE(store.releasing_set["healthcare"].empty());
  EXPECT_EQ(drainer.status().streams.at("healthcare").released_total, 1u);
  run_once();
  EXPECT_EQ(store.used["healthcare/daily/"], 2) << "counted again";
}

// A charge whose reply is lost after the store made it (a Redis deadline
// that fired after the script ran): the next round gives back what the
// reservation holds before charging again, so the message is counted once.
TEST_F(DrainerTest, AChargeWhoseReplyWasLostIsNotCountedTwice) {
  configure();
  hold("39812A80135", "sg-healthcare", {"a@clinic.example", "b@clinic.example"}, 1795386117);
  store.lose_replies = 1;
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_NE(drainer.status().problem.find("no reply"), std::string::npos)
      << drainer.status().problem;
  run_once();
  EXPECT_TRUE(released("39812A80135"));
  EXPECT_EQ(store.used["healthcare/daily/"], 2);
  EXPECT_EQ(store.committed["healthcare/rampd-39812A80135"], 2);
}

// rampd stopped after postsuper released the message and before it
// committed: a new drainer (a restarted rampd) finds the mark and commits.
TEST_F(DrainerTest, AReleaseAnEarlierRampdDidNotFinishIsCommittedAtStart) {
  configure();
  hold("39812A80135", "sg-healthcare", {"a@clinic.example"}, 1795386117);
  hold("39812A80136", "sg-healthcare", {"b@clinic.example"}, 1795386118);
  // What the earlier rampd left: 135 charged, marked and released; 136
  // charged (a partial reservation) and still held.
  LimiterPlan plan = plan_limits(*cfg->stream_named("healthcare"), "");
  for (const char* id : {"rampd-39812A80135", "rampd-39812A80136"}) {
    auto charging = store.charge("healthcare", plan, kNowMs, civil_day(kNowMs),
                                 Reservation{Drainer::kReserveMs, id});
    (void)charging;
  }
  store.releasing_set["healthcare"].insert("rampd-39812A80135");
  fs::rename(dir / "hold" / "39812A80135", dir / "released" / "39812A80135");
  ASSERT_EQ(store.used["healthcare/daily/"], 2);
  run_once();
  EXPECT_EQ(store.committed["healthcare/rampd-39812A80135"], 1);
  EXPECT_TRUE(released("39812A80136"));
  EXPECT_EQ(store.committed["healthcare/rampd-39812A80136"], 1);
  EXPECT_EQ(store.used["healthcare/daily/"], 2) << "the earlier partial charge counted twice";
}

TEST_F(DrainerTest, MailOfNoStreamIsCountedAndNeverReleased) {
  configure();
  hold("39812A80135", "smtp", {"a@clinic.example"}, 1795386117);
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_TRUE(acts().empty());
  EXPECT_EQ(drainer.status().held_of_no_stream, 1u);
}

TEST_F(DrainerTest, WithDrainOffHeldMailIsCountedButNeitherChargedNorReleased) {
  configure("drain = false\n");
  hold("39812A80135", "sg-healthcare", {"a@clinic.example"}, 1795386117);
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_TRUE(acts().empty());
  EXPECT_EQ(drainer.status().streams.at("healthcare").held, 1u);
}

TEST_F(DrainerTest, AStoreThatFailsEndsTheRoundWithNothingReleased) {
  configure();
  hold("39812A80135", "sg-healthcare", {"a@clinic.example"}, 1795386117);
  store.fail_with = "connection refused";
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_NE(drainer.status().problem.find("connection refused"), std::string::npos)
      << drainer.status().problem;
}

TEST_F(DrainerTest, AQueueThatCannotBeReadIsAProblemNotACrash) {
  configure();
  fs::remove(dir / "postqueue");
  run_once();
  EXPECT_NE(drainer.status().problem.find("reading the queue"), std::string::npos)
      << drainer.status().problem;
  EXPECT_TRUE(store.calls.empty());
}

}  // namespace
}  // namespace sg::rampd
