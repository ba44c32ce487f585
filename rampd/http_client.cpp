#include "rampd/http_client.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

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

namespace {

// Resolves the URL's host and connects to each address in turn, all before
// the one deadline. A socket < 0 with `error` set when none answered.
Socket connect_to(const HttpUrl& u, Clock::time_point deadline, uint32_t timeout_ms,
                  std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(u.port);
  const int gai = ::getaddrinfo(u.host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    error = "cannot resolve " + u.host + ": " + ::gai_strerror(gai);
    return Socket();
  }
  Socket sock;
  std::string connect_error = "no address";
  bool timed_out = false;
  for (addrinfo* ai = res; ai && !timed_out; ai = ai->ai_next) {
    sock = connect_one(*ai, deadline, connect_error, timed_out);
    if (sock.get() >= 0) break;
  }
  ::freeaddrinfo(res);
  if (sock.get() < 0)
    error = timed_out ? "timed out after " + std::to_string(timeout_ms) + " ms connecting to " +
                            u.authority()
                      : "cannot connect to " + u.authority() + ": " + connect_error;
  return sock;
}

std::string send_all(int fd, const std::string& req, const HttpUrl& u, Clock::time_point deadline,
                     uint32_t timeout_ms) {
  size_t sent = 0;
  while (sent < req.size()) {
    const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline))
        return "timed out after " + std::to_string(timeout_ms) + " ms sending to " + u.authority();
      continue;
    }
    return "cannot send to " + u.authority() + ": " + errno_text(errno);
  }
  return "";
}

// The response as it arrives: the head once it is complete, then the body
// until the server closes or the announced length (or last chunk) is in.
class ResponseReader {
 public:
  explicit ResponseReader(const HttpUrl& u) : u_(u) {}

  // True when the body is complete (in r.body); false with r.error set on
  // a bad body, false with r.error empty when more is needed.
  bool complete(Response& r) const {
    if (!head_) return false;
    if (head_->chunked) {
      std::string decoded;
      const auto d = dechunk(std::string_view(in_).substr(body_start_), decoded);
      if (d == Dechunk::bad) r.error = "bad chunked body from " + u_.authority();
      if (d != Dechunk::complete) return false;
      r.body = std::move(decoded);
      return true;
    }
    if (!head_->content_length || in_.size() - body_start_ < *head_->content_length) return false;
    r.body = in_.substr(body_start_, *head_->content_length);
    return true;
  }

  // Bytes read; false with r.error set when the response cannot be used.
  bool add(std::string_view bytes, Response& r) {
    in_.append(bytes);
    if (in_.size() > kMaxResponseBytes) {
      r.error = "response from " + u_.authority() + " is larger than " +
                std::to_string(kMaxResponseBytes) + " bytes";
      return false;
    }
    if (head_) return true;
    const size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return true;
    Head h;
    std::string err;
    if (!parse_head(std::string_view(in_).substr(0, end), h, err)) {
      r.error = err + " from " + u_.authority();
      return false;
    }
    head_ = h;
    r.status = h.status;
    body_start_ = end + 4;
    return true;
  }

  // The server closed: the body is what came, unless it announced more.
  bool closed(Response& r) const {
    const std::string by = "connection closed by " + u_.authority();
    if (!head_)
      r.error = by + " before a complete response";
    else if (head_->chunked)
      r.error = by + " inside a chunked body";
    else if (head_->content_length)
      r.error = by + " after " + std::to_string(in_.size() - body_start_) + " of " +
                std::to_string(*head_->content_length) + " body bytes";
    else
      r.body = in_.substr(body_start_);
    return r.error.empty();
  }

 private:
  const HttpUrl& u_;
  std::string in_;
  std::optional<Head> head_;
  size_t body_start_ = 0;
};

// Reads until close, or until the announced body is complete.
bool receive(int fd, const HttpUrl& u, Clock::time_point deadline, uint32_t timeout_ms,
             Response& r) {
  ResponseReader reader(u);
  char buf[4096];
  for (;;) {
    if (reader.complete(r)) return true;
    if (!r.error.empty()) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (!reader.add(std::string_view(buf, static_cast<size_t>(n)), r)) return false;
      continue;
    }
    if (n == 0) return reader.closed(r);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (wait_for(fd, POLLIN, deadline)) continue;
      r.error = "timed out after " + std::to_string(timeout_ms) + " ms waiting for " +
                u.authority() + " to answer";
      return false;
    }
    r.error = "cannot read from " + u.authority() + ": " + errno_text(errno);
    return false;
  }
}

}  // namespace

Response post(const std::string& url, const Headers& headers, const std::string& body,
              uint32_t timeout_ms) {
  Response r;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto u = parse_http_url(url, r.error);
  if (!u) return r;
  for (const auto& [name, value] : headers) {
    if (!valid_header_name(name) || !valid_header_value(value)) {
      r.error = "bad HTTP header '" + name + "' (empty name, or a line break in it or its value)";
      return r;
    }
  }
  Socket sock = connect_to(*u, deadline, timeout_ms, r.error);
  if (sock.get() < 0) return r;
  std::string req = "POST " + u->target + " HTTP/1.1\r\nHost: " + u->host_header() + "\r\n";
  for (const auto& [name, value] : headers) req += name + ": " + value + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  req += body;
  r.error = send_all(sock.get(), req, *u, deadline, timeout_ms);
  if (!r.error.empty()) return r;
  r.ok = receive(sock.get(), *u, deadline, timeout_ms, r);
  return r;
}

}  // namespace sg::http
