// streamguard-milter's second engine ([milter] engine = "asio"): the milter
// protocol served on one Asio loop, one C++20 coroutine per connection,
// instead of libmilter's thread per connection. Each read takes whatever
// Postfix has sent (with the no-reply flags, a whole message's headers and
// body arrive without a round trip), and replies are written only where
// Postfix waits for one: option negotiation and end of message.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/endpoint.hpp"
#include "milter/milter_daemon.hpp"
#include "server/listener.hpp"

namespace sg {

class AsioMilterServer {
 public:
  // A connection silent this long is closed (libmilter's default timeout).
  static constexpr std::chrono::seconds kReadTimeout{7210};

  // Connections served at once; one more is closed at once (Postfix opens
  // one per smtpd process, 100 by default).
  static constexpr std::size_t kMaxConnections = 1024;
  // A reply Postfix does not read within this is dropped with the connection.
  static constexpr std::chrono::seconds kWriteTimeout{300};

  // Binds now (server/listener.hpp: a unix socket is created mode 0666, a
  // stale one replaced, a live one refused); throws std::runtime_error naming
  // the endpoint that could not be bound.
  AsioMilterServer(boost::asio::io_context& io, MilterDaemon& d, const Endpoint& listen,
                   std::chrono::seconds read_timeout = kReadTimeout);
  ~AsioMilterServer();
  AsioMilterServer(const AsioMilterServer&) = delete;
  AsioMilterServer& operator=(const AsioMilterServer&) = delete;

  uint16_t bound_port() const;  // 0 for a unix socket
  std::size_t connections() const;
  void stop();  // closes the listener (and removes a unix socket)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Serves Postfix on `listen` until SIGTERM or SIGINT; SIGHUP reloads (as
// SIGUSR1). Calls announce() once listening. Returns the exit status: 0
// after a stop, 2 when the socket cannot be opened.
int run_asio_milter(MilterDaemon& d, const Endpoint& listen, const std::function<void()>& announce);

}  // namespace sg
