// LogFollower: complete lines only, from the end or the start, across
// rotation by rename and by truncation, and a file that appears later.
#include "rampd/log_follower.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sg::rampd {
namespace {

class LogFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("sg-follow-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
    path = dir + "/maillog";
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  void append(const std::string& text) { std::ofstream(path, std::ios::app) << text; }

  std::string dir, path;
};

using Lines = std::vector<std::string>;

TEST_F(LogFollowerTest, StartsAtTheEndAndReadsOnlyCompleteLines) {
  append("old line\n");
  LogFollower f(path, false);
  EXPECT_EQ(f.poll(), Lines{});
  append("first\nsec");
  EXPECT_EQ(f.poll(), Lines{"first"});
  append("ond\n");
  EXPECT_EQ(f.poll(), Lines{"second"});
  EXPECT_EQ(f.poll(), Lines{});
}

TEST_F(LogFollowerTest, FromStartReadsWhatIsThere) {
  append("a\nb\n");
  LogFollower f(path, true);
  EXPECT_EQ(f.poll(), (Lines{"a", "b"}));
}

TEST_F(LogFollowerTest, FollowsARotationByRenameAfterFinishingTheOldFile) {
  append("a\n");
  LogFollower f(path, true);
  EXPECT_EQ(f.poll(), Lines{"a"});
  append("b\n");
  std::filesystem::rename(path, path + ".1");
  append("c\n");
  EXPECT_EQ(f.poll(), (Lines{"b", "c"}));
  EXPECT_EQ(f.rotations(), 1u);
}

TEST_F(LogFollowerTest, FollowsATruncationInPlace) {
  append("a long first line\n");
  LogFollower f(path, true);
  EXPECT_EQ(f.poll(), Lines{"a long first line"});
  std::ofstream(path, std::ios::trunc) << "x\n";
  EXPECT_EQ(f.poll(), Lines{"x"});
}

TEST_F(LogFollowerTest, WaitsForAFileThatDoesNotExistYetAndReadsItWhole) {
  LogFollower f(path, false);
  EXPECT_EQ(f.poll(), Lines{});
  EXPECT_NE(f.problem().find(path), std::string::npos) << f.problem();
  append("early\n");
  EXPECT_EQ(f.poll(), Lines{"early"});  // not skipped: it was written after we started
  EXPECT_EQ(f.problem(), "");
}

TEST_F(LogFollowerTest, CutsAnOverlongLineAndGoesOn) {
  LogFollower f(path, true);
  append(std::string(LogFollower::kMaxLine + 100, 'x') + "\nnext\n");
  auto lines = f.poll();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), LogFollower::kMaxLine);
  EXPECT_EQ(lines[1], "next");
  EXPECT_EQ(f.cut_lines(), 1u);
}

}  // namespace
}  // namespace sg::rampd
