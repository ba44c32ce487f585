// Listen and connect addresses as an operator writes them in the config:
//   "unix:/path/to/socket"      a unix-domain stream socket
//   "inet:127.0.0.1:10040"      TCP (the "inet:" prefix is optional)
//   "inet:[::1]:10040"          TCP over IPv6
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg {

struct Endpoint {
  enum class Kind { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;  // unix_socket
  std::string host;  // tcp: a literal IPv4 or IPv6 address, no brackets
  uint16_t port = 0;

  std::string to_string() const;
  bool is_loopback() const;  // unix sockets count as local
  bool operator==(const Endpoint&) const = default;
};

// Parses an endpoint; on failure returns nullopt and sets `error` to a sentence
// a person can act on.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error);

// "[HOST]:PORT", "[HOST]", "HOST:PORT" or "HOST", split: the one reading of
// a host and port that endpoints, DNS servers and http:// URLs share; each
// caller checks the parts itself. Brackets are taken off the host. Without
// them the port follows the last ':' when `last_colon`, else the only ':'
// (with several, the whole text is the host: a bare IPv6 address).
struct HostPort {
  std::string_view host;
  std::string_view port;  // empty when !has_port
  bool bracketed = false;
  bool has_port = false;
  std::size_t colons = 0;  // ':' outside brackets
};
enum class HostPortError { none, unclosed_bracket, text_after_bracket };
std::optional<HostPort> split_host_port(std::string_view text, bool last_colon,
                                        HostPortError& error);

}  // namespace sg
