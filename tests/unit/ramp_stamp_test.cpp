// The warmup ramp's start stamp: the epoch seconds `date +%s` writes, parsed
// strictly, and the file read with an error naming the path and why.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "rules/ramp.hpp"
#include "tests/unit/case_name.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- the stamp

struct StampCase {
  const char* name;
  const char* text;
  std::optional<int64_t> value;
  const char* error;  // a part of the message when value is nullopt
};

class RampStamp : public ::testing::TestWithParam<StampCase> {};

TEST_P(RampStamp, Parses) {
  const auto& c = GetParam();
  std::string error;
  auto v = ramp::parse_stamp(c.text, error);
  EXPECT_EQ(v, c.value) << error;
  if (!c.value) {
    EXPECT_NE(error.find(c.error), std::string::npos) << error;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RampStamp,
    ::testing::Values(
        StampCase{"Plain", "1763424000", 1763424000, ""},
        StampCase{"DateNewline", "1763424000\n", 1763424000, ""},
        StampCase{"Surrounded", " \t1763424000 \r\n", 1763424000, ""},
        StampCase{"Zero", "0", 0, ""}, StampCase{"LeadingZeros", "0001763424000", 1763424000, ""},
        StampCase{"Empty", "", std::nullopt, "empty"},
        StampCase{"OnlyNewline", "\n\n", std::nullopt, "empty"},
        StampCase{"Word", "yesterday", std::nullopt, "not a number: \"yesterday\""},
        StampCase{"Plus", "+1763424000", std::nullopt, "not a number"},
        StampCase{"Negative", "-86400", std::nullopt, "negative: \"-86400\""},
        StampCase{"Garbage", "1763424000x", std::nullopt,
                  "trailing garbage after the number: \"x\""},
        StampCase{"TwoNumbers", "1763424000\n1763510400\n", std::nullopt, "trailing garbage"},
        StampCase{"Fraction", "1763424000.25", std::nullopt, "trailing garbage"},
        StampCase{"Milliseconds", "1763424000000", std::nullopt, "milliseconds instead of seconds"},
        StampCase{"Huge", "99999999999999999999999999", std::nullopt, "out of range"}),
    case_name);

TEST(RampStamp, NulByteInTheMiddle) {
  std::string error;
  EXPECT_EQ(ramp::parse_stamp(std::string_view("17634\0"
                                               "24000",
                                               11),
                              error),
            std::nullopt);
  EXPECT_EQ(error, "trailing garbage after the number: \"\\x0024000\" (want only epoch seconds)");
}

class RampStampFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sg-ramp-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(RampStampFile, ReadsWhatDateWrites) {
  std::string error;
  EXPECT_EQ(ramp::read_stamp(write("start", "1763424000\n"), error), 1763424000);
  EXPECT_EQ(error, "");
}

TEST_F(RampStampFile, MissingIsAnErrorNamingThePath) {
  const auto path = (dir_ / "nope").string();
  std::string error;
  EXPECT_EQ(ramp::read_stamp(path, error), std::nullopt);
  EXPECT_EQ(error, path + ": missing (No such file or directory)");
}

TEST_F(RampStampFile, EmptyPathIsAnError) {
  std::string error;
  EXPECT_EQ(ramp::read_stamp("", error), std::nullopt);
  EXPECT_EQ(error, "ramp stamp: no file named");
}

TEST_F(RampStampFile, BadContentNamesThePathAndWhy) {
  std::string error;
  const auto empty = write("empty", "");
  EXPECT_EQ(ramp::read_stamp(empty, error), std::nullopt);
  EXPECT_EQ(error, empty + ": empty: no warmup start (epoch seconds) in it");
  const auto word = write("word", "Mon Nov 18 2026\n");
  EXPECT_EQ(ramp::read_stamp(word, error), std::nullopt);
  EXPECT_EQ(error, word +
                       ": not a number: \"Mon Nov 18 2026\" (want epoch seconds, e.g. from "
                       "date +%s)");
  const auto big = write("big", std::string(300, '1'));
  EXPECT_EQ(ramp::read_stamp(big, error), std::nullopt);
  EXPECT_EQ(error, big + ": over 256 bytes, not a stamp (want epoch seconds)");
}

TEST_F(RampStampFile, DirectoryIsUnreadable) {
  std::string error;
  EXPECT_EQ(ramp::read_stamp(dir_.string(), error), std::nullopt);
  EXPECT_EQ(error, dir_.string() + ": cannot read (Is a directory)");
}

// Root reads any file: as root (CI), the read runs in a child that has
// dropped to the unprivileged user nobody (65534), as rampd without root would.
TEST_F(RampStampFile, NoPermissionIsUnreadable) {
  const auto path = write("locked", "1763424000\n");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // the folder itself may be entered
  std::string error;
  bool readable = false;
  if (::geteuid() != 0) {
    readable = ramp::read_stamp(path, error).has_value();
  } else {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
      std::string e;
      const bool ok = ramp::read_stamp(path, e).has_value();
      const auto n = ::write(fds[1], e.data(), e.size());
      ::_exit(n < 0 ? 3 : ok ? 1 : 0);
    }
    ::close(fds[1]);
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) error.append(buf, size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 2) << "cannot drop to nobody";
    readable = WEXITSTATUS(status) == 1;
  }
  EXPECT_FALSE(readable);
  EXPECT_EQ(error, path + ": cannot open (Permission denied)");
}

}  // namespace
}  // namespace sg
