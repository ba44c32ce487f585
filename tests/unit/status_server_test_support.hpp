// Helpers shared by the status server's unit tests (status_server_test.cpp,
// status_server_bind_test.cpp): a scratch directory, the two kinds of
// endpoint, a coroutine client that sends a request in pieces and reads
// until the server closes, and a parser for the HTTP response it got.
#pragma once

#include "server/status_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <gtest/gtest.h>
#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// GCC 12 misreads Asio 1.74's coroutine frame allocator as a mismatched new/delete.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace sg::status_test {

namespace net = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline constexpr auto kLongDeadline = 5s;      // never reached in the ordinary tests
inline constexpr auto kShortDeadline = 100ms;  // for the tests that wait for the deadline
inline constexpr auto kGiveUp = 10s;           // a test that takes this long has failed

inline const std::string kMetricsBody = "# HELP sg_up Up.\n# TYPE sg_up gauge\nsg_up 1\n";
inline const std::string kStatusBody = R"({"ok":true})";

// A scratch directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sg_status_test_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Endpoint unix_endpoint(const std::string& path) {
  Endpoint ep;
  ep.kind = Endpoint::Kind::unix_socket;
  ep.path = path;
  return ep;
}

inline Endpoint tcp_endpoint(uint16_t port = 0) {
  Endpoint ep;
  ep.kind = Endpoint::Kind::tcp;
  ep.host = "127.0.0.1";
  ep.port = port;
  return ep;
}

// Runs `io` in this thread until `done` holds (or the test has clearly failed).
inline void run_until(net::io_context& io, const std::function<bool()>& done) {
  auto give_up = Clock::now() + kGiveUp;
  while (!done() && Clock::now() < give_up) {
    if (io.stopped()) io.restart();
    io.run_one_until(give_up);
  }
}

struct Exchange {
  bool done = false;
  error_code connect_error;
  std::string received;  // everything the server sent before closing
  error_code end;        // why reading stopped: eof when the server closed
  Clock::duration elapsed{};
};

struct Request {
  std::vector<std::string> pieces;  // written separately, a little apart
  bool half_close = false;          // shut down our sending side after the request
};

template <class Socket, class Ep>
net::awaitable<void> client(Socket sock, Ep ep, Request req, std::shared_ptr<Exchange> out) {
  error_code ec;
  auto start = Clock::now();
  co_await sock.async_connect(ep, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    out->connect_error = ec;
    out->done = true;
    co_return;
  }
  net::steady_timer pause(sock.get_executor());
  for (std::size_t i = 0; i < req.pieces.size(); ++i) {
    if (i > 0) {
      // Lets the server read each piece on its own, to exercise reassembly.
      pause.expires_after(5ms);
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    co_await net::async_write(sock, net::buffer(req.pieces[i]),
                              net::redirect_error(net::use_awaitable, ec));
  }
  if (req.half_close) sock.shutdown(net::socket_base::shutdown_send, ec);
  std::array<char, 4096> buf;
  for (;;) {
    std::size_t n = co_await sock.async_read_some(net::buffer(buf),
                                                  net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    out->received.append(buf.data(), n);
  }
  out->end = ec;
  out->elapsed = Clock::now() - start;
  out->done = true;
}

// Starts a client for `ep`; the caller runs the io_context.
inline std::shared_ptr<Exchange> start_client(net::io_context& io, const Endpoint& ep,
                                              uint16_t port, Request req) {
  auto out = std::make_shared<Exchange>();
  if (ep.kind == Endpoint::Kind::unix_socket) {
    net::co_spawn(io,
                  client(net::local::stream_protocol::socket(io),
                         net::local::stream_protocol::endpoint(ep.path), std::move(req), out),
                  net::detached);
  } else {
    net::co_spawn(
        io,
        client(net::ip::tcp::socket(io),
               net::ip::tcp::endpoint(net::ip::make_address(ep.host), port), std::move(req), out),
        net::detached);
  }
  return out;
}

inline Exchange exchange(net::io_context& io, const Endpoint& ep, uint16_t port, Request req) {
  auto out = start_client(io, ep, port, std::move(req));
  run_until(io, [&] { return out->done; });
  EXPECT_TRUE(out->done) << "the exchange did not finish";
  EXPECT_FALSE(out->connect_error) << out->connect_error.message();
  return *out;
}

struct Response {
  bool parsed = false;
  std::string status_line;
  std::map<std::string, std::string> headers;
  std::string body;
};

inline Response parse(const std::string& raw) {
  Response r;
  auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return r;
  std::string head = raw.substr(0, head_end);
  r.body = raw.substr(head_end + 4);
  std::size_t pos = head.find("\r\n");
  r.status_line = head.substr(0, pos);
  while (pos != std::string::npos) {
    std::size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    auto colon = line.find(": ");
    if (colon == std::string::npos) return r;
    r.headers[line.substr(0, colon)] = line.substr(colon + 2);
    pos = next;
  }
  r.parsed = true;
  return r;
}

}  // namespace sg::status_test
