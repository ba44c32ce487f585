// A blocking policy-protocol client for tests: what Postfix's smtpd does,
// one request at a time on a persistent connection.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "formats/policy_protocol.hpp"

namespace sg::testing {

class PolicyClient {
 public:
  explicit PolicyClient(const std::string& unix_path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, unix_path.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("connect " + unix_path + ": " + std::strerror(errno));
  }
  explicit PolicyClient(uint16_t tcp_port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(tcp_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("connect 127.0.0.1:" + std::to_string(tcp_port) + ": " +
                               std::strerror(errno));
  }
  ~PolicyClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  PolicyClient(const PolicyClient&) = delete;
  PolicyClient& operator=(const PolicyClient&) = delete;

  // Sends raw bytes; returns the answer's action text, "" if the server closed
  // the connection, "TIMEOUT" if nothing came within timeout_ms.
  std::string send_raw(const std::string& bytes, int timeout_ms = 5000) {
    if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) return "";
    std::string in;
    char buf[4096];
    while (in.find("\n\n") == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return "TIMEOUT";
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      in.append(buf, static_cast<size_t>(n));
    }
    std::string line = in.substr(0, in.find('\n'));
    if (line.rfind("action=", 0) != 0) throw std::runtime_error("bad answer: " + in);
    return line.substr(7);
  }

  // An RCPT-stage request as Postfix 3.7 sends it.
  std::string rcpt(const std::string& recipient, int server_port,
                   const std::map<std::string, std::string>& extra = {}) {
    auto r = request("RCPT", server_port, "1a2b.3c4d.5e6f.0");
    r.set("queue_id", "");
    r.set("recipient", recipient);
    r.set("recipient_count", "0");
    for (const auto& [k, v] : extra) r.set(k, v);
    return send_raw(policy::encode_request(r));
  }

  // The END-OF-MESSAGE request Postfix sends from smtpd_end_of_data_restrictions.
  std::string end_of_message(int server_port, const std::string& instance,
                             int recipient_count = 1) {
    auto r = request("END-OF-MESSAGE", server_port, instance);
    r.set("queue_id", "4XyZ1234");
    r.set("recipient", "");
    r.set("recipient_count", std::to_string(recipient_count));
    return send_raw(policy::encode_request(r));
  }

  // The attributes every request of one submission shares.
  static policy::Request request(const std::string& state, int server_port,
                                 const std::string& instance) {
    policy::Request r;
    r.set("request", "smtpd_access_policy");
    r.set("protocol_state", state);
    r.set("protocol_name", "ESMTP");
    r.set("client_address", "127.0.0.1");
    r.set("client_name", "localhost");
    r.set("helo_name", "listmonk");
    r.set("sender", "news@send.example.com");
    r.set("server_address", "127.0.0.1");
    r.set("server_port", std::to_string(server_port));
    r.set("instance", instance);
    return r;
  }

  bool closed_by_peer(int timeout_ms = 5000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
};

}  // namespace sg::testing
