// The drainer on the fake caps store (tests/fakes/fake_cap_store.hpp) and
// stand-ins for postqueue, postcat and postsuper: small scripts over a
// directory that plays the hold queue. What is charged, released,
// committed, given back and counted, without Redis or Postfix. (The drainer
// against a real Postfix and Redis is the e2e tests'.)
#include "rampd/drainer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakes/fake_cap_store.hpp"
#include "tests/unit/config_text.hpp"

namespace sg::rampd {
namespace {

namespace net = boost::asio;
namespace fs = std::filesystem;

constexpr int64_t kNowMs = 1'795'400'000'000;  // 2026-11-23, after the arrivals below

// postqueue -j lists every file under hold/ (its arrival time from
// arrival/ID); postcat -e -q ID prints hold/ID; postsuper -H ID moves it to
// released/ and postsuper -f ID to expired/, unless the file "refuse" exists. Every postsuper and
// postqueue -i call is appended to "log".
const char* kPostqueue = R"SH(#!/bin/sh
d=$(dirname "$0")
case "$1" in
-j) for f in "$d"/hold/*; do
      [ -e "$f" ] || continue
      id=$(basename "$f")
      printf '{"queue_name": "hold", "queue_id": "%s", "arrival_time": %s, "recipients": []}\n' "$id" "$(cat "$d/arrival/$id")"
    done ;;
-i) echo "postqueue -i $2" >> "$d/log" ;;
*) exit 64 ;;
esac
)SH";
const char* kPostcat = R"SH(#!/bin/sh
d=$(dirname "$0")
[ "$1 $2" = "-e -q" ] || exit 64
cat "$d/hold/$3" 2>/dev/null || { echo "postcat: fatal: open queue file $3: No such file" >&2; exit 1; }
)SH";
const char* kPostsuper = R"SH(#!/bin/sh
d=$(dirname "$0")
echo "postsuper $1 $2" >> "$d/log"
if [ -e "$d/refuse" ]; then echo "postsuper: fatal: refused" >&2; exit 1; fi
case "$1" in
-H) mv "$d/hold/$2" "$d/released/$2" && echo "postsuper: Released from hold: 1 message" >&2 ;;
-f) mv "$d/hold/$2" "$d/expired/$2" && echo "postsuper: Force-expired: 1 message" >&2 ;;
esac
)SH";

struct DrainerTest : ::testing::Test {
  fs::path dir;
  net::io_context io;
  net::thread_pool pool{1};
  testing::FakeCapStore store;
  metrics::Registry registry;
  Drainer drainer{io, pool, store, registry};
  std::shared_ptr<const Config> cfg;

  void SetUp() override {
    char tmpl[] = "/tmp/sg-drainer-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    for (const char* sub : {"hold", "arrival", "released", "expired"})
      fs::create_directory(dir / sub);
    script("postqueue", kPostqueue);
    script("postcat", kPostcat);
    script("postsuper", kPostsuper);
  }
  void TearDown() override {
    pool.join();
    fs::remove_all(dir);
  }

  void script(const std::string& name, const char* text) {
    std::ofstream(dir / name) << text;
    ::chmod((dir / name).c_str(), 0755);
  }

  void configure(const std::string& extra_rampd = "", const std::string& trucking = "") {
    if (!fs::exists(dir / "dead-isp.txt"))
      std::ofstream(dir / "dead-isp.txt") << "deadisp.example\n";
    auto parsed = testing::parse_text(R"(
[lists]
dead_isp = ")" + (dir / "dead-isp.txt").string() +
                                      R"("
[rampd]
postfix_command_dir = ")" + dir.string() +
                                      "\"\n" + extra_rampd + R"(
[operators.google]
domains = ["gmail.com"]
[[stream]]
name = "trucking"
ports = [25]
exclude = ["dead_isp"]
over_cap = "hold"
hourly_cap = 1000
daily_cap = 3
)" + trucking + R"(
[[stream]]
name = "healthcare"
ports = [2526]
over_cap = "hold"
hourly_cap = 1000
daily_cap = 100
)");
    ASSERT_TRUE(parsed.config) << testing::all_errors(parsed);
    cfg = parsed.config;
  }

  // A held message: its queue file as postcat -e shows it.
  void hold(const std::string& id, const std::string& transport,
            const std::vector<std::string>& recipients, int64_t arrival_s) {
    std::ostringstream env;
    env << "*** ENVELOPE RECORDS hold/" << id << " ***\n"
        << "message_arrival_time: Sun Nov 22 22:21:57 2026\n"
        << "content_filter: " << transport << ":\n"
        << "sender: news@send.example.com\n";
    for (const auto& r : recipients)
      env << "original_recipient: " << r << "\nrecipient: " << r << "\n";
    env << "*** MESSAGE CONTENTS hold/" << id << " ***\n"
        << "Subject: load\n\nbody\n"
        << "*** HEADER EXTRACTED hold/" << id << " ***\n"
        << "*** MESSAGE FILE END hold/" << id << " ***\n";
    std::ofstream(dir / "hold" / id) << env.str();
    std::ofstream(dir / "arrival" / id) << arrival_s;
  }

  void run_once() {
    auto guard = net::make_work_guard(io);
    bool done = false;
    net::co_spawn(io, drainer.run_once(cfg, kNowMs), [&](std::exception_ptr e) {
      EXPECT_FALSE(e);
      done = true;
      guard.reset();
    });
    io.restart();
    io.run();
    EXPECT_TRUE(done);
  }

  std::vector<std::string> log() const {
    std::vector<std::string> out;
    std::ifstream in(dir / "log");
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  // The store calls that charge, mark or end reservations (not the
  // per-stream "releasing" reads every round makes).
  std::vector<std::string> acts() const {
    std::vector<std::string> out;
    for (const auto& c : store.calls)
      if (c.rfind("releasing ", 0) != 0) out.push_back(c);
    return out;
  }
  bool released(const std::string& id) const { return fs::exists(dir / "released" / id); }
  bool expired(const std::string& id) const { return fs::exists(dir / "expired" / id); }
};

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
TEST_F(DrainerTest, HeldMailWhoseEveryRecipientIsExcludedNowIsReturnedToItsSender) {
  configure();
  hold("39812A80135", "sg-trucking", {"a@deadisp.example", "b@deadisp.example"}, 1795386100);
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_TRUE(expired("39812A80135"));
  EXPECT_EQ(log(),
            (std::vector<std::string>{"postsuper -f 39812A80135", "postqueue -i 39812A80135"}));
  EXPECT_EQ(std::count(store.calls.begin(), store.calls.end(), "charge trucking"), 0)
      << "charged for a refused recipient";
  EXPECT_EQ(drainer.status().streams.at("trucking").returned_total, 1u);
  EXPECT_EQ(drainer.status().streams.at("trucking").released_total, 0u);
  run_once();  // gone from the hold queue: nothing more happens
  EXPECT_EQ(log().size(), 2u);
}

TEST_F(DrainerTest, HeldMailWithSomeRecipientsExcludedNowStaysHeldAndIsCounted) {
  configure();
  hold("39812A80135", "sg-trucking", {"a@fleet.example", "b@deadisp.example"}, 1795386100);
  hold("39812A80136", "sg-trucking", {"c@fleet.example"}, 1795386200);
  run_once();
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_FALSE(expired("39812A80135")) << "a good recipient's mail returned to the sender";
  EXPECT_TRUE(released("39812A80136")) << "the refused message held up the stream";
  EXPECT_EQ(store.committed["trucking/rampd-39812A80136"], 1);
  EXPECT_EQ(store.reserved.count("trucking/rampd-39812A80135"), 0u);
  EXPECT_EQ(drainer.status().streams.at("trucking").held_refused, 1u);
  EXPECT_EQ(drainer.status().streams.at("trucking").returned_total, 0u);
}

// Suppressed while it waited (rampd learned the address hard-bounced).
constexpr const char* kDeadRecord =
    "1890000000000 1795386000000 user-unknown healthcare 5.1.1 550 5.1.1 User unknown";

TEST_F(DrainerTest, HeldMailToAnAddressSuppressedWhileItWaitedIsReturnedNeverReleased) {
  configure();
  store.suppressed["a:gone@fleet.example"] = kDeadRecord;
  hold("39812A80135", "sg-trucking", {"gone@fleet.example"}, 1795386100);
  hold("39812A80136", "sg-trucking", {"c@fleet.example"}, 1795386200);
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_TRUE(expired("39812A80135"));
  EXPECT_TRUE(released("39812A80136")) << "the suppressed message held up the stream";
  EXPECT_EQ(drainer.status().streams.at("trucking").suppressed_total, 1u);
  EXPECT_EQ(drainer.status().streams.at("trucking").returned_total, 1u);
}

TEST_F(DrainerTest, HeldMailWithOneSuppressedRecipientGivesItsChargesBackAndStaysHeld) {
  configure();
  store.suppressed["d:gone.example"] = kDeadRecord;
  hold("39812A80135", "sg-trucking", {"a@fleet.example", "b@gone.example"}, 1795386100);
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_FALSE(expired("39812A80135")) << "a live recipient's mail returned to the sender";
  EXPECT_EQ(store.reserved.count("trucking/rampd-39812A80135"), 0u)
      << "the first recipient's charge was kept";
  EXPECT_EQ(drainer.status().streams.at("trucking").held_refused, 0u);  // counted next round
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_EQ(drainer.status().streams.at("trucking").suppressed_total, 2u);
}

TEST_F(DrainerTest, InShadowModeASuppressedRecipientIsReleasedAsPolicydAnswers) {
  configure("", "mode = \"shadow\"\n");
  store.suppressed["a:gone@fleet.example"] = kDeadRecord;
  hold("39812A80135", "sg-trucking", {"gone@fleet.example"}, 1795386100);
  run_once();
  EXPECT_TRUE(released("39812A80135"));
}

TEST_F(DrainerTest, InShadowModeAnExcludedRecipientIsReleasedUnchargedAsPolicydAnswers) {
  configure("", "mode = \"shadow\"\n");
  hold("39812A80135", "sg-trucking", {"a@deadisp.example", "b@fleet.example"}, 1795386100);
  run_once();
  EXPECT_TRUE(released("39812A80135"));
  EXPECT_EQ(std::count(store.calls.begin(), store.calls.end(), "charge trucking"), 1)
      << "only the recipient policyd would charge";
}

TEST_F(DrainerTest, ListsThatCannotBeReadStopTheDrainAndSaySo) {
  configure();
  fs::remove(dir / "dead-isp.txt");
  hold("39812A80135", "sg-healthcare", {"a@clinic.example"}, 1795386117);
  run_once();
  EXPECT_FALSE(released("39812A80135"));
  EXPECT_TRUE(acts().empty());
  EXPECT_NE(drainer.status().problem.find("dead-isp.txt"), std::string::npos)
      << drainer.status().problem;
}

// postsuper fails and the message stays held: the next round gives the
// charges back (the mark says a release was tried) and charges afresh; the
// counters hold one charge, never two.
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
