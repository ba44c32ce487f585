// What stays queued for Listmonk after a blocklist that committed only some
// of its batches (rampd/listmonk_blocklist.hpp, drop_sent): addresses went
// first, then domains; entries added while it ran were not taken and stay.
#include <gtest/gtest.h>

#include "rampd/listmonk_blocklist.hpp"

namespace sg::listmonk {
namespace {

suppression::Entry entry(SuppressScope scope, std::string key) {
  suppression::Entry e;
  e.scope = scope;
  e.key = std::move(key);
  return e;
}

std::vector<std::string> keys(const std::deque<suppression::Entry>& d) {
  std::vector<std::string> out;
  for (const auto& e : d) out.push_back(e.key);
  return out;
}

std::deque<suppression::Entry> mixed() {
  // Taken: a1 d1 a2 a3 d2; then a4, added while the batch ran.
  return {entry(SuppressScope::address, "a1"), entry(SuppressScope::domain, "d1"),
          entry(SuppressScope::address, "a2"), entry(SuppressScope::address, "a3"),
          entry(SuppressScope::domain, "d2"),  entry(SuppressScope::address, "a4")};
}

TEST(BlocklistSplit, AllSentLeavesWhatCameMeanwhile) {
  auto d = mixed();
  EXPECT_EQ(drop_sent(d, 5, 5), 5u);
  EXPECT_EQ(keys(d), (std::vector<std::string>{"a4"}));
}

TEST(BlocklistSplit, AddressBatchesCommittedThenADomainBatchFailed) {
  auto d = mixed();
  EXPECT_EQ(drop_sent(d, 5, 4), 4u) << "three addresses and the first domain";
  EXPECT_EQ(keys(d), (std::vector<std::string>{"d2", "a4"}));
}

TEST(BlocklistSplit, AFailureBeforeAnyCommitKeepsEverything) {
  auto d = mixed();
  EXPECT_EQ(drop_sent(d, 5, 0), 0u);
  EXPECT_EQ(keys(d), (std::vector<std::string>{"a1", "d1", "a2", "a3", "d2", "a4"}));
}

TEST(BlocklistSplit, PartOfTheAddressesCommitted) {
  auto d = mixed();
  EXPECT_EQ(drop_sent(d, 5, 2), 2u);
  EXPECT_EQ(keys(d), (std::vector<std::string>{"d1", "a3", "d2", "a4"}));
}

TEST(BlocklistSplit, TextArrayQuotesEachValue) {
  EXPECT_EQ(text_array({"a@b.example", "q\"uote@x", "back\\slash@x"}),
            "{\"a@b.example\",\"q\\\"uote@x\",\"back\\\\slash@x\"}");
  EXPECT_EQ(text_array({}), "{}");
}

}  // namespace
}  // namespace sg::listmonk
