// Helpers shared by the tests of rampd's Listmonk synchronisation
// (listmonk_*_test.cpp beside this file): elapsed time, and a listener that
// never answers, for the timeouts.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>

#include "tests/text_match.hpp"

namespace sg {

using sg::testing::contains;

// Milliseconds since t0, on the steady clock.
inline long long ms_since(std::chrono::steady_clock::time_point t0) {
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
}

// A socket listening on 127.0.0.1 that never accepts: the kernel completes
// the TCP handshake, then nobody ever answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sg
