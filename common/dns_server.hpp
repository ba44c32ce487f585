// A DNS server as the config names one ([dns] servers), in the form c-ares
// takes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg {

// A DNS server from the config: "127.0.0.1", "127.0.0.1:5353", "::1",
// "[::1]:5353".
struct DnsServer {
  std::string ip;
  uint16_t port = 53;
  std::string to_string() const;  // "127.0.0.1:5353" / "[::1]:5353", as c-ares takes it
};
std::optional<DnsServer> parse_dns_server(std::string_view text, std::string& error);

}  // namespace sg
