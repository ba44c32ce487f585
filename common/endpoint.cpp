#include "common/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sg {

std::string Endpoint::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "inet:[" + host + "]:" + std::to_string(port);
  return "inet:" + host + ":" + std::to_string(port);
}

bool Endpoint::is_loopback() const {
  if (kind == Kind::unix_socket) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return host == "::1";
}

std::optional<HostPort> split_host_port(std::string_view text, bool last_colon,
                                        HostPortError& error) {
  error = HostPortError::none;
  HostPort out;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = HostPortError::unclosed_bracket;
      return std::nullopt;
    }
    out.bracketed = true;
    out.host = text.substr(1, close - 1);
    const auto after = text.substr(close + 1);
    if (after.empty()) return out;
    if (after.front() != ':') {
      error = HostPortError::text_after_bracket;
      return std::nullopt;
    }
    out.has_port = true;
    out.port = after.substr(1);
    return out;
  }
  out.colons = static_cast<std::size_t>(std::count(text.begin(), text.end(), ':'));
  const auto colon = last_colon ? text.rfind(':') : text.find(':');
  if (colon == std::string_view::npos || (!last_colon && out.colons > 1)) {
    out.host = text;
    return out;
  }
  out.has_port = true;
  out.host = text.substr(0, colon);
  out.port = text.substr(colon + 1);
  return out;
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error) {
  Endpoint ep;
  if (text.starts_with("unix:")) {
    ep.kind = Endpoint::Kind::unix_socket;
    ep.path = std::string(text.substr(5));
    if (ep.path.empty() || ep.path.front() != '/') {
      error = "unix socket path must be absolute: '" + std::string(text) + "'";
      return std::nullopt;
    }
    if (ep.path.size() >= 108) {
      error = "unix socket path is longer than 107 bytes: '" + ep.path + "'";
      return std::nullopt;
    }
    return ep;
  }
  std::string_view rest = text;
  if (rest.starts_with("inet:")) rest.remove_prefix(5);
  ep.kind = Endpoint::Kind::tcp;
  HostPortError split_error;
  const auto hp = split_host_port(rest, true, split_error);
  if (!hp || (hp->bracketed && !hp->has_port)) {
    error = "expected inet:[IPv6]:PORT, got '" + std::string(text) + "'";
    return std::nullopt;
  }
  if (!hp->has_port) {
    error = "expected unix:/path, inet:HOST:PORT or HOST:PORT, got '" + std::string(text) + "'";
    return std::nullopt;
  }
  ep.host = std::string(hp->host);
  const std::string_view port_text = hp->port;
  if (ep.host == "localhost") ep.host = "127.0.0.1";
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, ep.host.c_str(), &v4) != 1 &&
      inet_pton(AF_INET6, ep.host.c_str(), &v6) != 1) {
    error = "'" + ep.host + "' is not a literal IP address (host names are not resolved) in '" +
            std::string(text) + "'";
    return std::nullopt;
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535) {
    error = "bad port '" + std::string(port_text) + "' in '" + std::string(text) + "'";
    return std::nullopt;
  }
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

}  // namespace sg
