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
#include "common/milter_protocol.hpp"
#include "milter/milter_daemon.hpp"

namespace sg {

// One milter connection without I/O: packets in, reply bytes out, driving a
// MilterSession exactly as libmilter's callbacks in milter_app.cpp do.
class MilterConnection {
 public:
  explicit MilterConnection(MilterDaemon& d) : d_(d) {}
  ~MilterConnection();
  MilterConnection(const MilterConnection&) = delete;
  MilterConnection& operator=(const MilterConnection&) = delete;

  // Handles one packet, appending any reply to `out`. False: close the
  // connection (QUIT, or a protocol violation, logged).
  bool handle(const milter_proto::Packet& p, std::string& out);

 private:
  void reply_unless(uint32_t no_reply_bit, std::string& out) const;
  void end_of_message(std::string& out);
  MacroLookup lookup() const;

  MilterDaemon& d_;
  milter_proto::MacroStore macros_;
  std::unique_ptr<MilterSession> session_;
  uint32_t no_reply_ = 0;
};

// The client address Postfix sent in a connect packet, as libmilter would
// render it (inet_ntop of the parsed address); "" when there is none.
std::string connect_address(const milter_proto::Connect& c);

class AsioMilterServer {
 public:
  // A connection silent this long is closed (libmilter's default timeout).
  static constexpr std::chrono::seconds kReadTimeout{7210};

  // Binds now (a unix socket is created mode 0666, an old one replaced);
  // throws std::runtime_error naming the endpoint that could not be bound.
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
