#include "common/command.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sg::command {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::set<std::string> open_fds() {
  std::set<std::string> fds;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') fds.insert(e->d_name);
    ::closedir(d);
  }
  return fds;
}

TEST(Command, TrueExitsZero) {
  const std::vector<std::string> argv{"/bin/true"};
  const Result r = run(argv, 5000);
  EXPECT_TRUE(r.started);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(describe(r, argv), "/bin/true: exit 0");
}

TEST(Command, FalseExitsOne) {
  const std::vector<std::string> argv{"/bin/false"};
  const Result r = run(argv, 5000);
  EXPECT_TRUE(r.started);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(describe(r, argv), "/bin/false: exit 1");
}

TEST(Command, CapturesStdoutAndStderrApartWithTheExitCode) {
  const std::vector<std::string> argv{"/bin/sh", "-c", "echo x; echo y >&2; exit 3"};
  const Result r = run(argv, 5000);
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "x\n");
  EXPECT_EQ(r.err, "y\n");
  EXPECT_EQ(describe(r, argv), "/bin/sh -c 'echo x; echo y >&2; exit 3': exit 3: y");
}

TEST(Command, ArgumentsReachTheProgramAsGivenWithoutAShell) {
  const std::vector<std::string> argv{"/bin/echo", "$HOME", "a b", "; rm -rf /", "`id`"};
  const Result r = run(argv, 5000);
  EXPECT_TRUE(r.ok()) << describe(r, argv);
  EXPECT_EQ(r.out, "$HOME a b ; rm -rf / `id`\n");
}

TEST(Command, StdinIsDevNull) {
  const Result r = run({"/bin/cat"}, 5000);  // returns at once: end of file
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out, "");
}

TEST(Command, TimeoutKillsTheChildAndItsGroupWithinTheTimeout) {
  const std::vector<std::string> argv{"/bin/sh", "-c", "sleep 30 & echo $!; wait"};
  const auto t0 = Clock::now();
  const Result r = run(argv, 300);
  const auto took = Clock::now() - t0;
  EXPECT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.ok());
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 300ms + 2s);  // loose: a loaded machine
  // What it wrote comes after, for the log line.
  EXPECT_EQ(describe(r, argv), "/bin/sh -c 'sleep 30 & echo $!; wait': timed out, killed: " +
                                   r.out.substr(0, r.out.size() - 1));

  // The background sleep was in the child's group: killed too (gone, or a
  // zombie waiting for whoever reaps orphans here).
  const pid_t sleeper = std::stoi(r.out);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    std::ifstream in("/proc/" + std::to_string(sleeper) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const auto close_paren = stat.rfind(')');
    gone = !in || (close_paren != std::string::npos && stat.compare(close_paren, 4, ") Z ") == 0);
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone) << "pid " << sleeper << " still running";
}

TEST(Command, PlainSleepTimesOut) {
  const auto t0 = Clock::now();
  const Result r = run({"/bin/sleep", "10"}, 200);
  const auto took = Clock::now() - t0;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(took, 200ms + 2s);
}

TEST(Command, ExitIsSeenWhileADescendantHoldsThePipes) {
  // The shell exits at once; its background child keeps stdout open.
  const auto t0 = Clock::now();
  const Result r = run({"/bin/sh", "-c", "sleep 3 & echo done"}, 10000);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.out, "done\n");
}

TEST(Command, MissingProgramIsNotStarted) {
  // No shell, so no "exit 127": posix_spawn reports the exec failure.
  const std::vector<std::string> argv{"/nonexistent/postqueue", "-j"};
  const Result r = run(argv, 5000);
  EXPECT_FALSE(r.started);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.error, "posix_spawn: No such file or directory");
  EXPECT_EQ(describe(r, argv),
            "/nonexistent/postqueue -j: not started: posix_spawn: No such file or directory");
  // Not a PATH search either.
  EXPECT_FALSE(run({"true"}, 5000).started);
  EXPECT_FALSE(run({"/etc/hostname"}, 5000).started);  // not executable
  EXPECT_FALSE(run({}, 5000).started);
  EXPECT_FALSE(run({"/bin/echo", std::string("a\0b", 3)}, 5000).started);
}

TEST(Command, KilledBySignal) {
  const std::vector<std::string> argv{"/bin/sh", "-c", "echo dying >&2; kill -TERM $$"};
  const Result r = run(argv, 5000);
  EXPECT_TRUE(r.started);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(describe(r, argv), "/bin/sh -c 'echo dying >&2; kill -TERM $$': killed by signal " +
                                   std::to_string(SIGTERM) + ": dying");
}

TEST(Command, LargeOutputIsReadWholeOrCutWithoutBlockingTheChild) {
  const Result whole = run({"/bin/sh", "-c", "head -c 1000000 /dev/zero"}, 10000);
  EXPECT_TRUE(whole.ok()) << whole.error;
  EXPECT_EQ(whole.out.size(), 1000000u);

  const Result cut = run(
      {"/bin/sh", "-c", "head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2"}, 10000, 1000);
  EXPECT_TRUE(cut.started);
  EXPECT_EQ(cut.exit_code, 0);
  EXPECT_FALSE(cut.timed_out);
  EXPECT_EQ(cut.out.size(), 1000u);
  EXPECT_EQ(cut.err.size(), 1000u);
  EXPECT_EQ(cut.error, "stdout over 1000 bytes, cut; stderr over 1000 bytes, cut");
}

TEST(Command, NoDescriptorLeaksIntoTheChildOrOutlivesTheCall) {
  // A descriptor some other part of the process opened without O_CLOEXEC.
  const int null = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(null, 0);
  const int stray = ::dup2(null, 100);
  ::close(null);
  ASSERT_EQ(stray, 100);
  const auto before = open_fds();
  // The shell's descriptors, listed by ls (a child of the shell).
  const Result r = run({"/bin/sh", "-c", "ls /proc/$$/fd"}, 5000);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.out, "0\n1\n2\n");
  for (int i = 0; i < 20; ++i) run({"/bin/sh", "-c", "echo x; echo y >&2"}, 5000);
  run({"/bin/sleep", "5"}, 50);
  run({"/nonexistent"}, 50);
  EXPECT_EQ(open_fds(), before);
  ::close(stray);
}

TEST(Command, SignalsTheParentIgnoresAreDefaultInTheChild) {
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGTERM, &ignore, &old);
  const Result r = run({"/bin/sh", "-c", "kill -TERM $$; sleep 5"}, 3000);
  ::sigaction(SIGTERM, &old, nullptr);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_FALSE(r.timed_out);
}

TEST(Command, DescribeKeepsOneBoundedLine) {
  Result r;
  r.started = true;
  r.exit_code = 1;
  r.err = "\n\n  postsuper: fatal: \x1b[31mbad\x1b[0m queue id\r\nsecond line\n";
  EXPECT_EQ(describe(r, {"/usr/sbin/postsuper", "-H", "X"}),
            "/usr/sbin/postsuper -H X: exit 1:   postsuper: fatal: ?[31mbad?[0m queue id");
  r.err.clear();
  r.out = "only stdout said something\n";
  EXPECT_EQ(describe(r, {"/x"}), "/x: exit 1: only stdout said something");
  r.err = std::string(5000, 'e');
  EXPECT_LT(describe(r, {"/x"}).size(), 400u);
  EXPECT_EQ(describe(r, {}), "(no command): exit 1: " + std::string(300, 'e') + "...");
}

}  // namespace
}  // namespace sg::command
