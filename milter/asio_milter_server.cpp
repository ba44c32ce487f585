#include "milter/asio_milter_server.hpp"

#include <spdlog/spdlog.h>

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "milter/milter_connection.hpp"
#include "server/daemon.hpp"

namespace sg {

namespace asio = boost::asio;
namespace mp = milter_proto;
using asio::awaitable;
using asio::use_awaitable;

struct AsioMilterServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& i, MilterDaemon& dd, std::chrono::seconds t)
      : io(i), d(dd), read_timeout(t) {}

  asio::io_context& io;
  MilterDaemon& d;
  std::chrono::seconds read_timeout;
  std::shared_ptr<Listener> listener;
  std::shared_ptr<ConnectionCount> count = std::make_shared<ConnectionCount>();
  bool stopped = false;

  void bind(const Endpoint& ep) { listener = std::make_shared<Listener>(io.get_executor(), ep); }

  void start() {
    std::weak_ptr<Impl> weak = shared_from_this();
    auto loop = accept_loop(listener, AcceptOptions{"milter", kMaxConnections}, count,
                            [weak](StreamSocket socket, ConnectionCount::Slot slot) {
                              auto self = weak.lock();
                              if (!self) return;
                              boost::system::error_code ignored;
                              // Nagle would hold each reply ~40 ms (brief: the
                              // OpenDKIM stall); unix sockets ignore the option.
                              if (self->listener->endpoint().kind == Endpoint::Kind::tcp)
                                socket.set_option(asio::ip::tcp::no_delay(true), ignored);
                              auto conn = serve(self, std::move(socket), std::move(slot));
                              asio::co_spawn(self->io, std::move(conn), asio::detached);
                            });
    asio::co_spawn(io, std::move(loop), asio::detached);
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    listener->close();
  }

  // The read deadline: one timer per connection, re-armed only when it
  // fires (a read just notes the time), so a busy connection costs no timer
  // updates. Shared with the timer's handler, which may outlive the frame.
  struct Watch {
    std::chrono::steady_clock::time_point last_read;
    bool done = false;
  };

  static void arm(asio::steady_timer& timer, std::shared_ptr<Watch> w, StreamSocket& socket,
                  std::chrono::seconds timeout) {
    timer.expires_at(w->last_read + timeout);
    timer.async_wait([&timer, w, &socket, timeout](boost::system::error_code ec) {
      if (ec || w->done) return;
      if (std::chrono::steady_clock::now() - w->last_read >= timeout) {
        boost::system::error_code ignored;
        socket.close(ignored);
        return;
      }
      arm(timer, w, socket, timeout);
    });
  }

  static awaitable<void> serve(std::shared_ptr<Impl> self, StreamSocket socket,
                               ConnectionCount::Slot) {
    MilterConnection conn(self->d);
    mp::Splitter splitter;
    constexpr std::size_t kReadSize = 64 * 1024;
    auto buf = std::make_unique_for_overwrite<char[]>(kReadSize);
    std::string out;
    auto watch = std::make_shared<Watch>();
    watch->last_read = std::chrono::steady_clock::now();
    asio::steady_timer timer(self->io);
    arm(timer, watch, socket, self->read_timeout);
    for (bool open = true; open && !self->stopped;) {
      boost::system::error_code ec;
      auto read = socket.async_read_some(asio::buffer(buf.get(), kReadSize),
                                         asio::redirect_error(use_awaitable, ec));
      const std::size_t n = co_await std::move(read);
      if (ec) break;
      watch->last_read = std::chrono::steady_clock::now();
      splitter.append(std::string_view(buf.get(), n));
      mp::Packet p;
      for (;;) {
        const auto status = splitter.next(p);
        if (status == mp::SplitStatus::need_more) break;
        if (status == mp::SplitStatus::error) {
          spdlog::warn("milter protocol violation: {}; closing the connection", splitter.error());
          open = false;
          break;
        }
        if (!conn.handle(p, out)) {
          open = false;
          break;
        }
      }
      if (!out.empty()) {
        auto write = write_within(socket, asio::buffer(out), kWriteTimeout);
        ec = co_await std::move(write);
        out.clear();
        if (ec) break;
      }
    }
    watch->done = true;
    timer.cancel();
  }
};

AsioMilterServer::AsioMilterServer(asio::io_context& io, MilterDaemon& d, const Endpoint& listen,
                                   std::chrono::seconds read_timeout)
    : impl_(std::make_shared<Impl>(io, d, read_timeout)) {
  impl_->bind(listen);
  impl_->start();
}

AsioMilterServer::~AsioMilterServer() {
  impl_->stop();
}

uint16_t AsioMilterServer::bound_port() const {
  return impl_->listener->bound().port;
}
std::size_t AsioMilterServer::connections() const {
  return impl_->count->open();
}
void AsioMilterServer::stop() {
  impl_->stop();
}

int run_asio_milter(MilterDaemon& d, const Endpoint& listen,
                    const std::function<void()>& announce) {
  asio::io_context io(1);
  daemon::Signals signals(io);
  std::unique_ptr<AsioMilterServer> server;
  try {
    server = std::make_unique<AsioMilterServer>(io, d, listen);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  daemon::Hooks hooks;
  hooks.reload = [&d] { return reload_milter(d, "SIGHUP"); };
  hooks.stop = [&server] { server->stop(); };
  announce();
  hooks.record = &d.record;
  const int rc = signals.run(hooks, d.stats.reloads);
  spdlog::info("stopped");
  return rc;
}

}  // namespace sg
