// The drainer and recipients a stream must not mail now: held mail whose
// recipients became excluded or suppressed while it waited is returned or
// kept, never released past the rules; in shadow mode it is released as
// policyd would answer; lists that cannot be read stop the drain.
#include "rampd/drainer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/drainer_test_support.hpp"

namespace sg::rampd {
namespace {

using namespace drainer_test;

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
}  // namespace
}  // namespace sg::rampd
