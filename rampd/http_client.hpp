// A small blocking HTTP/1.1 client for rampd's few calls to local services
// (Listmonk's POST /api/admin/reload): plain http:// only, one request per
// connection (`Connection: close`), the whole exchange bounded by one deadline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sg::http {

// An http:// URL taken apart.
struct HttpUrl {
  std::string host;    // a name, an IPv4 address or an IPv6 address (without brackets)
  uint16_t port = 80;  // 80 when the URL names none
  std::string target;  // path and query as sent on the request line; "/" when the URL has none

  // "host" or "host:port" (IPv6 in brackets), as sent in the Host header.
  std::string host_header() const;
  // "host:port" (IPv6 in brackets), for messages.
  std::string authority() const;
};

// Parses "http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]". The scheme is
// case-insensitive; HOST is a name, an IPv4 address or "[IPv6]"; the fragment
// is dropped. Refused, with a message in `error`: other schemes (https is not
// supported), user:password@ in the URL, an empty host, a port outside
// 1-65535, and spaces or control characters anywhere.
std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error);

// A byte that may appear neither in a URL nor in a header name: a space,
// a control character or DEL.
inline bool is_ctl_or_space(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  bool ok = false;  // a complete response was received (any status); see error otherwise
  int status = 0;   // the HTTP status, 0 when none was received
  std::string body;
  std::string error;  // why there is no response: bad URL, resolve, connect, timeout, ...
};

// POSTs `body` to `url` with `headers` (plus Host, Content-Length and
// Connection: close) and reads the response until the server closes the
// connection or Content-Length bytes of body have arrived (a chunked body is
// decoded). Connecting (to each address the host resolves to, in turn),
// sending and receiving all share one deadline of timeout_ms. Resolving a
// host name uses the system resolver, which the deadline does not bound: use
// an IP address for a strict bound.
Response post(const std::string& url, const Headers& headers, const std::string& body,
              uint32_t timeout_ms);

}  // namespace sg::http
