#include "common/status_server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string_view>
#include <system_error>

// GCC 12 misreads Asio 1.74's coroutine frame allocator (awaitable_frame_base's
// class-specific operator new/delete) as a mismatched pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace sg {
namespace {

namespace net = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Tcp = net::ip::tcp;
using Local = net::local::stream_protocol;

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

template <class Socket>
struct Conn final : ConnBase {
  Conn(Socket s, std::shared_ptr<Shared> sh)
      : sock(std::move(s)), timer(sock.get_executor()), shared(std::move(sh)) {
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

  Socket sock;
  net::steady_timer timer;
  std::shared_ptr<Shared> shared;
};

// Starts a deadline: when it passes, the socket is closed, which completes any
// pending operation with an error. Arming again replaces the previous deadline.
template <class Socket>
void arm(const std::shared_ptr<Conn<Socket>>& c) {
  c->timer.expires_after(c->shared->deadline);
  c->timer.async_wait([c](const error_code& ec) {
    // A wait that completed just before the timer was re-armed or disarmed sees
    // the new expiry and does nothing.
    if (ec || c->timer.expiry() > Clock::now()) return;
    error_code ignored;
    c->sock.close(ignored);
  });
}

template <class Socket>
void disarm(Conn<Socket>& c) {
  c.timer.expires_at(Clock::time_point::max());
}

template <class Socket>
net::awaitable<void> serve_request(std::shared_ptr<Conn<Socket>> c) {
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

template <class Socket>
net::awaitable<void> serve(std::shared_ptr<Conn<Socket>> c) {
  try {
    co_await serve_request(c);
  } catch (...) {
    // Nothing may escape a connection: it is closed below either way.
  }
  c->close();
}

// ---------------------------------------------------------------------------
// Listeners

void set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

template <class Protocol>
struct Listener {
  explicit Listener(const net::any_io_executor& ex) : acceptor(ex), backoff(ex) {}
  typename Protocol::acceptor acceptor;
  net::steady_timer backoff;
};

template <class Protocol>
net::awaitable<void> accept_loop(std::shared_ptr<Listener<Protocol>> l,
                                 std::shared_ptr<Shared> shared) {
  using Socket = typename Protocol::socket;
  for (;;) {
    error_code ec;
    Socket sock = co_await l->acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (shared->stopped || !l->acceptor.is_open() || ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or the like: wait a little rather than spin.
      l->backoff.expires_after(std::chrono::milliseconds(100));
      co_await l->backoff.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    try {
      set_cloexec(sock.native_handle());
      auto c = std::make_shared<Conn<Socket>>(std::move(sock), shared);
      net::co_spawn(l->acceptor.get_executor(), serve(std::move(c)), net::detached);
    } catch (...) {
      // Out of memory: drop this connection, keep accepting.
    }
  }
}

[[noreturn]] void bind_failed(const Endpoint& ep, const std::string& why) {
  throw std::runtime_error("status server: cannot listen on " + ep.to_string() + ": " + why);
}

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// True when a process accepts connections on the unix socket at `path`.
bool unix_socket_in_use(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  return r == 0 || err == EAGAIN || err == EINPROGRESS;
}

}  // namespace

struct StatusServer::Impl {
  std::vector<Endpoint> endpoints;  // as given, in the order of `bound`
  struct Bound {
    std::shared_ptr<Listener<Tcp>> tcp;
    std::shared_ptr<Listener<Local>> local;
    std::string path;  // the unix socket file we created
    dev_t dev = 0;
    ino_t ino = 0;
  };

  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  net::any_io_executor ex;
  std::vector<Bound> bound;

  ~Impl() {
    shared->stopped = true;
    for (Bound& b : bound) {
      error_code ignored;
      if (b.tcp) {
        b.tcp->acceptor.close(ignored);
        b.tcp->backoff.cancel();
      }
      if (b.local) {
        b.local->acceptor.close(ignored);
        b.local->backoff.cancel();
        // Remove the file only if it is still ours: a newer instance may own the path.
        struct stat st {};
        if (::lstat(b.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == b.dev &&
            st.st_ino == b.ino)
          ::unlink(b.path.c_str());
      }
    }
    std::vector<ConnBase*> conns(shared->conns.begin(), shared->conns.end());
    for (ConnBase* c : conns) c->close();
  }

  void bind_unix(const Endpoint& ep) {
    const std::string& path = ep.path;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) bind_failed(ep, path + " exists and is not a socket");
      if (unix_socket_in_use(path)) bind_failed(ep, "another process is listening on it");
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        bind_failed(ep, "cannot remove the stale socket: " + errno_text(errno));
    } else if (errno != ENOENT) {
      bind_failed(ep, errno_text(errno));
    }

    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) bind_failed(ep, "socket path too long");
    Local::endpoint lep(path);
    auto l = std::make_shared<Listener<Local>>(ex);
    error_code ec;
    l->acceptor.open(lep.protocol(), ec);
    if (ec) bind_failed(ep, ec.message());
    set_cloexec(l->acceptor.native_handle());
    l->acceptor.bind(lep, ec);
    if (ec) bind_failed(ep, ec.message());
    Bound b;
    b.local = l;
    b.path = path;
    if (::lstat(path.c_str(), &st) == 0) {
      b.dev = st.st_dev;
      b.ino = st.st_ino;
    }
    bound.push_back(std::move(b));  // from here on the destructor removes the file
    if (::chmod(path.c_str(), 0660) != 0) bind_failed(ep, "chmod 0660: " + errno_text(errno));
    l->acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) bind_failed(ep, ec.message());
  }

  void bind_tcp(const Endpoint& ep) {
    error_code ec;
    net::ip::address addr = net::ip::make_address(ep.host, ec);
    if (ec) bind_failed(ep, "'" + ep.host + "' is not an IP address");
    Tcp::endpoint tep(addr, ep.port);
    auto l = std::make_shared<Listener<Tcp>>(ex);
    l->acceptor.open(tep.protocol(), ec);
    if (ec) bind_failed(ep, ec.message());
    set_cloexec(l->acceptor.native_handle());
    l->acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) bind_failed(ep, ec.message());
    l->acceptor.bind(tep, ec);
    if (ec) bind_failed(ep, ec.message());
    l->acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) bind_failed(ep, ec.message());
    Bound b;
    b.tcp = std::move(l);
    bound.push_back(std::move(b));
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
  impl_->endpoints = endpoints;
  for (const Endpoint& ep : endpoints) {
    if (ep.kind == Endpoint::Kind::unix_socket) {
      impl_->bind_unix(ep);
    } else {
      impl_->bind_tcp(ep);
    }
  }
  for (const Impl::Bound& b : impl_->bound) {
    if (b.tcp) net::co_spawn(impl_->ex, accept_loop(b.tcp, impl_->shared), net::detached);
    if (b.local) net::co_spawn(impl_->ex, accept_loop(b.local, impl_->shared), net::detached);
  }
}

StatusServer::~StatusServer() = default;

std::vector<uint16_t> StatusServer::bound_ports() const {
  std::vector<uint16_t> ports;
  for (const Impl::Bound& b : impl_->bound) {
    error_code ec;
    ports.push_back(b.tcp ? b.tcp->acceptor.local_endpoint(ec).port() : 0);
  }
  return ports;
}

void StatusServer::log_addresses() const {
  const auto ports = bound_ports();
  for (std::size_t i = 0; i < impl_->endpoints.size(); ++i) {
    Endpoint shown = impl_->endpoints[i];
    if (shown.kind == Endpoint::Kind::tcp) shown.port = ports.at(i);
    spdlog::info("serving /metrics and /status on {}", shown.to_string());
  }
}

}  // namespace sg
