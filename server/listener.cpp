#include "server/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

// GCC 12 misreads Asio 1.74's coroutine frame allocator (awaitable_frame_base's
// class-specific operator new/delete) as a mismatched pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace sg {

namespace net = boost::asio;
using boost::system::error_code;
using Generic = net::generic::stream_protocol;

namespace {

void set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

[[noreturn]] void bind_failed(const Endpoint& ep, const std::string& why) {
  throw std::runtime_error("cannot listen on " + ep.to_string() + ": " + why);
}

}  // namespace

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
  // A full backlog (EAGAIN) is a live server too.
  return r == 0 || err == EAGAIN || err == EINPROGRESS;
}

Listener::Listener(const net::any_io_executor& ex, const Endpoint& ep, mode_t unix_mode)
    : ep_(ep), unix_mode_(unix_mode), acceptor_(ex) {
  if (ep.kind == Endpoint::Kind::unix_socket)
    bind_unix();
  else
    bind_tcp();
}

Listener::~Listener() {
  close();
}

void Listener::bind_unix() {
  const std::string& path = ep_.path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) bind_failed(ep_, path + " exists and is not a socket");
    if (unix_socket_in_use(path))
      bind_failed(ep_, "another process is listening on it (is a second instance running?)");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      bind_failed(ep_, "cannot remove the stale socket: " + errno_text(errno));
  } else if (errno != ENOENT) {
    bind_failed(ep_, errno_text(errno));
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) bind_failed(ep_, "socket path too long");
  Generic::endpoint gep{net::local::stream_protocol::endpoint(path)};
  error_code ec;
  acceptor_.open(gep.protocol(), ec);
  if (ec) bind_failed(ep_, ec.message());
  set_cloexec(acceptor_.native_handle());
  acceptor_.bind(gep, ec);
  if (ec) bind_failed(ep_, ec.message());
  if (::lstat(path.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    made_file_ = true;  // from here on close() removes it
  }
  if (::chmod(path.c_str(), unix_mode_) != 0) {
    std::string why = errno_text(errno);
    close();
    bind_failed(ep_, "chmod: " + why);
  }
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    close();
    bind_failed(ep_, ec.message());
  }
}

void Listener::bind_tcp() {
  error_code ec;
  net::ip::address addr = net::ip::make_address(ep_.host, ec);
  if (ec) bind_failed(ep_, "'" + ep_.host + "' is not an IP address");
  Generic::endpoint gep{net::ip::tcp::endpoint(addr, ep_.port)};
  acceptor_.open(gep.protocol(), ec);
  if (ec) bind_failed(ep_, ec.message());
  set_cloexec(acceptor_.native_handle());
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(gep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) bind_failed(ep_, ec.message());
}

void Listener::close() {
  error_code ignored;
  acceptor_.close(ignored);
  if (!made_file_) return;
  made_file_ = false;
  struct stat st {};
  if (::lstat(ep_.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
      st.st_ino == ino_)
    ::unlink(ep_.path.c_str());
}

Endpoint Listener::bound() const {
  Endpoint shown = ep_;
  if (shown.kind != Endpoint::Kind::tcp || !acceptor_.is_open()) return shown;
  error_code ec;
  Generic::endpoint local = acceptor_.local_endpoint(ec);
  if (ec) return shown;
  const sockaddr* sa = local.data();
  if (sa->sa_family == AF_INET)
    shown.port = ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  else if (sa->sa_family == AF_INET6)
    shown.port = ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  return shown;
}

net::awaitable<void> accept_loop(std::shared_ptr<Listener> listener, AcceptOptions options,
                                 std::shared_ptr<ConnectionCount> count, OnConnection on) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer backoff_timer(ex);
  auto backoff = options.backoff_min;
  bool failing = false;
  for (;;) {
    error_code ec;
    StreamSocket socket(ex);
    auto accepting =
        listener->acceptor().async_accept(socket, net::redirect_error(net::use_awaitable, ec));
    co_await std::move(accepting);
    if (!listener->acceptor().is_open() || ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors, or the like: the pending connection stays in the
      // backlog, so an immediate retry would fail the same way, at full CPU.
      if (!failing)
        spdlog::error("{} accept on {} failed: {}; retrying with backoff", options.what,
                      listener->endpoint().to_string(), ec.message());
      failing = true;
      backoff_timer.expires_after(backoff);
      auto waiting = backoff_timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      co_await std::move(waiting);
      backoff = std::min(backoff * 2, options.backoff_max);
      continue;
    }
    if (failing)
      spdlog::info("{} accept on {} works again", options.what, listener->endpoint().to_string());
    failing = false;
    backoff = options.backoff_min;
    set_cloexec(socket.native_handle());
    if (count->open() >= options.max_connections) {
      spdlog::warn("{} connection refused: {} connections open (max_connections)", options.what,
                   count->open());
      continue;  // the socket closes as it goes out of scope
    }
    on(std::move(socket), count->take());
  }
}

net::awaitable<error_code> write_within(StreamSocket& socket, net::const_buffer data,
                                        std::chrono::steady_clock::duration deadline) {
  // Nearly every reply fits the socket's buffer: one write that does not
  // wait, and no timer on the hot path. Only what is left waits, under the
  // deadline. (A socket in user non-blocking mode answers would_block
  // instead of waiting in write_some; async operations are unaffected.)
  error_code ec;
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  if (!ec) {
    const std::size_t n = socket.write_some(data, ec);
    if (!ec && n == data.size()) co_return ec;
    if (ec && ec != net::error::would_block && ec != net::error::try_again) co_return ec;
    data += n;
    ec.clear();
  }
  net::steady_timer timer(socket.get_executor());
  // Shared with the timer's handler, which may run after this frame is gone
  // (expired at the moment the write completed): it then sees `done`.
  struct State {
    bool done = false;
    bool expired = false;
  };
  auto state = std::make_shared<State>();
  timer.expires_after(deadline);
  timer.async_wait([&socket, state](error_code e) {
    if (e || state->done) return;
    state->expired = true;
    error_code ignored;
    socket.close(ignored);
  });
  auto writing = net::async_write(socket, data, net::redirect_error(net::use_awaitable, ec));
  co_await std::move(writing);
  state->done = true;
  timer.cancel();
  co_return state->expired ? error_code(net::error::timed_out) : ec;
}

}  // namespace sg
