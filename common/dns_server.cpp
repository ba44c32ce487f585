#include "common/dns_server.hpp"

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
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = "'" + std::string(text) + "': missing ']'";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = "'" + std::string(text) + "': expected ':PORT' after ']'";
        return std::nullopt;
      }
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
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
