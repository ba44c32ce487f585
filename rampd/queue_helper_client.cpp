#include "rampd/queue_helper_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace sg::rampd {

namespace {

command::Result not_started(const Endpoint& helper, const std::string& why) {
  command::Result r;
  r.error = "streamguard-queue-helper at " + helper.path + ": " + why;
  return r;
}

}  // namespace

command::Result ask_queue_helper(const Endpoint& helper, const queue_helper::Request& request,
                                 uint32_t timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  sockaddr_un a{};
  if (helper.path.size() >= sizeof a.sun_path) return not_started(helper, "socket path too long");
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, helper.path.c_str(), helper.path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return not_started(helper, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return not_started(helper, std::string("cannot connect: ") + std::strerror(errno) +
                                   " (is streamguard-queue-helper.socket running?)");
  const std::string line = queue_helper::encode_request(request);
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return not_started(helper, std::string("cannot send: ") + std::strerror(errno));
  // The answer ends when the helper closes; a command's output is small
  // (an envelope, one line of postsuper), so 16 MB is a bound, never a size.
  std::string answer;
  char buf[8192];
  while (answer.size() < (16u << 20)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return not_started(helper, "no answer within the command timeout");
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above decides
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return not_started(helper, std::string("reading: ") + std::strerror(errno));
    if (n == 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  auto result = queue_helper::parse_result(answer);
  if (!result) return not_started(helper, "an answer that is not a result (a different version?)");
  return *result;
}

}  // namespace sg::rampd
