#include "common/dns_server.hpp"

#include "common/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sg {

std::string DnsServer::to_string() const {
  bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::optional<DnsServer> parse_dns_server(std::string_view text, std::string& error) {
  DnsServer s;
  HostPortError split_error;
  const auto hp = split_host_port(text, false, split_error);
  if (!hp) {
    error = "'" + std::string(text) + "': " +
            (split_error == HostPortError::unclosed_bracket ? "missing ']'"
                                                            : "expected ':PORT' after ']'");
    return std::nullopt;
  }
  const std::string_view host = hp->host, port = hp->port;
  unsigned char buf[16];
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), buf) != 1 && inet_pton(AF_INET6, h.c_str(), buf) != 1) {
    error = "'" + std::string(text) + "' is not an IP address (write IP, IP:PORT or [IPv6]:PORT)";
    return std::nullopt;
  }
  s.ip = h;
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535) {
      error = "'" + std::string(text) + "': port must be from 1 to 65535";
      return std::nullopt;
    }
    s.port = static_cast<uint16_t>(v);
  }
  return s;
}

}  // namespace sg
