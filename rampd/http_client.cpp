#include "rampd/http_client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "common/endpoint.hpp"
#include "common/text.hpp"

namespace sg::http {
namespace {

using text::iequals;
using text::trim;

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxResponseBytes = 1 << 20;  // a reload answer is a few bytes

// strerror without its shared buffer: the calls may run on several threads.
std::string errno_text(int e) {
  char buf[256];
  return ::strerror_r(e, buf, sizeof buf);  // the GNU variant: returns the text
}

bool is_ctl_or_space(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

bool host_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// Milliseconds left before the deadline, for poll(); 0 once it has passed.
int remaining_ms(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60000 ? 60000 : static_cast<int>(left);
}

// Waits until fd is ready for `events`. false: the deadline passed first.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms);
    if (n > 0) return true;  // ready, or an error/hangup the next call reports
    if (n < 0 && errno != EINTR) return true;
  }
}

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Socket() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Connects to one address before the deadline. On failure returns an empty
// socket and sets `error`; `timed_out` tells a passed deadline apart.
Socket connect_one(const addrinfo& ai, Clock::time_point deadline, std::string& error,
                   bool& timed_out) {
  Socket s(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
  if (s.get() < 0) {
    error = std::string("socket: ") + errno_text(errno);
    return {};
  }
  if (::connect(s.get(), ai.ai_addr, ai.ai_addrlen) == 0) return s;
  if (errno != EINPROGRESS && errno != EINTR) {
    error = errno_text(errno);
    return {};
  }
  if (!wait_for(s.get(), POLLOUT, deadline)) {
    timed_out = true;
    return {};
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
  if (so_error != 0) {
    error = errno_text(so_error);
    return {};
  }
  return s;
}

struct Head {
  int status = 0;
  std::optional<size_t> content_length;
  bool chunked = false;
};

// Parses the status line and the headers we need. false: not HTTP.
bool parse_head(std::string_view head, Head& out, std::string& error) {
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
    error = "not an HTTP response: '" + std::string(status_line.substr(0, 40)) + "'";
    return false;
  }
  int status = 0;
  auto digits = status_line.substr(9, 3);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
  if (ec != std::errc() || p != digits.data() + digits.size() || status < 100 || status > 999) {
    error = "bad HTTP status line: '" + std::string(status_line.substr(0, 40)) + "'";
    return false;
  }
  out.status = status;
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      size_t n = 0;
      auto [q, ec2] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec2 != std::errc() || q != value.data() + value.size()) {
        error = "bad Content-Length: '" + std::string(value) + "'";
        return false;
      }
      out.content_length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      std::string v(value);
      text::lower_in_place(v);
      out.chunked = v.find("chunked") != std::string::npos;
    }
  }
  return true;
}

enum class Dechunk { complete, incomplete, bad };

// Decodes a chunked body (extensions and trailers ignored).
Dechunk dechunk(std::string_view in, std::string& out) {
  out.clear();
  size_t pos = 0;
  for (;;) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return Dechunk::incomplete;
    std::string_view size_line = in.substr(pos, eol - pos);
    size_t semi = size_line.find(';');
    if (semi != std::string_view::npos) size_line = size_line.substr(0, semi);
    size_line = trim(size_line);
    size_t size = 0;
    auto [p, ec] = std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
    if (size_line.empty() || ec != std::errc() || p != size_line.data() + size_line.size())
      return Dechunk::bad;
    pos = eol + 2;
    if (size == 0) return Dechunk::complete;  // trailers, if any, do not matter
    if (in.size() < pos + size + 2) return Dechunk::incomplete;
    out.append(in.substr(pos, size));
    pos += size + 2;
  }
}

bool valid_header_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (is_ctl_or_space(c) || c == ':') return false;
  return true;
}

bool valid_header_value(std::string_view v) {
  for (char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

}  // namespace

std::string HttpUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != 80) h += ":" + std::to_string(port);
  return h;
}

std::string HttpUrl::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error) {
  error.clear();
  for (char c : url) {
    if (is_ctl_or_space(c)) {
      error = "URL contains a space or a control character: '" + std::string(url) + "'";
      return std::nullopt;
    }
  }
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    error = "not an http:// URL: '" + std::string(url) + "'";
    return std::nullopt;
  }
  std::string_view scheme = url.substr(0, sep);
  if (iequals(scheme, "https")) {
    error = "https is not supported (only http://): '" + std::string(url) + "'";
    return std::nullopt;
  }
  if (!iequals(scheme, "http")) {
    error = "not an http:// URL: '" + std::string(url) + "'";
    return std::nullopt;
  }
  std::string_view rest = url.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);

  if (authority.find('@') != std::string_view::npos) {
    // Not echoed: the part before '@' may be a password.
    error = "user:password@ in an http:// URL is not supported (use api_user and api_token_file)";
    return std::nullopt;
  }

  HttpUrl out;
  HostPortError split_error;
  const auto hp = split_host_port(authority, false, split_error);
  if (!hp) {
    error = (split_error == HostPortError::unclosed_bracket ? "unclosed '[' in the host of '"
                                                            : "unexpected text after ']' in '") +
            std::string(url) + "'";
    return std::nullopt;
  }
  const std::string_view host = hp->host, port = hp->port;
  const bool has_port = hp->has_port;
  if (hp->bracketed) {
    in6_addr a6{};
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) {
      error = "'" + std::string(host) + "' is not an IPv6 address in '" + std::string(url) + "'";
      return std::nullopt;
    }
  } else {
    if (hp->colons > 1) {
      error = "an IPv6 address must be in brackets ([::1]) in '" + std::string(url) + "'";
      return std::nullopt;
    }
    for (char c : host) {
      if (!host_name_char(c)) {
        error =
            "bad character '" + std::string(1, c) + "' in the host of '" + std::string(url) + "'";
        return std::nullopt;
      }
    }
  }
  if (host.empty()) {
    error = "no host in '" + std::string(url) + "'";
    return std::nullopt;
  }
  out.host = std::string(host);
  if (has_port) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || port.size() > 5 || ec != std::errc() || p != port.data() + port.size() ||
        value < 1 || value > 65535) {
      error = "bad port '" + std::string(port) + "' in '" + std::string(url) + "' (1-65535)";
      return std::nullopt;
    }
    out.port = static_cast<uint16_t>(value);
  }
  size_t hash = tail.find('#');
  if (hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (tail.empty())
    out.target = "/";
  else if (tail.front() == '?')
    out.target = "/" + std::string(tail);
  else
    out.target = std::string(tail);
  return out;
}

Response post(const std::string& url, const Headers& headers, const std::string& body,
              uint32_t timeout_ms) {
  Response r;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string err;
  auto u = parse_http_url(url, err);
  if (!u) {
    r.error = err;
    return r;
  }
  for (const auto& [name, value] : headers) {
    if (!valid_header_name(name) || !valid_header_value(value)) {
      r.error = "bad HTTP header '" + name + "' (empty name, or a line break in it or its value)";
      return r;
    }
  }

  // Resolve.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(u->port);
  int gai = ::getaddrinfo(u->host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    r.error = "cannot resolve " + u->host + ": " + ::gai_strerror(gai);
    return r;
  }

  // Connect: each address in turn, all before the one deadline.
  Socket sock;
  std::string connect_error = "no address";
  bool timed_out = false;
  for (addrinfo* ai = res; ai && !timed_out; ai = ai->ai_next) {
    sock = connect_one(*ai, deadline, connect_error, timed_out);
    if (sock.get() >= 0) break;
  }
  ::freeaddrinfo(res);
  if (sock.get() < 0) {
    r.error = timed_out ? "timed out after " + std::to_string(timeout_ms) + " ms connecting to " +
                              u->authority()
                        : "cannot connect to " + u->authority() + ": " + connect_error;
    return r;
  }

  // Send.
  std::string req = "POST " + u->target + " HTTP/1.1\r\nHost: " + u->host_header() + "\r\n";
  for (const auto& [name, value] : headers) req += name + ": " + value + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  req += body;
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(sock.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_for(sock.get(), POLLOUT, deadline)) {
        r.error =
            "timed out after " + std::to_string(timeout_ms) + " ms sending to " + u->authority();
        return r;
      }
      continue;
    }
    r.error = "cannot send to " + u->authority() + ": " + errno_text(errno);
    return r;
  }

  // Receive until close, or until the announced body is complete.
  std::string in;
  std::optional<Head> head;
  size_t body_start = 0;
  char buf[4096];
  for (;;) {
    if (head) {
      if (head->chunked) {
        std::string decoded;
        auto d = dechunk(std::string_view(in).substr(body_start), decoded);
        if (d == Dechunk::bad) {
          r.error = "bad chunked body from " + u->authority();
          return r;
        }
        if (d == Dechunk::complete) {
          r.body = std::move(decoded);
          break;
        }
      } else if (head->content_length && in.size() - body_start >= *head->content_length) {
        r.body = in.substr(body_start, *head->content_length);
        break;
      }
    }
    ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      if (in.size() > kMaxResponseBytes) {
        r.error = "response from " + u->authority() + " is larger than " +
                  std::to_string(kMaxResponseBytes) + " bytes";
        return r;
      }
      if (!head) {
        size_t end = in.find("\r\n\r\n");
        if (end != std::string::npos) {
          Head h;
          if (!parse_head(std::string_view(in).substr(0, end), h, err)) {
            r.error = err + " from " + u->authority();
            return r;
          }
          head = h;
          r.status = h.status;
          body_start = end + 4;
        }
      }
      continue;
    }
    if (n == 0) {  // closed by the server
      if (!head) {
        r.error = "connection closed by " + u->authority() + " before a complete response";
        return r;
      }
      if (head->chunked) {
        r.error = "connection closed by " + u->authority() + " inside a chunked body";
        return r;
      }
      if (head->content_length) {
        r.error = "connection closed by " + u->authority() + " after " +
                  std::to_string(in.size() - body_start) + " of " +
                  std::to_string(*head->content_length) + " body bytes";
        return r;
      }
      r.body = in.substr(body_start);
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!wait_for(sock.get(), POLLIN, deadline)) {
        r.error = "timed out after " + std::to_string(timeout_ms) + " ms waiting for " +
                  u->authority() + " to answer";
        return r;
      }
      continue;
    }
    r.error = "cannot read from " + u->authority() + ": " + errno_text(errno);
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace sg::http
