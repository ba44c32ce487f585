#include "server/status_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sg {
namespace {

using Clock = std::chrono::steady_clock;

// A connected socket, or -1 with `error` set.
int connect_to(const Endpoint& e, std::string& error) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (e.kind == Endpoint::Kind::unix_socket) {
    auto* un = reinterpret_cast<sockaddr_un*>(&addr);
    if (e.path.size() >= sizeof un->sun_path) {
      error = "the socket path is too long";
      return -1;
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, e.path.c_str(), e.path.size() + 1);
    len = sizeof(sockaddr_un);
  } else if (auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
             ::inet_pton(AF_INET, e.host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(e.port);
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (::inet_pton(AF_INET6, e.host.c_str(), &in6->sin6_addr) != 1) {
      error = "'" + e.host + "' is not an IP address";
      return -1;
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(e.port);
    len = sizeof(sockaddr_in6);
  }
  // The status server answers at once or not at all: a blocking connect
  // to a local endpoint does not wait on a network.
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Waits until fd is ready for `events` or the deadline passes.
bool wait_ready(int fd, short events, Clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
}

// The whole answer, read until the server closes (it sends Connection: close).
std::optional<std::string> exchange(int fd, const std::string& request, Clock::time_point until,
                                    std::string& error) {
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_ready(fd, POLLOUT, until)) {
      error = "timed out sending the request";
      return std::nullopt;
    }
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      error = std::strerror(errno);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[8192];
  for (;;) {
    if (!wait_ready(fd, POLLIN, until)) {
      error = "timed out waiting for the answer";
      return std::nullopt;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      error = std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) return answer;
    answer.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::optional<std::string> status_get(const Endpoint& endpoint, std::string_view path,
                                      std::chrono::milliseconds deadline, std::string& error) {
  const auto until = Clock::now() + deadline;
  const std::string where = endpoint.to_string();
  const int fd = connect_to(endpoint, error);
  if (fd < 0) {
    error = "cannot connect to " + where + ": " + error;
    return std::nullopt;
  }
  auto answer = exchange(fd, "GET " + std::string(path) + " HTTP/1.0\r\nHost: streamguard\r\n\r\n",
                         until, error);
  ::close(fd);
  if (!answer) {
    error = where + ": " + error;
    return std::nullopt;
  }
  const auto head_end = answer->find("\r\n\r\n");
  const auto line_end = answer->find("\r\n");
  if (head_end == std::string::npos || answer->compare(0, 9, "HTTP/1.0 ") != 0) {
    error = where + " did not answer with HTTP";
    return std::nullopt;
  }
  if (answer->compare(9, 3, "200") != 0) {
    error = where + " answered " + answer->substr(9, line_end - 9) + " to GET " + std::string(path);
    return std::nullopt;
  }
  return answer->substr(head_end + 4);
}

}  // namespace sg
