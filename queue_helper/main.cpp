// streamguard-queue-helper: runs, as root, the three Postfix commands
// streamguard-rampd needs the superuser for (postsuper -H, postsuper -f,
// postcat -e -q), for one allowed user and on queue ids only, so rampd runs
// as its own user. Started by systemd on its socket
// (streamguard-queue-helper.socket), or on --listen.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "queue_helper/serve.hpp"

namespace {

const char* const kHelp =
    R"(Usage: streamguard-queue-helper (--allow-user NAME | --allow-uid UID) [OPTIONS]

Runs, as root, the only commands streamguard-rampd needs the superuser for,
so that rampd itself runs as its own user:

    release QUEUEID    postsuper -H QUEUEID   (held mail released at the cap rate)
    expire QUEUEID     postsuper -f QUEUEID   (held mail every recipient refuses)
    envelope QUEUEID   postcat -e -q QUEUEID  (a held message's envelope)

A request is one line on a unix socket; anything but one of these verbs and
one queue id (5 to 32 letters and digits) is refused, as is any peer whose
uid (from the kernel, SO_PEERCRED) is not the allowed one. Each request is
logged to stderr: who asked, what ran, how it ended. rampd uses it when
[rampd] queue_helper names its socket.

OPTIONS
    --allow-user NAME    The one user served (the user rampd runs as).
    --allow-uid UID      The same by number.
    --listen unix:PATH   Listen here (mode 0660, group: the allowed user's
                         primary group). Without it the socket comes from
                         systemd (LISTEN_FDS; streamguard-queue-helper.socket).
                         A socket a live helper answers on is refused (exit 2);
                         a dead one's socket file is replaced.
    --postfix-command-dir DIR
                         Where postsuper and postcat are (default /usr/sbin).
    --postfix-config-dir DIR
                         Passed as -c DIR to them (default: Postfix's own).
                         Taken from here only, never from a request.
    --timeout-ms N       A command's deadline, then it is killed (default 30000).
    -h, --help           This text.
    --version            The version.

EXIT STATUS
    Runs until stopped; 2 on a usage error or when it cannot listen.
)";

int usage(const std::string& why) {
  std::cerr << "streamguard-queue-helper: " << why << "\nTry 'streamguard-queue-helper --help'.\n";
  return 2;
}

// From systemd's socket activation (sd_listen_fds(3)): fd 3 when LISTEN_PID
// is this process and LISTEN_FDS is 1.
std::optional<int> inherited_socket() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (!pid || !fds || std::string_view(fds) != "1") return std::nullopt;
  if (std::string_view(pid) != std::to_string(::getpid())) return std::nullopt;
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return 3;
}

int listen_on(const std::string& path, gid_t group, std::string& error) {
  sockaddr_un a{};
  if (path.empty() || path.front() != '/' || path.size() >= sizeof a.sun_path) {
    error = "--listen: '" + path + "' is not an absolute socket path of under 108 bytes";
    return -1;
  }
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  // A stale socket file (a helper that died: connection refused) or nothing
  // is replaced; one a live helper answers on is not, or a second start
  // would silently cut the first off. Any other failure is not a proof of
  // death either. (The probe sends nothing; serve() logs it as no request.)
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    error = "--listen " + path + ": " + std::strerror(errno);
    return -1;
  }
  const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  const int why = errno;
  ::close(probe);
  if (live) {
    error = "--listen " + path + ": another process is listening there (a helper already running?)";
    return -1;
  }
  if (why != ECONNREFUSED && why != ENOENT) {
    error = "--listen " + path +
            ": cannot tell whether a helper is listening there: " + std::strerror(why);
    return -1;
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::unlink(path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::chown(path.c_str(), 0, group) != 0 || ::chmod(path.c_str(), 0660) != 0 ||
      ::listen(fd, 16) != 0) {
    error = "--listen " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  sg::queue_helper::ServeOptions o;
  std::optional<uid_t> uid;
  gid_t group = 0;
  std::string listen;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kHelp;
      return 0;
    }
    if (a == "--version") {
      std::cout << "streamguard-queue-helper " << STREAMGUARD_VERSION << "\n";
      return 0;
    }
    if (i + 1 >= argc) return usage("unknown option or missing value: " + std::string(a));
    const std::string v = argv[++i];
    if (a == "--allow-user") {
      const passwd* pw = ::getpwnam(v.c_str());
      if (!pw) return usage("--allow-user: no user '" + v + "' on this host");
      uid = pw->pw_uid;
      group = pw->pw_gid;
    } else if (a == "--allow-uid") {
      unsigned n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || p != v.data() + v.size())
        return usage("--allow-uid: '" + v + "' is not a number");
      uid = n;
      const passwd* pw = ::getpwuid(n);
      group = pw ? pw->pw_gid : 0;
    } else if (a == "--listen") {
      if (!v.starts_with("unix:")) return usage("--listen takes unix:PATH, got '" + v + "'");
      listen = v.substr(5);
    } else if (a == "--postfix-command-dir") {
      if (!v.starts_with('/')) return usage("--postfix-command-dir must be an absolute path");
      o.command_dir = v;
    } else if (a == "--postfix-config-dir") {
      o.config_dir = v;
    } else if (a == "--timeout-ms") {
      unsigned n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || p != v.data() + v.size() || n == 0 || n > 600000)
        return usage("--timeout-ms: '" + v + "' is not a number of 1 to 600000");
      o.command_timeout_ms = n;
    } else {
      return usage("unknown option " + std::string(a));
    }
  }
  if (!uid) return usage("say whom to serve: --allow-user NAME or --allow-uid UID");
  o.allowed_uid = *uid;

  int fd = -1;
  if (!listen.empty()) {
    std::string error;
    fd = listen_on(listen, group, error);
    if (fd < 0) {
      std::cerr << "streamguard-queue-helper: " << error << "\n";
      return 2;
    }
  } else if (auto inherited = inherited_socket()) {
    fd = *inherited;
  } else {
    return usage("no socket: give --listen unix:PATH, or start it from its systemd socket unit");
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::cerr << "serving uid " << o.allowed_uid << " (postsuper and postcat from " << o.command_dir
            << (o.config_dir.empty() ? "" : ", -c " + o.config_dir) << ")" << std::endl;
  for (;;) {
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::cerr << "accept: " << std::strerror(errno) << std::endl;
      ::usleep(100'000);  // out of descriptors: do not spin
      continue;
    }
    sg::queue_helper::serve(c, o);
    ::close(c);
  }
}
