// The real streamguard-policyd binary as an operator runs it: --help,
// --check-config, command-line overrides, serving over TCP with a real Redis,
// SIGHUP reload, and what it tells systemd (READY once it serves, RELOADING
// and READY around a reload, STOPPING, the watchdog).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "formats/maillog.hpp"
#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;

struct Run {
  int status = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sg-bin-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  std::string path;
};

// Starts the binary with stdout/stderr captured in dir; returns its pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& dir) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    std::string out = dir + "/stdout", err = dir + "/stderr";
    (void)!::freopen(out.c_str(), "w", stdout);
    (void)!::freopen(err.c_str(), "w", stderr);
    std::vector<char*> argv;
    std::string bin = SG_POLICYD_BIN;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

Run run(const std::vector<std::string>& args) {
  TempDir d;
  pid_t pid = spawn(args, d.path);
  Run r;
  ::waitpid(pid, &r.status, 0);
  r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
  r.out = slurp(d.path + "/stdout");
  r.err = slurp(d.path + "/stderr");
  return r;
}

TEST(PolicydBinary, HelpReadsLikeAManPage) {
  auto r = run({"--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS",
                              "EXIT STATUS", "EXAMPLES", "--check-config", "--listen", "--redis"})
    EXPECT_NE(r.out.find(section), std::string::npos) << section;
}

TEST(PolicydBinary, UsageErrorsExitTwoAndSayWhy) {
  auto r = run({"--frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option '--frobnicate'"), std::string::npos) << r.err;
  r = run({});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--config FILE is required"), std::string::npos) << r.err;
  // A level the daemon would refuse at start is refused by --check-config too.
  r = run({"--config", std::string(SG_SOURCE_DIR) + "/deploy/examples/streamguard.toml",
           "--log-level", "verbose", "--check-config"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(
      r.err.find("--log-level: 'verbose' is not a log level (trace, debug, info, warn, error)"),
      std::string::npos)
      << r.err;
}

// The example names production paths (/etc/postfix/pw-warmup-start, ...):
// on a machine without them --check-config says so, file by file, and finds
// nothing wrong in the file itself. (With the files there it passes:
// tests/e2e/check_config_test.cpp, and scripts/demo.)
TEST(PolicydBinary, ExampleConfigParsesAndNamesTheRunTimeFilesThisMachineLacks) {
  const std::string example = std::string(SG_SOURCE_DIR) + "/deploy/examples/streamguard.toml";
  auto r = run({"--config", example, "--check-config"});
  if (std::filesystem::exists("/etc/postfix/pw-warmup-start"))
    GTEST_SKIP() << "this machine has the example's warmup stamp";
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("/etc/postfix/pw-warmup-start: missing"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in the files it names"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(example + ":"), std::string::npos) << "the file itself is valid:\n" << r.err;
}

TEST(PolicydBinary, CheckConfigReportsEveryErrorWithFileLineColumn) {
  TempDir d;
  auto cfg = d.file("bad.toml", R"([redis]
url = "http://nope"
[[stream]]
name = "a"
ports = [25]
colour = "blue"
[[stream]]
name = "b"
ports = [25]
over_cap = "explode"
)");
  auto r = run({"--config", cfg, "--check-config"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(cfg + ":2:7: redis url must start with redis://, unix: or sentinel://"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(cfg + ":6:10: unknown key 'colour' in [[stream]]"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(cfg + ":10:12: 'over_cap' is \"explode\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("port 25 belongs to both stream 'a' and stream 'b'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("4 errors in " + cfg), std::string::npos) << r.err;
}

TEST(PolicydBinary, MissingListFileIsNamed) {
  TempDir d;
  auto cfg = d.file("x.toml",
                    "[lists]\nconsumer = \"nowhere.txt\"\n[[stream]]\nname = \"a\"\n"
                    "ports = [25]\nexclude = [\"consumer\"]\n");
  auto r = run({"--config", cfg, "--check-config"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(d.path + "/nowhere.txt"), std::string::npos) << r.err;
}

// Waits for the "listening ... on inet:127.0.0.1:PORT" log line; returns PORT.
uint16_t wait_for_port(const std::string& stderr_path) {
  std::regex re("listening for Postfix policy requests on inet:127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 500; ++i) {
    std::smatch m;
    std::string text = slurp(stderr_path);
    if (std::regex_search(text, m, re)) return static_cast<uint16_t>(std::stoi(m[1]));
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

TEST(PolicydBinary, ServesOverTcpAndReloadsOnSighup) {
  RedisServer redis;
  TempDir d;
  const std::string streams = R"(
[[stream]]
name = "healthcare"
ports = [2526]
exclude = ["yahoo_family"]
daily_cap = 100
hourly_cap = 1000
)";
  auto cfg = d.file("streamguard.toml", config_with_streams(streams));
  pid_t pid = spawn({"--config", cfg, "--listen", "inet:127.0.0.1:0", "--redis", redis.url(),
                     "--log-level", "info"},
                    d.path);
  uint16_t port = wait_for_port(d.path + "/stderr");
  ASSERT_NE(port, 0) << slurp(d.path + "/stderr");
  // SIGPIPE ignored: a Redis killed mid-write must not kill the daemon.
  std::string proc_status = slurp("/proc/" + std::to_string(pid) + "/status");
  std::smatch ign;
  ASSERT_TRUE(std::regex_search(proc_status, ign, std::regex("SigIgn:\\s*([0-9a-f]+)")));
  EXPECT_TRUE(std::stoull(ign[1].str(), nullptr, 16) & (1ull << (SIGPIPE - 1)))
      << "SigIgn: " << ign[1];
  {
    PolicyClient c(port);
    std::string reply;
    for (int i = 0; i < 200 && (reply = c.rcpt("a@clinic.example", 2526)) != "DUNNO"; ++i)
      std::this_thread::sleep_for(10ms);  // until the Redis connection is up
    EXPECT_EQ(reply, "DUNNO");
    EXPECT_EQ(c.rcpt("a@gmail.com", 2526), "DUNNO");

    // A broken file is reported and the running config stays.
    std::ofstream(cfg) << "this is not toml = = =\n";
    ::kill(pid, SIGHUP);
    for (int i = 0;
         i < 300 && slurp(d.path + "/stderr").find("keeping the running") == std::string::npos; ++i)
      std::this_thread::sleep_for(10ms);
    EXPECT_NE(slurp(d.path + "/stderr").find("keeping the running configuration"),
              std::string::npos);
    EXPECT_EQ(c.rcpt("b@gmail.com", 2526), "DUNNO");

    // A valid file takes effect on the same connection.
    std::string stricter = streams;
    stricter.replace(stricter.find("[\"yahoo_family\"]"), 16, "[\"yahoo_family\", \"consumer\"]");
    std::ofstream(cfg) << config_with_streams(stricter);
    ::kill(pid, SIGHUP);
    // Wait for the reload's own line, not by asking (each DUNNO would spend
    // the hourly budget the next answer depends on).
    const std::string reloaded = "reload: " + cfg + " loaded";
    for (int i = 0; i < 1000 && slurp(d.path + "/stderr").find(reloaded) == std::string::npos; ++i)
      std::this_thread::sleep_for(10ms);
    EXPECT_NE(slurp(d.path + "/stderr").find(reloaded), std::string::npos)
        << slurp(d.path + "/stderr");
    const std::string after = c.rcpt("c@gmail.com", 2526);
    EXPECT_EQ(after,
              "REJECT 5.7.1 streamguard: gmail.com is consumer webmail, which stream healthcare "
              "excludes");
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto log = slurp(d.path + "/stderr");
  EXPECT_NE(log.find("decision queue_id=- stream=healthcare rcpt_domain=clinic.example "
                     "operator=- operator_by=- action=dunno reason=ok"),
            std::string::npos)
      << log;
}

// The daemons keep time in the config's zone (the day the caps count in);
// a log stamp says which, so it reads right beside the host's own stamps.
TEST(PolicydBinary, LogStampsCarryTheConfigZonesOffset) {
  RedisServer redis;
  TempDir d;
  std::string text = config_with_streams("[[stream]]\nname = \"bulk\"\nports = [2525]\n");
  const std::string utc = "timezone = \"UTC\"";
  ASSERT_NE(text.find(utc), std::string::npos);
  text.replace(text.find(utc), utc.size(), "timezone = \"America/Chicago\"");
  auto cfg = d.file("streamguard.toml", text);
  pid_t pid = spawn({"--config", cfg, "--listen", "inet:127.0.0.1:0", "--redis", redis.url(),
                     "--log-level", "info"},
                    d.path);
  ASSERT_NE(wait_for_port(d.path + "/stderr"), 0) << slurp(d.path + "/stderr");
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  const std::string log = slurp(d.path + "/stderr");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      log, m,
      std::regex("^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
                 "(-0[56]:00)) streamguard-policyd\\[[0-9]+\\] ")))
      << log;
  // Chicago is 5 or 6 hours behind UTC; read back with its offset, the
  // stamp is the moment the line was written.
  const auto stamp_ms = maillog::iso_time_ms(m[1].str());
  ASSERT_TRUE(stamp_ms.has_value()) << m[1];
  EXPECT_LT(std::abs(*stamp_ms - now_ms), 60'000) << m[1] << " against " << now_ms;
}

// A datagram socket as systemd's notification socket; the next message.
std::string next_message(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return "(none within 5 s)";
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "(recv failed)";
}

// The next message that is not a watchdog ping (counted in `pings`).
std::string next_state(int fd, int& pings) {
  for (;;) {
    std::string m = next_message(fd);
    if (m != "WATCHDOG=1") return m;
    ++pings;
  }
}

TEST(PolicydBinary, TellsSystemdWhenItServesReloadsAndStops) {
  RedisServer redis;
  TempDir d;
  auto cfg = d.file("streamguard.toml", config_with_streams(R"(
[[stream]]
name = "healthcare"
ports = [2526]
)"));
  const std::string sock = d.path + "/notify";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  // The child inherits them; the test's own process does not keep them.
  ::setenv("NOTIFY_SOCKET", sock.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);
  pid_t pid = spawn({"--config", cfg, "--listen", "inet:127.0.0.1:0", "--redis", redis.url(),
                     "--log-level", "info"},
                    d.path);
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  int pings = 0;
  EXPECT_EQ(next_state(fd, pings), "READY=1\nSTATUS=serving");
  // READY comes after the listener is bound: its port is already logged.
  EXPECT_NE(wait_for_port(d.path + "/stderr"), 0) << slurp(d.path + "/stderr");
  ::kill(pid, SIGHUP);
  EXPECT_TRUE(next_state(fd, pings).starts_with("RELOADING=1\nMONOTONIC_USEC="));
  EXPECT_EQ(next_state(fd, pings), "READY=1\nSTATUS=serving; configuration reloaded");
  std::ofstream(cfg) << "not toml = = =\n";
  ::kill(pid, SIGHUP);
  EXPECT_TRUE(next_state(fd, pings).starts_with("RELOADING=1"));
  EXPECT_EQ(next_state(fd, pings),
            "READY=1\nSTATUS=serving; the last reload failed, the running configuration stays "
            "(see the log)");
  // Every 100 ms (half of WATCHDOG_USEC), from the loop.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(next_message(fd), "WATCHDOG=1");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(next_state(fd, pings), "STOPPING=1\nSTATUS=stopping: finishing the requests in flight");
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(fd);
}

}  // namespace
}  // namespace sg::testing
