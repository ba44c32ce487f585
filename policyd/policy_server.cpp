#include "policyd/policy_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <variant>

#include "server/listener.hpp"

namespace sg {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

struct PolicyServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& i, PolicyService& s, Options o)
      : io(i), service(s), options(std::move(o)) {}

  asio::io_context& io;
  PolicyService& service;
  Options options;
  std::vector<std::shared_ptr<Listener>> listeners;
  std::shared_ptr<ConnectionCount> count = std::make_shared<ConnectionCount>();
  std::size_t in_flight = 0;
  bool stopped = false;

  void bind_all() {
    for (const auto& ep : options.listen) {
      listeners.push_back(std::make_shared<Listener>(io.get_executor(), ep));
      if (!ep.is_loopback())
        spdlog::warn("policy listener {} is not on loopback: anyone who reaches it can ask",
                     ep.to_string());
    }
    count->on_change = [this](std::size_t open) {
      service.stats().connections.set(static_cast<double>(open));
    };
  }

  void start() {
    std::weak_ptr<Impl> weak = shared_from_this();
    for (auto& l : listeners) {
      auto loop =
          accept_loop(l, AcceptOptions{"policy", options.max_connections}, count,
                      [weak](StreamSocket socket, ConnectionCount::Slot slot) {
                        auto self = weak.lock();
                        if (!self) return;
                        asio::co_spawn(self->io, session(self, std::move(socket), std::move(slot)),
                                       asio::detached);
                      });
      asio::co_spawn(io, std::move(loop), asio::detached);
    }
  }

  void stop() {
    stopped = true;
    count->on_change = nullptr;  // the service may be gone before the last session ends
    for (auto& l : listeners) l->close();
  }

  static awaitable<void> session(std::shared_ptr<Impl> self, StreamSocket socket,
                                 ConnectionCount::Slot) {
    policy::PolicyParser parser(self->options.limits);
    std::array<char, 8192> buf;
    std::string out;
    asio::steady_timer idle(self->io);
    for (;;) {
      // A connection idle past the timeout is closed under the pending read.
      idle.expires_after(self->options.idle_timeout);
      idle.async_wait([&socket](boost::system::error_code ec) {
        if (!ec) {
          boost::system::error_code ignored;
          socket.close(ignored);
        }
      });
      boost::system::error_code ec;
      std::size_t n = co_await socket.async_read_some(asio::buffer(buf),
                                                      asio::redirect_error(use_awaitable, ec));
      idle.cancel();
      if (ec || self->stopped) break;
      std::string_view data(buf.data(), n);
      bool violation = false;
      while (!data.empty()) {
        std::size_t used = 0;
        auto status = parser.feed(data, used);
        data.remove_prefix(used);
        if (status == policy::ParseStatus::need_more) break;
        if (status == policy::ParseStatus::error) {
          violation = true;
          break;
        }
        auto request = parser.take();
        ++self->in_flight;
        auto deciding = self->service.handle(request);
        std::string reply = co_await std::move(deciding);
        --self->in_flight;
        out += policy::encode_action(reply);
      }
      if (!out.empty()) {
        ec = co_await write_within(socket, asio::buffer(out), self->options.write_timeout);
        out.clear();
        if (ec) break;
      }
      if (violation) {
        self->service.stats().protocol_errors.inc();
        spdlog::warn("policy protocol violation from a client: {}; closing the connection",
                     parser.error());
        break;
      }
    }
  }
};

PolicyServer::PolicyServer(asio::io_context& io, PolicyService& service, Options options)
    : impl_(std::make_shared<Impl>(io, service, std::move(options))) {
  impl_->bind_all();
  impl_->start();
}

PolicyServer::~PolicyServer() {
  impl_->stop();
}

std::vector<uint16_t> PolicyServer::bound_ports() const {
  std::vector<uint16_t> ports;
  for (const auto& l : impl_->listeners) ports.push_back(l->bound().port);
  return ports;
}
std::vector<Endpoint> PolicyServer::bound() const {
  std::vector<Endpoint> out;
  for (const auto& l : impl_->listeners) out.push_back(l->bound());
  return out;
}
std::size_t PolicyServer::connections() const {
  return impl_->count->open();
}
std::size_t PolicyServer::in_flight() const {
  return impl_->in_flight;
}
void PolicyServer::stop() {
  impl_->stop();
}

}  // namespace sg
