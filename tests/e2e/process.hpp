// Process plumbing for the end-to-end harness: run a command with a deadline,
// start a long-lived child, find a free loopback port, poll with a bound, and
// a reaper that kills whatever the test started if the test process dies.
#pragma once

#include "tests/loopback_port.hpp"

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace sg::e2e {

using namespace std::chrono_literals;

// Absolute path of a program: PATH first, then the sbin folders Postfix's
// commands live in (root's PATH in CI may lack them). Empty if not found.
std::string find_tool(const std::string& name);

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (an absolute path) with extra "NAME=value" environment entries,
// stdin from /dev/null, output captured through a file (so a daemon the
// command leaves behind cannot hold a pipe open). Killed at the deadline.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 30s,
                          const std::vector<std::string>& env = {});

// Starts argv[0] (absolute path) in the background, stdout and stderr
// appended to log_path, stdin from /dev/null. Returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path);

// SIGTERM, wait up to grace, then SIGKILL; reaps the child.
void terminate(pid_t pid, std::chrono::milliseconds grace = 5s);

// Polls cond every 10 ms until it holds or limit passes. Never a blind sleep:
// it returns as soon as the condition is true.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds limit = 15s);

// A TCP port on 127.0.0.1 that was free a moment ago (bound, read, closed).
using sg::testing::free_loopback_port;

// True if something accepts TCP connections on 127.0.0.1:port.
bool tcp_accepts(uint16_t port);
// True if something accepts connections on the unix socket.
bool unix_accepts(const std::string& path);

std::string slurp(const std::string& path);

// Cleans up after a test process that dies without running destructors (a
// crash, an abort, ctest's timeout kill): a child forked before anything else
// that holds the read end of a pipe. The test tells it what it started; when
// the pipe closes (the test process exited, however), it SIGKILLs what is
// still registered and removes the registered folders. Orderly teardown
// unregisters each thing as it stops it.
class Reaper {
 public:
  Reaper();
  ~Reaper();
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  void watch_pid(pid_t pid);
  void watch_group(pid_t pgid);  // kill(-pgid): a daemon and all its children
  void watch_dir(const std::string& path);
  void forget_pid(pid_t pid);
  void forget_group(pid_t pgid);
  void forget_dir(const std::string& path);

 private:
  void send(const std::string& line);
  int fd_ = -1;
  pid_t pid_ = -1;
};

}  // namespace sg::e2e
