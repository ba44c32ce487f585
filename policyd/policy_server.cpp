#include "policyd/policy_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <variant>

#include "common/listener.hpp"

namespace sg {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

namespace {

// Suspends the calling coroutine until the service has answered.
template <class Token>
auto async_decide(PolicyService& service, const policy::Request& request, Token&& token) {
  return asio::async_initiate<Token, void(std::string)>(
      [&service, &request](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        service.handle(request, [h](std::string reply) { (*h)(std::move(reply)); });
      },
      token);
}

}  // namespace

struct PolicyServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& i, PolicyService& s, Options o)
      : io(i), service(s), options(std::move(o)) {}

  asio::io_context& io;
  PolicyService& service;
  Options options;
  std::vector<std::unique_ptr<tcp::acceptor>> tcp_acceptors;
  std::vector<std::unique_ptr<local::acceptor>> unix_acceptors;
  std::vector<std::string> unix_paths;
  std::vector<uint16_t> ports;
  std::size_t open = 0;
  bool stopped = false;

  void bind_all() {
    for (const auto& ep : options.listen) {
      if (ep.kind == Endpoint::Kind::tcp) {
        auto a = listen_tcp(io, ep);
        ports.push_back(a->local_endpoint().port());
        if (!ep.is_loopback())
          spdlog::warn("policy listener {} is not on loopback: anyone who reaches it can ask",
                       ep.to_string());
        tcp_acceptors.push_back(std::move(a));
      } else {
        unix_acceptors.push_back(listen_unix(io, ep));
        unix_paths.push_back(ep.path);
        ports.push_back(0);
      }
    }
  }

  void start() {
    auto self = shared_from_this();
    for (auto& a : tcp_acceptors) asio::co_spawn(io, accept_loop<tcp>(self, *a), asio::detached);
    for (auto& a : unix_acceptors) asio::co_spawn(io, accept_loop<local>(self, *a), asio::detached);
  }

  void stop() {
    stopped = true;
    boost::system::error_code ignored;
    for (auto& a : tcp_acceptors) a->close(ignored);
    for (auto& a : unix_acceptors) a->close(ignored);
    for (const auto& p : unix_paths) ::unlink(p.c_str());
  }

  template <class Protocol>
  static awaitable<void> accept_loop(std::shared_ptr<Impl> self,
                                     typename Protocol::acceptor& acceptor) {
    for (;;) {
      typename Protocol::socket socket(self->io);
      boost::system::error_code ec;
      co_await acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
      if (self->stopped) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        spdlog::warn("policy accept failed: {}", ec.message());
        continue;
      }
      if (self->open >= self->options.max_connections) {
        spdlog::warn("policy connection refused: {} connections open (max_connections)",
                     self->open);
        continue;  // the socket closes as it goes out of scope
      }
      asio::co_spawn(self->io, session<Protocol>(self, std::move(socket)), asio::detached);
    }
  }

  template <class Protocol>
  static awaitable<void> session(std::shared_ptr<Impl> self, typename Protocol::socket socket) {
    ++self->open;
    self->service.stats().connections.set(static_cast<double>(self->open));
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
        std::string reply = co_await async_decide(self->service, request, use_awaitable);
        out += policy::encode_action(reply);
      }
      if (!out.empty()) {
        co_await asio::async_write(socket, asio::buffer(out),
                                   asio::redirect_error(use_awaitable, ec));
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
    --self->open;
    self->service.stats().connections.set(static_cast<double>(self->open));
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
  return impl_->ports;
}
std::size_t PolicyServer::connections() const {
  return impl_->open;
}

}  // namespace sg
