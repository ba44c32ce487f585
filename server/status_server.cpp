#include "server/status_server.hpp"

#include <spdlog/spdlog.h>

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <set>
#include <stdexcept>
#include <string_view>

#include "server/listener.hpp"

// GCC 12 misreads Asio 1.74's coroutine frame allocator (awaitable_frame_base's
// class-specific operator new/delete) as a mismatched pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace sg {
namespace {

namespace net = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxRequest = 8 * 1024;  // request line and headers
constexpr std::size_t kMaxDrain = 64 * 1024;   // what we read and discard after responding

// ---------------------------------------------------------------------------
// HTTP

std::string make_response(int code, std::string_view reason, std::string_view content_type,
                          std::string_view body, bool allow_get = false) {
  std::string out;
  out.reserve(160 + body.size());
  out += "HTTP/1.0 ";
  out += std::to_string(code);
  out += ' ';
  out += reason;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  if (allow_get) out += "\r\nAllow: GET";
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

std::string bad_request(std::string_view why) {
  return make_response(400, "Bad Request", kTextPlain, std::string(why) + "\n");
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

// The end of the header block: the index just past the first empty line ("\n\n"
// or "\n\r\n"), searching from `from`; npos when there is none yet.
std::size_t find_head_end(std::string_view buf, std::size_t from) {
  for (std::size_t i = buf.find('\n', from); i != std::string_view::npos;
       i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

struct Pages {
  StatusServer::Page metrics, status;
};

// One request's whole head (request line and header lines, blank line included).
std::string respond(std::string_view head, const Pages& pages) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    std::size_t eol = head.find('\n');
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) break;
    lines.push_back(line);
  }
  if (lines.empty()) return bad_request("empty request");

  // Request line: METHOD SP TARGET SP HTTP/1.x, nothing else.
  std::string_view rl = lines[0];
  std::size_t sp1 = rl.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos)
    return bad_request("malformed request line");
  std::string_view method = rl.substr(0, sp1);
  std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = rl.substr(sp2 + 1);
  if (!is_token(method)) return bad_request("malformed method");
  if (target.empty() || target.front() != '/') return bad_request("malformed request target");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad_request("malformed request target");
  if (version.size() != 8 || !version.starts_with("HTTP/1.") || version[7] < '0' ||
      version[7] > '9')
    return bad_request("unsupported protocol version");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::size_t colon = lines[i].find(':');
    if (colon == std::string_view::npos || !is_token(lines[i].substr(0, colon)))
      return bad_request("malformed header line");
  }

  if (method != "GET")
    return make_response(405, "Method Not Allowed", kTextPlain, "only GET is supported\n", true);

  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/metrics") {
    return make_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", pages.metrics());
  }
  if (path == "/status") return make_response(200, "OK", "application/json", pages.status());
  if (path == "/") {
    return make_response(200, "OK", kTextPlain,
                         "streamguard status\n"
                         "/metrics  Prometheus metrics (text exposition 0.0.4)\n"
                         "/status   daemon status (JSON)\n");
  }
  return make_response(404, "Not Found", kTextPlain, "not found; try /metrics or /status\n");
}

// ---------------------------------------------------------------------------
// Connections

struct ConnBase {
  virtual ~ConnBase() = default;
  virtual void close() = 0;
};

// What the server and every connection share: it outlives the StatusServer for
// as long as a connection coroutine still runs.
struct Shared {
  Pages pages;
  Clock::duration deadline;
  bool stopped = false;
  std::set<ConnBase*> conns;  // connections in flight, closed by the destructor
};

struct Conn final : ConnBase {
  Conn(StreamSocket s, std::shared_ptr<Shared> sh, ConnectionCount::Slot sl)
      : sock(std::move(s)), timer(sock.get_executor()), shared(std::move(sh)), slot(std::move(sl)) {
    shared->conns.insert(this);
  }
  ~Conn() override { shared->conns.erase(this); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void close() override {
    error_code ignored;
    sock.close(ignored);
    timer.cancel();
  }

  StreamSocket sock;
  net::steady_timer timer;
  std::shared_ptr<Shared> shared;
  ConnectionCount::Slot slot;
};

// Starts a deadline: when it passes, the socket is closed, which completes any
// pending operation with an error. Arming again replaces the previous deadline.
void arm(const std::shared_ptr<Conn>& c) {
  c->timer.expires_after(c->shared->deadline);
  c->timer.async_wait([c](const error_code& ec) {
    // A wait that completed just before the timer was re-armed or disarmed sees
    // the new expiry and does nothing.
    if (ec || c->timer.expiry() > Clock::now()) return;
    error_code ignored;
    c->sock.close(ignored);
  });
}

void disarm(Conn& c) {
  c.timer.expires_at(Clock::time_point::max());
}

net::awaitable<void> serve_request(std::shared_ptr<Conn> c) {
  error_code ec;
  std::array<char, 2048> chunk;
  std::string buf;
  std::string response;

  arm(c);  // one deadline for the whole request head
  std::size_t head_end = std::string::npos;
  while (buf.size() < kMaxRequest) {
    std::size_t room = std::min(chunk.size(), kMaxRequest - buf.size());
    std::size_t n = co_await c->sock.async_read_some(net::buffer(chunk.data(), room),
                                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    std::size_t from = buf.size() >= 2 ? buf.size() - 2 : 0;
    buf.append(chunk.data(), n);
    head_end = find_head_end(buf, from);
    if (head_end != std::string::npos) break;
  }
  disarm(*c);
  if (c->shared->stopped) co_return;

  if (head_end != std::string::npos) {
    try {
      response = respond(std::string_view(buf).substr(0, head_end), c->shared->pages);
    } catch (const std::exception& e) {
      response = make_response(500, "Internal Server Error", kTextPlain,
                               std::string("page failed: ") + e.what() + "\n");
    } catch (...) {
      response = make_response(500, "Internal Server Error", kTextPlain, "page failed\n");
    }
    // A page may have destroyed the server; then the destructor closed the socket.
    if (c->shared->stopped) co_return;
  } else if (!ec) {
    response = bad_request("request head larger than 8192 bytes");
  } else if (ec == net::error::eof && !buf.empty()) {
    response = bad_request("incomplete request");
  } else {
    co_return;  // deadline passed, nothing sent, or a socket error: just close
  }

  arm(c);
  co_await net::async_write(c->sock, net::buffer(response),
                            net::redirect_error(net::use_awaitable, ec));
  disarm(*c);
  if (ec) co_return;

  // Half-close, then read until the client closes: closing with unread input
  // would reset the connection and could destroy the response in flight.
  c->sock.shutdown(net::socket_base::shutdown_send, ec);
  if (ec) co_return;
  arm(c);
  for (std::size_t drained = 0; drained < kMaxDrain;) {
    std::size_t n = co_await c->sock.async_read_some(net::buffer(chunk),
                                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    drained += n;
  }
  disarm(*c);
}

net::awaitable<void> serve(std::shared_ptr<Conn> c) {
  try {
    co_await serve_request(c);
  } catch (...) {
    // Nothing may escape a connection: it is closed below either way.
  }
  c->close();
}

}  // namespace

struct StatusServer::Impl {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  net::any_io_executor ex;
  std::vector<std::shared_ptr<Listener>> listeners;
  std::shared_ptr<ConnectionCount> count = std::make_shared<ConnectionCount>();

  ~Impl() {
    shared->stopped = true;
    for (auto& l : listeners) l->close();
    std::vector<ConnBase*> conns(shared->conns.begin(), shared->conns.end());
    for (ConnBase* c : conns) c->close();
  }
};

StatusServer::StatusServer(boost::asio::io_context& io, const std::vector<Endpoint>& endpoints,
                           Page metrics, Page status_json,
                           std::chrono::steady_clock::duration deadline)
    : impl_(std::make_unique<Impl>()) {
  // A strand serialises the server's handlers even if `io` is run by several threads.
  impl_->ex = net::make_strand(io);
  impl_->shared->pages = Pages{std::move(metrics), std::move(status_json)};
  impl_->shared->deadline = deadline;
  for (const Endpoint& ep : endpoints) {
    try {
      // 0660: the status socket is for the daemon's group (Prometheus's
      // exporter, streamguardctl), not for every local user.
      impl_->listeners.push_back(std::make_shared<Listener>(impl_->ex, ep, 0660));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string("status server: ") + e.what());
    }
  }
  // A scrape is one short request: a handful at once is plenty, and a bound
  // keeps a flood of them from taking the daemon's descriptors.
  constexpr std::size_t kMaxConnections = 64;
  for (const auto& l : impl_->listeners) {
    auto shared = impl_->shared;
    auto loop = accept_loop(l, AcceptOptions{"status", kMaxConnections}, impl_->count,
                            [shared](StreamSocket sock, ConnectionCount::Slot slot) {
                              if (shared->stopped) return;
                              auto ex = sock.get_executor();
                              auto c =
                                  std::make_shared<Conn>(std::move(sock), shared, std::move(slot));
                              net::co_spawn(ex, serve(std::move(c)), net::detached);
                            });
    net::co_spawn(impl_->ex, std::move(loop), net::detached);
  }
}

StatusServer::~StatusServer() = default;

std::vector<uint16_t> StatusServer::bound_ports() const {
  std::vector<uint16_t> ports;
  for (const auto& l : impl_->listeners) ports.push_back(l->bound().port);
  return ports;
}

void StatusServer::log_addresses() const {
  for (const auto& l : impl_->listeners)
    spdlog::info("serving /metrics and /status on {}", l->bound().to_string());
}

}  // namespace sg
