// A real redis-server for one test: started on a unix socket in a fresh
// temporary folder (no persistence; a TCP port on 127.0.0.1 only when asked,
// as Sentinel needs), stopped or killed on demand and restarted at the same
// address. Also a small synchronous client for the test's own assertions,
// and the pieces sentinel_group.hpp shares: starting a quiet child and one
// command over TCP (a free port is tests/loopback_port.hpp's).
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/loopback_port.hpp"

namespace sg::testing {

// Starts a server that dies with the test: a test process that aborts (an
// ASan report, a failed assertion) must not leave one behind. Its output
// goes to `log`, never to the test's own pipe, which ctest waits on.
inline pid_t spawn_quiet(std::vector<std::string> args, const std::string& log) {
  // Built before fork: the child of a threaded test only execs.
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// A reply as text: integers and strings as they are, arrays joined by ',',
// "(nil)" for nil, "ERR:..." for errors, "(no reply)" for none.
inline std::string reply_text(const redisReply* r) {
  if (!r) return "(no reply)";
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ERROR:
      return "ERR:" + std::string(r->str, r->len);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < r->elements; ++i) out += (i ? "," : "") + reply_text(r->element[i]);
      return out;
    }
    default:
      return std::string(r->str, r->len);
  }
}

// One command on an open connection (see reply_text).
inline std::string run_command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> a;
  std::vector<size_t> l;
  for (const auto& s : argv) {
    a.push_back(s.data());
    l.push_back(s.size());
  }
  auto* r =
      static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(a.size()), a.data(), l.data()));
  std::string out = reply_text(r);
  if (r) freeReplyObject(r);
  return out;
}

// One command to 127.0.0.1:port on a fresh connection, half a second at
// most to connect; "(down)" when nothing answers.
inline std::string tcp_command(uint16_t port, const std::vector<std::string>& argv) {
  timeval limit{0, 500'000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, limit);
  std::string out = "(down)";
  if (c && !c->err) {
    redisSetTimeout(c, limit);
    out = run_command(c, argv);
  }
  if (c) redisFree(c);
  return out;
}

// Credentials every connection of the test's own client sends first.
struct RedisAuth {
  std::string user, password;
};

class RedisServer {
 public:
  // `extra`: more redis-server options ("--appendonly", "yes", ...), after
  // the test's own (no persistence), which they override. `tcp_port`: also
  // listen on 127.0.0.1:tcp_port. `auth`: what the test's client sends when
  // the options ask for a password.
  explicit RedisServer(std::vector<std::string> extra = {}, uint16_t tcp_port = 0,
                       RedisAuth auth = {})
      : extra_(std::move(extra)), tcp_port_(tcp_port), auth_(std::move(auth)) {
    char tmpl[] = "/tmp/sg-redis-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    start();
  }
  ~RedisServer() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string socket_path() const { return dir_ + "/redis.sock"; }
  std::string url() const { return "unix://" + socket_path(); }
  uint16_t tcp_port() const { return tcp_port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }

  void start() {
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(tcp_port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--unixsocket",
                                     socket_path(),
                                     "--unixsocketperm",
                                     "700",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_,
                                     "--loglevel",
                                     "warning"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = spawn_quiet(std::move(args), dir_ + "/redis.log");
    // Ready when it answers PING (bounded: a broken install fails the test).
    for (int i = 0; i < 500; ++i) {
      if (ping()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("redis-server did not start (is it installed?)");
  }

  // SIGKILL: the server vanishes mid-conversation, as in a crash.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    ::unlink(socket_path().c_str());
  }

  // SIGSTOP / SIGCONT: the server hangs with its connections open, the case
  // that only a deadline catches.
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  bool ping() const { return cmd({"PING"}) == "PONG"; }

  // Runs one command on a fresh connection (see reply_text); "(down)" when
  // the server does not answer.
  std::string cmd(const std::vector<std::string>& argv) const {
    redisContext* c = redisConnectUnix(socket_path().c_str());
    std::string out = "(down)";
    if (c && !c->err) {
      if (!auth_.password.empty()) run_command(c, {"AUTH", auth_.user, auth_.password});
      out = run_command(c, argv);
    }
    if (c) redisFree(c);
    return out;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  std::vector<std::string> extra_;
  uint16_t tcp_port_ = 0;
  RedisAuth auth_;
};

}  // namespace sg::testing
