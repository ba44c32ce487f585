// A real redis-server for one test: started on a unix socket in a fresh
// temporary folder (no TCP port, no persistence), stopped or killed on demand
// and restarted at the same address. Also a small synchronous client for the
// test's own assertions.
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

namespace sg::testing {

class RedisServer {
 public:
  // `extra`: more redis-server options ("--appendonly", "yes", ...), after
  // the test's own (no persistence), which they override.
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
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
  pid_t pid() const { return pid_; }

  void start() {
    // Built before fork: the child of a threaded test only execs.
    std::vector<std::string> args = {
        "redis-server", "--port",     "0",      "--unixsocket", socket_path(), "--unixsocketperm",
        "700",          "--save",     "",       "--appendonly", "no",          "--dir",
        dir_,           "--loglevel", "warning"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = dir_ + "/redis.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      // Die with the test: a test process that aborts (an ASan report, a
      // failed assertion) must not leave a server behind. Its output goes to a
      // file, never to the test's own pipe, which ctest waits on.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
      }
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
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

  bool ping() const {
    redisContext* c = redisConnectUnix(socket_path().c_str());
    bool ok = false;
    if (c && !c->err) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
      ok = r && r->type == REDIS_REPLY_STATUS;
      if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
  }

  // Runs one command; returns the reply as text (integers and strings), arrays
  // joined by ','; "(nil)" for nil; "ERR:..." for errors.
  std::string cmd(const std::vector<std::string>& argv) const {
    redisContext* c = redisConnectUnix(socket_path().c_str());
    if (!c || c->err) {
      if (c) redisFree(c);
      throw std::runtime_error("cannot connect to test redis");
    }
    std::vector<const char*> a;
    std::vector<size_t> l;
    for (const auto& s : argv) {
      a.push_back(s.data());
      l.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(a.size()), a.data(), l.data()));
    std::string out = render(r);
    if (r) freeReplyObject(r);
    redisFree(c);
    return out;
  }

 private:
  static std::string render(const redisReply* r) {
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
        for (size_t i = 0; i < r->elements; ++i) out += (i ? "," : "") + render(r->element[i]);
        return out;
      }
      default:
        return std::string(r->str, r->len);
    }
  }

  std::string dir_;
  pid_t pid_ = -1;
  std::vector<std::string> extra_;
};

}  // namespace sg::testing
