// The systemd notification protocol (server/systemd_notify.hpp) against a
// datagram socket of the test's own, as systemd listens: one message per
// call, nothing without $NOTIFY_SOCKET, an abstract socket by '@', and the
// watchdog interval read from $WATCHDOG_USEC for this process only.
#include "server/systemd_notify.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace sg::daemon {
namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0) << std::strerror(errno);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  // The next message, or "" after 2 s.
  std::string next() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return "";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
};

TEST(SystemdNotify, SendsEachStateAsOneDatagram) {
  NotifySocket s("/tmp/sg-notify-" + std::to_string(::getpid()));
  std::string error;
  EXPECT_TRUE(notify("READY=1\nSTATUS=serving", &error)) << error;
  EXPECT_EQ(s.next(), "READY=1\nSTATUS=serving");
  EXPECT_TRUE(notify(reloading_state()));
  const std::string reloading = s.next();
  EXPECT_TRUE(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC=")) << reloading;
  EXPECT_GT(std::stoll(reloading.substr(reloading.find('=', 12) + 1)), 0);
}

TEST(SystemdNotify, AnAbstractSocketIsNamedWithAnAt) {
  NotifySocket s("@sg-notify-" + std::to_string(::getpid()));
  EXPECT_TRUE(notify("STOPPING=1"));
  EXPECT_EQ(s.next(), "STOPPING=1");
}

TEST(SystemdNotify, NothingWithoutTheVariableAndAnErrorForASocketThatIsGone) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(notify("READY=1"));
  ::setenv("NOTIFY_SOCKET", "/tmp/sg-no-such-notify-socket", 1);
  std::string error;
  EXPECT_FALSE(notify("READY=1", &error));
  EXPECT_NE(error.find("/tmp/sg-no-such-notify-socket"), std::string::npos) << error;
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(notify("READY=1", &error));
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(SystemdNotify, TheWatchdogPingsAtHalfItsTimeoutForThisProcessOnly) {
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  EXPECT_EQ(watchdog_interval(), std::chrono::seconds(15));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(watchdog_interval(), std::chrono::seconds(15));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(watchdog_interval().count(), 0) << "another process's watchdog";
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("WATCHDOG_USEC", "soon", 1);
  EXPECT_EQ(watchdog_interval().count(), 0);
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(watchdog_interval().count(), 0);
  ::unsetenv("WATCHDOG_PID");
}

}  // namespace
}  // namespace sg::daemon
