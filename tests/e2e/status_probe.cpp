#include "tests/e2e/status_probe.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

namespace sg::e2e {

std::string http_get_unix(const std::string& socket_path, const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, socket_path.c_str(), sizeof a.sun_path - 1);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
    (void)!::write(fd, req.data(), req.size());
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::optional<double> metric_value(const std::string& page, const std::string& series) {
  // A series starts a line and is followed by one space and the value.
  const std::string key = series + " ";
  for (std::size_t at = page.find(key); at != std::string::npos; at = page.find(key, at + 1)) {
    if (at != 0 && page[at - 1] != '\n') continue;
    const char* start = page.c_str() + at + key.size();
    char* end = nullptr;
    const double v = std::strtod(start, &end);
    if (end != start) return v;
  }
  return std::nullopt;
}

std::optional<double> read_metric(const std::string& socket, const std::string& series) {
  return metric_value(http_get_unix(socket, "/metrics"), series);
}

bool wait_drain_rounds(const std::string& socket, int rounds, std::chrono::milliseconds limit) {
  const std::string series = "streamguard_rampd_drain_rounds_total";
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::optional<double> start;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto now = read_metric(socket, series);
    if (now && !start) start = now;
    if (now && start && *now >= *start + rounds) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace sg::e2e
