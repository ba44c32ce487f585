// The status socket every daemon serves: a minimal HTTP/1.0 server on a unix
// socket and/or loopback TCP with two pages, GET /metrics (Prometheus text
// exposition) and GET /status (JSON). One request per connection; a deadline
// on every read and write; bad requests get 400, unknown paths 404.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/endpoint.hpp"

namespace sg {

class StatusServer {
 public:
  using Page = std::function<std::string()>;
  // Binds every endpoint now (a stale unix socket file is replaced); throws
  // std::runtime_error naming the endpoint when one cannot be bound. `deadline`
  // bounds reading a request, writing the response and waiting for the client to
  // close; only tests pass anything but the default.
  StatusServer(boost::asio::io_context& io, const std::vector<Endpoint>& endpoints, Page metrics,
               Page status_json,
               std::chrono::steady_clock::duration deadline = std::chrono::seconds(5));
  // Closes the listeners and any connection in flight and removes the unix socket
  // files it created. Call it from the thread running `io`, or while `io` is not
  // being run.
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // The bound TCP ports in endpoint order (0 for unix sockets): lets tests bind port 0.
  std::vector<uint16_t> bound_ports() const;
  // Logs "serving /metrics and /status on ADDR" for each endpoint, with the
  // TCP port actually bound (port 0 picks one).
  void log_addresses() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sg
