#include "tests/e2e/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace sg::e2e {

namespace {

// argv and envp for execve, built before fork (nothing allocates after it).
struct ExecArgs {
  std::vector<std::string> storage;
  std::vector<char*> argv, envp;
  ExecArgs(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
    storage.reserve(args.size() + extra_env.size());
    for (const auto& a : args) storage.push_back(a);
    for (const auto& e : extra_env) storage.push_back(e);
    for (std::size_t i = 0; i < args.size(); ++i) argv.push_back(storage[i].data());
    argv.push_back(nullptr);
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (std::size_t i = args.size(); i < storage.size(); ++i) envp.push_back(storage[i].data());
    envp.push_back(nullptr);
  }
};

[[noreturn]] void exec_child(const ExecArgs& a, int out_fd) {
  ::setpgid(0, 0);  // its own group: a timeout kills it and what it started
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  ::execve(a.argv[0], a.argv.data(), a.envp.data());
  ::_exit(127);
}

bool reap_within(pid_t pid, std::chrono::milliseconds limit, int* status) {
  auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(2ms);
  }
}

}  // namespace

std::string find_tool(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');)
      if (!d.empty()) dirs.push_back(d);
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.push_back(d);
  for (const auto& d : dirs) {
    std::string p = d + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& env) {
  // An unlinked temporary file: nothing is left behind, whatever happens.
  char tmpl[] = "/tmp/sg-e2e-out-XXXXXX";
  int fd = ::mkostemp(tmpl, O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::unlink(tmpl);
  ExecArgs args(argv, env);
  pid_t pid = ::fork();
  if (pid == 0) exec_child(args, fd);
  CommandResult r;
  int status = 0;
  if (!reap_within(pid, timeout, &status)) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    r.timed_out = true;
  }
  r.exit_code = (!r.timed_out && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  char chunk[4096];
  for (off_t off = 0;;) {
    ssize_t n = ::pread(fd, chunk, sizeof chunk, off);
    if (n <= 0) break;
    r.output.append(chunk, static_cast<std::size_t>(n));
    off += n;
  }
  ::close(fd);
  return r;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log_path);
  ExecArgs args(argv, {});
  pid_t pid = ::fork();
  if (pid == 0) exec_child(args, fd);
  ::close(fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

void terminate(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  if (!reap_within(pid, grace, &status)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(10ms);
  }
}

bool tcp_accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

bool unix_accepts(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- Reaper ----------------------------------------------------------------

namespace {

[[noreturn]] void reaper_main(int fd) {
  // Survive the signals a terminal or ctest sends the whole group: the
  // cleanup must run after the test process is gone.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  // Hold no terminal or ctest pipe open.
  int devnull = ::open("/dev/null", O_RDWR);
  for (int i = 0; i < 3; ++i) ::dup2(devnull, i);
  std::set<pid_t> pids, groups;
  std::set<std::string> dirs;
  std::string buf;
  char chunk[512];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t eol; (eol = buf.find('\n')) != std::string::npos;) {
      std::string line = buf.substr(0, eol);
      buf.erase(0, eol + 1);
      if (line.size() < 3) continue;
      bool add = line[0] == '+';
      char kind = line[1];
      std::string arg = line.substr(2);
      if (kind == 'd') {
        add ? (void)dirs.insert(arg) : (void)dirs.erase(arg);
      } else {
        pid_t p = static_cast<pid_t>(std::atoi(arg.c_str()));
        auto& set = kind == 'g' ? groups : pids;
        add ? (void)set.insert(p) : (void)set.erase(p);
      }
    }
  }
  for (pid_t g : groups) ::kill(-g, SIGKILL);
  for (pid_t p : pids) ::kill(p, SIGKILL);
  std::error_code ec;
  for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
  ::_exit(0);
}

}  // namespace

Reaper::Reaper() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::close(p[1]);
    reaper_main(p[0]);
  }
  ::close(p[0]);
  fd_ = p[1];
}

Reaper::~Reaper() {
  ::close(fd_);
  ::waitpid(pid_, nullptr, 0);
}

void Reaper::send(const std::string& line) {
  std::string s = line + "\n";
  (void)!::write(fd_, s.data(), s.size());  // one small write: atomic on a pipe
}

void Reaper::watch_pid(pid_t pid) {
  send("+p" + std::to_string(pid));
}
void Reaper::watch_group(pid_t pgid) {
  send("+g" + std::to_string(pgid));
}
void Reaper::watch_dir(const std::string& path) {
  send("+d" + path);
}
void Reaper::forget_pid(pid_t pid) {
  send("-p" + std::to_string(pid));
}
void Reaper::forget_group(pid_t pgid) {
  send("-g" + std::to_string(pgid));
}
void Reaper::forget_dir(const std::string& path) {
  send("-d" + path);
}

}  // namespace sg::e2e
