// The listening sockets of every daemon (policyd's policy socket, the milter's
// Asio engine, every status socket) and the one accept loop they all serve
// with. One socket type, Asio's generic stream socket, carries both unix and
// TCP connections, so a session is written once for both.
//
// Binding (Listener):
//   - a unix socket path that a live process still serves is refused, never
//     stolen: a second instance started by mistake fails at start and the
//     first keeps serving;
//   - a socket file left by a crash is replaced; any other kind of file at
//     the path is refused;
//   - on close the file is removed only while it is still the inode this
//     listener made (a newer instance may own the path by then);
//   - every descriptor, listening or accepted, is close-on-exec (rampd runs
//     Postfix commands; they must not inherit a daemon's sockets).
//
// Accepting (accept_loop):
//   - at most max_connections at once; one more is closed at once, logged;
//   - an accept error (EMFILE, ENFILE, ENOBUFS, ...) waits before the next
//     try, 10 ms doubling to 1 s, instead of spinning on a full descriptor
//     table; it is logged when it starts and when accepting works again.
//
// Writing (write_within): a reply the peer does not take within a deadline
// closes the connection, so a client that stalls cannot pin a session.
#pragma once

#include <sys/types.h>

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/endpoint.hpp"

namespace sg {

using StreamSocket = boost::asio::generic::stream_protocol::socket;
// (generic::stream_protocol names no acceptor type of its own.)
using StreamAcceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

class Listener {
 public:
  // Binds and listens now. unix_mode is the socket file's mode. Throws
  // std::runtime_error "cannot listen on ENDPOINT: why".
  Listener(const boost::asio::any_io_executor& ex, const Endpoint& ep, mode_t unix_mode = 0666);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Stops accepting; removes the unix socket file if it is still ours.
  void close();
  const Endpoint& endpoint() const { return ep_; }
  // The endpoint as bound: a TCP port 0 replaced by the port the kernel chose.
  Endpoint bound() const;
  StreamAcceptor& acceptor() { return acceptor_; }

 private:
  void bind_unix();
  void bind_tcp();

  Endpoint ep_;
  mode_t unix_mode_;
  StreamAcceptor acceptor_;
  dev_t dev_ = 0;  // the unix socket file this listener made
  ino_t ino_ = 0;
  bool made_file_ = false;
};

// True when a process accepts connections on the unix socket at `path`.
bool unix_socket_in_use(const std::string& path);

// Counts a server's open connections. A Slot is held by one connection and
// gives its place back when destroyed.
class ConnectionCount : public std::enable_shared_from_this<ConnectionCount> {
 public:
  class Slot {
   public:
    explicit Slot(std::shared_ptr<ConnectionCount> c) : count_(std::move(c)) {}
    Slot(Slot&&) = default;
    Slot& operator=(Slot&&) = default;
    ~Slot() {
      if (count_) count_->changed(-1);
    }

   private:
    std::shared_ptr<ConnectionCount> count_;
  };

  Slot take() {
    changed(+1);
    return Slot(shared_from_this());
  }
  std::size_t open() const { return open_; }
  // Called with the new number after every change (for a gauge).
  std::function<void(std::size_t)> on_change;

 private:
  void changed(int by) {
    open_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(open_) + by);
    if (on_change) on_change(open_);
  }
  std::size_t open_ = 0;
};

struct AcceptOptions {
  std::string what;  // "policy", "milter", "status": names the server in the log
  std::size_t max_connections = 1024;
  std::chrono::milliseconds backoff_min{10};
  std::chrono::milliseconds backoff_max{1000};
};

using OnConnection = std::function<void(StreamSocket, ConnectionCount::Slot)>;

// Accepts on `listener` until it is closed; each connection goes to `on`
// with its slot (on runs on the loop; it typically co_spawns a session).
boost::asio::awaitable<void> accept_loop(std::shared_ptr<Listener> listener, AcceptOptions options,
                                         std::shared_ptr<ConnectionCount> count, OnConnection on);

// Writes all of `data`; when the peer has not taken it within `deadline`,
// closes the socket and returns boost::asio::error::timed_out.
boost::asio::awaitable<boost::system::error_code> write_within(
    StreamSocket& socket, boost::asio::const_buffer data,
    std::chrono::steady_clock::duration deadline);

}  // namespace sg
