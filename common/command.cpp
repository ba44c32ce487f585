#include "common/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <thread>

namespace sg::command {

namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Closes a descriptor we own once; -1 afterwards.
void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A pipe end numbered 0-2 (the caller runs with a standard descriptor
// closed) would be clobbered by the child's own dup2 onto 0-2: move it up.
bool above_stdio(int& fd) {
  if (fd > 2) return true;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  fd = moved;
  return moved >= 0;
}

bool make_pipe(int (&fds)[2], std::string& error) {
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = errno_text("pipe2", errno);
    fds[0] = fds[1] = -1;
    return false;
  }
  if (!above_stdio(fds[0]) || !above_stdio(fds[1])) {
    error = errno_text("fcntl", errno);
    close_fd(fds[0]);
    close_fd(fds[1]);
    return false;
  }
  // Only our (read) end: the child's end stays blocking.
  const int flags = ::fcntl(fds[0], F_GETFL);
  if (flags < 0 || ::fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
    error = errno_text("fcntl", errno);
    close_fd(fds[0]);
    close_fd(fds[1]);
    return false;
  }
  return true;
}

struct Sink {
  int fd = -1;
  std::string* buf = nullptr;
  const char* name = "";
  bool cut = false;
};

// Reads what is there now; closes the descriptor at end of file or error.
void drain(Sink& s, std::size_t max_output) {
  char chunk[65536];
  while (s.fd >= 0) {
    const ssize_t n = ::read(s.fd, chunk, sizeof chunk);
    if (n > 0) {
      const std::size_t room = max_output - std::min(max_output, s.buf->size());
      const std::size_t take = std::min(room, static_cast<std::size_t>(n));
      s.buf->append(chunk, take);
      if (take < static_cast<std::size_t>(n)) s.cut = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close_fd(s.fd);  // end of file, or an error that will not clear
  }
}

void add_error(Result& r, const std::string& what) {
  if (!r.error.empty()) r.error += "; ";
  r.error += what;
}

void record_status(Result& r, int status) {
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
}

// Blocks until the child is reaped (it has been sent SIGKILL, or it is
// known to be gone).
void reap_blocking(pid_t pid, Result& r) {
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, 0);
    if (w == pid) {
      record_status(r, status);
      return;
    }
    if (w < 0 && errno == EINTR) continue;
    add_error(r, errno_text("waitpid", errno));
    return;
  }
}

std::string clean(std::string_view s, std::size_t limit) {
  std::string out;
  for (char c : s.substr(0, limit))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > limit) out += "...";
  return out;
}

std::string first_line(std::string_view text) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) return std::string(line);
  }
  return {};
}

// argv as execve wants it, pointing into `argv`; empty (and `error` set)
// when there is nothing to run or an argument cannot be passed.
std::vector<char*> exec_args(const std::vector<std::string>& argv, std::string& error) {
  std::vector<char*> args;
  if (argv.empty() || argv[0].empty()) {
    error = "no program to run";
    return args;
  }
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    if (a.find('\0') != std::string::npos) {
      error = "an argument contains a NUL byte";
      return {};
    }
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  return args;
}

// Starts the child with stdin from /dev/null, stdout and stderr on the
// pipes' write ends, default signals and its own process group. Returns
// posix_spawn's error number, 0 when started.
int spawn(std::vector<char*>& args, int out_fd, int err_fd, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Whatever another part of the process opened without O_CLOEXEC stays out.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

// A started child, watched until it is reaped or the deadline passes.
struct Child {
  pid_t pid;
  Clock::time_point deadline;
  Result& r;
  bool reaped = false;

  void kill_group(bool timeout) {
    ::kill(-pid, SIGKILL);  // the child leads its own group; not reaped yet, so still ours
    if (timeout) r.timed_out = true;
  }

  // True (and the group killed) once the deadline has passed.
  bool past_deadline(Clock::time_point now) {
    if (now < deadline) return false;
    kill_group(true);
    return true;
  }

  void try_reap() {
    int status = 0;
    pid_t w;
    do {
      w = ::waitpid(pid, &status, WNOHANG);
    } while (w < 0 && errno == EINTR);
    if (w == pid) {
      record_status(r, status);
      reaped = true;
    } else if (w < 0) {  // ECHILD: reaped elsewhere (SIGCHLD ignored?)
      add_error(r, errno_text("waitpid", errno));
      reaped = true;
    }
  }

  // Reads until both pipes close or the child is gone. The poll is sliced so
  // that a child which exits while a descendant still holds the pipes open
  // is noticed; what it wrote before exiting is in the pipe and drained.
  void read_output(Sink (&sinks)[2], std::size_t max_output) {
    constexpr int kSliceMs = 50;
    while (!reaped && !r.timed_out && (sinks[0].fd >= 0 || sinks[1].fd >= 0)) {
      const auto now = Clock::now();
      if (past_deadline(now)) return;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
      pollfd fds[2];
      nfds_t n = 0;
      for (const auto& s : sinks)
        if (s.fd >= 0) fds[n++] = {s.fd, POLLIN, 0};
      const int ready = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), kSliceMs)));
      if (ready < 0 && errno != EINTR) {
        add_error(r, errno_text("poll", errno));
        kill_group(false);
        return;
      }
      for (auto& s : sinks) drain(s, max_output);
      try_reap();
    }
  }

  // The pipes are closed (or a descendant holds them): waits for the exit,
  // backing off from 0.1 ms to 10 ms, until the deadline; then reaps.
  void wait_exit() {
    auto nap = std::chrono::microseconds(100);
    while (!reaped && !r.timed_out && r.error.empty()) {
      try_reap();
      const auto now = Clock::now();
      if (reaped || past_deadline(now)) break;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(nap, std::chrono::ceil<Clock::duration>(deadline - now)));
      nap = std::min<std::chrono::microseconds>(nap * 2, std::chrono::milliseconds(10));
    }
    if (!reaped) reap_blocking(pid, r);
  }
};

}  // namespace

Result run(const std::vector<std::string>& argv, uint32_t timeout_ms, std::size_t max_output) {
  Result r;
  std::vector<char*> args = exec_args(argv, r.error);
  if (args.empty()) return r;

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (!make_pipe(out_pipe, r.error)) return r;
  if (!make_pipe(err_pipe, r.error)) {
    close_fd(out_pipe[0]);
    close_fd(out_pipe[1]);
    return r;
  }
  pid_t pid = -1;
  const int rc = spawn(args, out_pipe[1], err_pipe[1], pid);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  if (rc != 0) {
    close_fd(out_pipe[0]);
    close_fd(err_pipe[0]);
    r.error = errno_text("posix_spawn", rc);
    return r;
  }
  r.started = true;

  Sink sinks[2] = {{out_pipe[0], &r.out, "stdout"}, {err_pipe[0], &r.err, "stderr"}};
  Child child{pid, Clock::now() + std::chrono::milliseconds(timeout_ms), r};
  child.read_output(sinks, max_output);
  child.wait_exit();

  for (auto& s : sinks) {
    drain(s, max_output);  // what is left in the pipe; never blocks
    close_fd(s.fd);
    if (s.cut)
      add_error(r, std::string(s.name) + " over " + std::to_string(max_output) + " bytes, cut");
  }
  if (r.timed_out) r.exit_code = -1;
  return r;
}

std::string describe(const Result& r, const std::vector<std::string>& argv) {
  constexpr std::size_t kMaxArg = 120, kMaxDetail = 300;
  std::string line;
  for (const auto& a : argv) {
    if (!line.empty()) line += ' ';
    const bool quote = a.empty() || a.find_first_of(" \t'\"") != std::string::npos;
    if (quote) line += '\'';
    line += clean(a, kMaxArg);
    if (quote) line += '\'';
  }
  if (line.empty()) line = "(no command)";
  if (!r.started) return line + ": not started: " + clean(r.error, kMaxDetail);
  if (r.timed_out)
    line += ": timed out, killed";
  else if (r.signal != 0)
    line += ": killed by signal " + std::to_string(r.signal);
  else
    line += ": exit " + std::to_string(r.exit_code);
  if (!r.ok()) {
    std::string said = first_line(r.err);
    if (said.empty()) said = first_line(r.out);
    if (!said.empty()) line += ": " + clean(said, kMaxDetail);
  }
  if (!r.error.empty()) line += " (" + clean(r.error, kMaxDetail) + ")";
  return line;
}

std::vector<std::string> postfix_argv(const std::string& command_dir, const char* program,
                                      const std::string& config_dir,
                                      std::vector<std::string> args) {
  std::vector<std::string> argv{command_dir + "/" + program};
  if (!config_dir.empty()) argv.insert(argv.end(), {"-c", config_dir});
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

}  // namespace sg::command
