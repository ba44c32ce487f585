// The policy listeners: unix and TCP acceptors, one coroutine per connection,
// persistent connections carrying many requests each (as Postfix's
// policy client keeps them), on server/listener.hpp's accept loop. A protocol violation is logged,
// counted and the connection closed, as Postfix's own servers do; an idle connection is closed
// after idle_timeout.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "common/endpoint.hpp"
#include "policyd/policy_service.hpp"

namespace sg {

class PolicyServer {
 public:
  struct Options {
    std::vector<Endpoint> listen;
    uint32_t max_connections = 1024;
    std::chrono::seconds idle_timeout{300};
    policy::Limits limits;
    // A reply Postfix has not read within this closes the connection
    // (Postfix's own smtpd_policy_service_timeout is 100 s).
    std::chrono::seconds write_timeout{100};
  };

  // Binds every listener now; throws std::runtime_error naming the endpoint
  // that could not be bound.
  PolicyServer(boost::asio::io_context& io, PolicyService& service, Options options);
  ~PolicyServer();
  PolicyServer(const PolicyServer&) = delete;
  PolicyServer& operator=(const PolicyServer&) = delete;

  std::vector<uint16_t> bound_ports() const;  // TCP ports in listen order, 0 for unix
  std::vector<Endpoint> bound() const;        // the listen endpoints, TCP port 0 resolved
  std::size_t connections() const;
  std::size_t in_flight() const;  // requests being decided now
  // Stops accepting (the unix socket files are removed); the connections
  // open go on until they close or go idle.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sg
