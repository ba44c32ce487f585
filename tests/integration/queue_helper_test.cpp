// streamguard-queue-helper, the binary, on a socket of the test's: it runs
// exactly the command a request names, with its own command and config
// directories, for the allowed uid only, and refuses anything else without
// running anything. Its postsuper and postcat here are scripts that record
// their arguments (the program runner is the seam; the real Postfix
// commands run through it in QueueHelperE2E).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/command.hpp"
#include "rampd/queue_helper_client.hpp"
#include "tests/integration/redis_server.hpp"
#include "tests/text_match.hpp"

namespace sg::testing {
namespace {

namespace fs = std::filesystem;

class QueueHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sg-queue-helper-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ + "/bin");
    // Each records its arguments, one run per line, and says what postsuper says.
    for (const char* p : {"postsuper", "postcat"}) {
      const std::string path = dir_ + "/bin/" + p;
      std::ofstream(path) << "#!/bin/sh\necho \"" << p << " $*\" >> " << dir_
                          << "/ran\necho 'Released from hold: 1 message' >&2\n";
      ::chmod(path.c_str(), 0755);
    }
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void start(const std::string& allow_uid, std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {
        SG_QUEUE_HELPER_BIN, "--allow-uid",           allow_uid,    "--listen",
        "unix:" + socket(),  "--postfix-command-dir", dir_ + "/bin"};
    argv.insert(argv.end(), more.begin(), more.end());
    fs::remove(dir_ + "/helper.log");  // a restart's log is its own
    pid_ = spawn_quiet(argv, dir_ + "/helper.log");
    // Its first line comes after listen(): the socket file alone exists from
    // bind(), when a connection is still refused.
    for (int i = 0; i < 1000 && !contains(log(), "serving uid"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(contains(log(), "serving uid")) << log();
  }

  std::string socket() const { return dir_ + "/helper.sock"; }
  std::string log() const { return slurp(dir_ + "/helper.log"); }
  std::string ran() const { return slurp(dir_ + "/ran"); }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  command::Result ask(queue_helper::Verb verb, const std::string& id) {
    Endpoint ep;
    ep.path = socket();
    return rampd::ask_queue_helper(ep, {verb, id}, 10'000);
  }

  // Raw bytes, as a peer that does not speak the protocol would send them.
  std::string send_raw(const std::string& bytes) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, socket().c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string in;
    char buf[512];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, n);
    ::close(fd);
    return in;
  }

  std::string dir_;
  pid_t pid_ = -1;
};

TEST_F(QueueHelperTest, EachVerbRunsExactlyItsCommandWithTheHelpersOwnDirectories) {
  start(std::to_string(::getuid()), {"--postfix-config-dir", "/etc/postfix-out"});
  const auto released = ask(queue_helper::Verb::release, "4BXk2L0TfTz9vKJ");
  EXPECT_TRUE(released.ok()) << released.error;
  EXPECT_EQ(released.err, "Released from hold: 1 message\n");
  EXPECT_TRUE(ask(queue_helper::Verb::expire, "3F2A1B9C0D").ok());
  EXPECT_TRUE(ask(queue_helper::Verb::envelope, "4BXk2L0TfTz9vKJ").ok());
  EXPECT_EQ(ran(),
            "postsuper -c /etc/postfix-out -H 4BXk2L0TfTz9vKJ\n"
            "postsuper -c /etc/postfix-out -f 3F2A1B9C0D\n"
            "postcat -c /etc/postfix-out -e -q 4BXk2L0TfTz9vKJ\n");
  // Each request is logged: who, what, how it ended.
  EXPECT_TRUE(contains(log(), "uid " + std::to_string(::getuid()) +
                                  ": release 4BXk2L0TfTz9vKJ: " + dir_ +
                                  "/bin/postsuper -c /etc/postfix-out -H 4BXk2L0TfTz9vKJ: "
                                  "exit 0"))
      << log();
}

TEST_F(QueueHelperTest, AnythingButAVerbAndAQueueIdIsRefusedAndNothingRuns) {
  start(std::to_string(::getuid()));
  const std::vector<std::string> bad_requests = {
      "release -d ALL\n", "release ALL\n", "release 4BXk2L0TfTz9vKJ -d ALL\n",
      "delete 4BXk2L0TfTz9vKJ\n", std::string(4096, 'A')};
  for (const auto& bad : bad_requests) {
    const auto r = queue_helper::parse_result(send_raw(bad));
    ASSERT_TRUE(r) << bad;
    EXPECT_FALSE(r->started);
    EXPECT_TRUE(r->error.starts_with("the queue helper refused: '")) << r->error;
  }
  EXPECT_EQ(ran(), "");
  EXPECT_TRUE(contains(log(), ": refused 'release -d ALL': not a queue id")) << log();
  // Still serving after all that.
  EXPECT_TRUE(ask(queue_helper::Verb::release, "4BXk2L0TfTz9vKJ").ok());
}

TEST_F(QueueHelperTest, OnlyTheAllowedUidIsServed) {
  start(std::to_string(::getuid() + 4242));
  const auto r = ask(queue_helper::Verb::release, "4BXk2L0TfTz9vKJ");
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.error,
            "the queue helper refused: uid " + std::to_string(::getuid()) + " is not allowed");
  EXPECT_EQ(ran(), "");
  EXPECT_TRUE(contains(log(), "is not the allowed uid " + std::to_string(::getuid() + 4242)))
      << log();
}

TEST_F(QueueHelperTest, NoHelperListeningIsAFailureThatSaysWhere) {
  const auto r = ask(queue_helper::Verb::release, "4BXk2L0TfTz9vKJ");
  EXPECT_FALSE(r.started);
  EXPECT_TRUE(r.error.starts_with("streamguard-queue-helper at " + socket() + ": cannot connect: "))
      << r.error;
}

TEST_F(QueueHelperTest, ASecondHelperLeavesALiveSocketAloneAndAStaleOneIsReplaced) {
  start(std::to_string(::getuid()));
  const auto second = command::run({SG_QUEUE_HELPER_BIN, "--allow-uid", std::to_string(::getuid()),
                                    "--listen", "unix:" + socket()},
                                   10'000);
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_TRUE(contains(second.err, "another process is listening there")) << second.err;
  EXPECT_TRUE(ask(queue_helper::Verb::release, "4BXk2L0TfTz9vKJ").ok()) << log();
  // The second one's probe asked nothing, and the first one says just that.
  EXPECT_TRUE(contains(log(), "a connection sent no request")) << log();
  EXPECT_FALSE(contains(log(), "refused")) << log();

  // The first one killed leaves its socket file behind: a restart takes it.
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  ASSERT_TRUE(fs::exists(socket()));
  start(std::to_string(::getuid()));
  EXPECT_TRUE(ask(queue_helper::Verb::release, "4BXk2L0TfTz9vKJ").ok()) << log();
}

TEST_F(QueueHelperTest, UsageErrorsAndHelp) {
  const auto none = command::run({SG_QUEUE_HELPER_BIN}, 10'000);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(contains(none.err, "say whom to serve: --allow-user NAME or --allow-uid UID"))
      << none.err;
  const auto nobody =
      command::run({SG_QUEUE_HELPER_BIN, "--allow-user", "no-such-user-sg"}, 10'000);
  EXPECT_EQ(nobody.exit_code, 2);
  EXPECT_TRUE(contains(nobody.err, "no user 'no-such-user-sg' on this host")) << nobody.err;
  const auto no_socket = command::run({SG_QUEUE_HELPER_BIN, "--allow-uid", "0"}, 10'000);
  EXPECT_EQ(no_socket.exit_code, 2);
  EXPECT_TRUE(contains(no_socket.err, "no socket: give --listen unix:PATH")) << no_socket.err;
  const auto help = command::run({SG_QUEUE_HELPER_BIN, "--help"}, 10'000);
  EXPECT_TRUE(help.ok());
  EXPECT_TRUE(contains(help.out, "postsuper -H QUEUEID")) << help.out;
}

}  // namespace
}  // namespace sg::testing
