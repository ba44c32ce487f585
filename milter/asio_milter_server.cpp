#include "milter/asio_milter_server.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <variant>
#include <vector>

#include "common/listener.hpp"

namespace sg {

namespace asio = boost::asio;
namespace mp = milter_proto;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

// ---------------------------------------------------------------- MilterConnection

std::string connect_address(const mp::Connect& c) {
  const std::string text(c.address);
  char out[INET6_ADDRSTRLEN] = {};
  if (c.family == mp::kFamilyInet) {
    in_addr a{};
    if (::inet_pton(AF_INET, text.c_str(), &a) == 1) ::inet_ntop(AF_INET, &a, out, sizeof out);
  } else if (c.family == mp::kFamilyInet6) {
    std::string_view v6 = text;
    if (v6.size() > 5 && (v6.substr(0, 5) == "IPv6:" || v6.substr(0, 5) == "ipv6:"))
      v6.remove_prefix(5);
    in6_addr a{};
    if (::inet_pton(AF_INET6, std::string(v6).c_str(), &a) == 1)
      ::inet_ntop(AF_INET6, &a, out, sizeof out);
  }
  return out;
}

MilterConnection::~MilterConnection() {
  close_session(d_, session_);
}

MacroLookup MilterConnection::lookup() const {
  return [this](const char* name) { return macros_.get(name); };
}

void MilterConnection::reply_unless(uint32_t no_reply_bit, std::string& out) const {
  if (!(no_reply_ & no_reply_bit)) mp::append_packet(out, mp::kContinue);
}

void MilterConnection::end_of_message(std::string& out) {
  if (!session_) {
    mp::append_packet(out, mp::kTempfail);
  } else {
    auto d = finish_message(d_, *session_, lookup());
    if (d.verdict == MilterVerdict::accept) {
      for (const auto& [name, value] : d.add_headers) mp::append_add_header(out, name, value);
      mp::append_packet(out, mp::kContinue);
    } else {
      mp::append_reply_code(out, d.rcode, d.xcode, reply_text(d));
    }
  }
  macros_.forget_message();
}

bool MilterConnection::handle(const mp::Packet& p, std::string& out) {
  std::string error;
  auto cmd = mp::decode(p, error);
  if (!cmd) {
    spdlog::warn("milter protocol violation: {}; closing the connection", error);
    return false;
  }
  bool go_on = true;
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, mp::OptNeg>) {
          if (c.version < 2) {
            spdlog::warn("milter protocol violation: MTA protocol version {}; closing", c.version);
            go_on = false;
            return;
          }
          const auto n = negotiate_milter(c.actions, c.protocol);
          no_reply_ = n.no_reply;
          const uint32_t version = std::min(c.version, mp::kVersion);
          std::vector<std::pair<uint32_t, std::string>> lists;
          if (version >= 6)
            lists = {{mp::kStageConnect, kConnectMacros}, {mp::kStageMail, kMailMacros}};
          mp::append_optneg_reply(out, {version, n.actions, n.protocol}, lists);
        } else if constexpr (std::is_same_v<T, mp::Macros>) {
          macros_.define(c);
        } else if constexpr (std::is_same_v<T, mp::Connect>) {
          close_session(d_, session_);
          session_ = open_session(d_, connect_address(c), c.hostname, lookup());
          reply_unless(mp::kNoReplyConnect, out);
        } else if constexpr (std::is_same_v<T, mp::Helo>) {
          reply_unless(mp::kNoReplyHelo, out);
        } else if constexpr (std::is_same_v<T, mp::Mail>) {
          if (session_) session_mail_from(*session_, c.args.front(), lookup());
          reply_unless(mp::kNoReplyMail, out);
        } else if constexpr (std::is_same_v<T, mp::Rcpt>) {
          reply_unless(mp::kNoReplyRcpt, out);
        } else if constexpr (std::is_same_v<T, mp::DataCmd>) {
          reply_unless(mp::kNoReplyData, out);
        } else if constexpr (std::is_same_v<T, mp::Unknown>) {
          reply_unless(mp::kNoReplyUnknown, out);
        } else if constexpr (std::is_same_v<T, mp::Header>) {
          if (session_) session_->header(c.name, c.value);
          reply_unless(mp::kNoReplyHeader, out);
        } else if constexpr (std::is_same_v<T, mp::EndOfHeaders>) {
          if (session_) session_->end_of_headers();
          reply_unless(mp::kNoReplyEndOfHeaders, out);
        } else if constexpr (std::is_same_v<T, mp::Body>) {
          if (session_) session_->body(c.chunk);
          reply_unless(mp::kNoReplyBody, out);
        } else if constexpr (std::is_same_v<T, mp::EndOfBody>) {
          if (session_ && !c.chunk.empty()) session_->body(c.chunk);
          end_of_message(out);
        } else if constexpr (std::is_same_v<T, mp::Abort>) {
          if (session_) session_->abort();  // no reply: the MTA waits for none
          macros_.forget_message();
        } else if constexpr (std::is_same_v<T, mp::QuitNewConnection>) {
          close_session(d_, session_);  // a new SMTP connection follows on this one
          macros_.clear();
        } else {
          static_assert(std::is_same_v<T, mp::Quit>);
          go_on = false;
        }
      },
      *cmd);
  return go_on;
}

// ---------------------------------------------------------------- the server

struct AsioMilterServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& i, MilterDaemon& dd, std::chrono::seconds t)
      : io(i), d(dd), read_timeout(t) {}

  asio::io_context& io;
  MilterDaemon& d;
  std::chrono::seconds read_timeout;
  std::unique_ptr<tcp::acceptor> tcp_acceptor;
  std::unique_ptr<local::acceptor> unix_acceptor;
  std::string unix_path;
  uint16_t port = 0;
  std::size_t open = 0;
  bool stopped = false;

  void bind(const Endpoint& ep) {
    if (ep.kind == Endpoint::Kind::tcp) {
      tcp_acceptor = listen_tcp(io, ep);
      port = tcp_acceptor->local_endpoint().port();
    } else {
      unix_acceptor = listen_unix(io, ep);
      unix_path = ep.path;
    }
  }

  void start() {
    auto self = shared_from_this();
    if (tcp_acceptor) {
      auto loop = accept_loop<tcp>(self, *tcp_acceptor);
      asio::co_spawn(io, std::move(loop), asio::detached);
    }
    if (unix_acceptor) {
      auto loop = accept_loop<local>(self, *unix_acceptor);
      asio::co_spawn(io, std::move(loop), asio::detached);
    }
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    boost::system::error_code ignored;
    if (tcp_acceptor) tcp_acceptor->close(ignored);
    if (unix_acceptor) unix_acceptor->close(ignored);
    if (!unix_path.empty()) ::unlink(unix_path.c_str());
  }

  template <class Protocol>
  static awaitable<void> accept_loop(std::shared_ptr<Impl> self,
                                     typename Protocol::acceptor& acceptor) {
    for (;;) {
      typename Protocol::socket socket(self->io);
      boost::system::error_code ec;
      auto accept = acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
      co_await std::move(accept);
      if (self->stopped || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        spdlog::warn("milter accept failed: {}", ec.message());
        continue;
      }
      if constexpr (std::is_same_v<Protocol, tcp>) socket.set_option(tcp::no_delay(true), ec);
      auto conn = serve<Protocol>(self, std::move(socket));
      asio::co_spawn(self->io, std::move(conn), asio::detached);
    }
  }

  // The read deadline: one timer per connection, re-armed only when it
  // fires (a read just notes the time), so a busy connection costs no timer
  // updates. Shared with the timer's handler, which may outlive the frame.
  struct Watch {
    std::chrono::steady_clock::time_point last_read;
    bool done = false;
  };

  template <class Socket>
  static void arm(asio::steady_timer& timer, std::shared_ptr<Watch> w, Socket& socket,
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

  template <class Protocol>
  static awaitable<void> serve(std::shared_ptr<Impl> self, typename Protocol::socket socket) {
    ++self->open;
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
        auto write =
            asio::async_write(socket, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
        co_await std::move(write);
        out.clear();
        if (ec) break;
      }
    }
    watch->done = true;
    timer.cancel();
    --self->open;
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
  return impl_->port;
}
std::size_t AsioMilterServer::connections() const {
  return impl_->open;
}
void AsioMilterServer::stop() {
  impl_->stop();
}

int run_asio_milter(MilterDaemon& d, const Endpoint& listen,
                    const std::function<void()>& announce) {
  asio::io_context io(1);
  std::unique_ptr<AsioMilterServer> server;
  try {
    server = std::make_unique<AsioMilterServer>(io, d, listen);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload_milter(d, "SIGHUP");
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server->stop();
    io.stop();
  };
  signals.async_wait(on_signal);
  announce();
  io.run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace sg
