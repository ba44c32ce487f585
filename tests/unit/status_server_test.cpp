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

namespace sg {
namespace {

namespace net = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kLongDeadline = 5s;      // never reached in the ordinary tests
constexpr auto kShortDeadline = 100ms;  // for the tests that wait for the deadline
constexpr auto kGiveUp = 10s;           // a test that takes this long has failed

const std::string kMetricsBody = "# HELP sg_up Up.\n# TYPE sg_up gauge\nsg_up 1\n";
const std::string kStatusBody = R"({"ok":true})";

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

Endpoint unix_endpoint(const std::string& path) {
  Endpoint ep;
  ep.kind = Endpoint::Kind::unix_socket;
  ep.path = path;
  return ep;
}

Endpoint tcp_endpoint(uint16_t port = 0) {
  Endpoint ep;
  ep.kind = Endpoint::Kind::tcp;
  ep.host = "127.0.0.1";
  ep.port = port;
  return ep;
}

// Runs `io` in this thread until `done` holds (or the test has clearly failed).
void run_until(net::io_context& io, const std::function<bool()>& done) {
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
std::shared_ptr<Exchange> start_client(net::io_context& io, const Endpoint& ep, uint16_t port,
                                       Request req) {
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

Exchange exchange(net::io_context& io, const Endpoint& ep, uint16_t port, Request req) {
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

Response parse(const std::string& raw) {
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

// ---------------------------------------------------------------------------
// Behaviour common to both transports.

class StatusServerTest : public ::testing::TestWithParam<Endpoint::Kind> {
 protected:
  void SetUp() override { start(kLongDeadline); }

  void start(Clock::duration deadline) {
    server_.reset();
    endpoint_ = GetParam() == Endpoint::Kind::unix_socket ? unix_endpoint(dir_.file("status.sock"))
                                                          : tcp_endpoint();
    server_ = std::make_unique<StatusServer>(
        io_, std::vector<Endpoint>{endpoint_}, [this] { return metrics_(); },
        [] { return kStatusBody; }, deadline);
    port_ = server_->bound_ports().at(0);
  }

  Exchange send(Request req) { return exchange(io_, endpoint_, port_, std::move(req)); }
  Exchange send(std::string raw) { return send(Request{{std::move(raw)}, false}); }

  // A complete, well-formed response (Content-Length right, Connection: close,
  // closed by the server afterwards).
  Response expect_response(const Exchange& ex, const std::string& status_line) {
    Response r = parse(ex.received);
    EXPECT_TRUE(r.parsed) << ex.received;
    EXPECT_EQ(r.status_line, status_line);
    EXPECT_EQ(r.headers["Content-Length"], std::to_string(r.body.size()));
    EXPECT_EQ(r.headers["Connection"], "close");
    EXPECT_EQ(ex.end, net::error::eof) << ex.end.message();
    return r;
  }

  TempDir dir_;
  net::io_context io_;
  Endpoint endpoint_;
  uint16_t port_ = 0;
  std::function<std::string()> metrics_ = [] { return kMetricsBody; };
  std::unique_ptr<StatusServer> server_;
};

std::string transport_name(const ::testing::TestParamInfo<Endpoint::Kind>& p) {
  return p.param == Endpoint::Kind::tcp ? "tcp" : "unix";
}

INSTANTIATE_TEST_SUITE_P(Transports, StatusServerTest,
                         ::testing::Values(Endpoint::Kind::unix_socket, Endpoint::Kind::tcp),
                         transport_name);

TEST_P(StatusServerTest, Metrics) {
  Exchange ex = send("GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n");
  Response r = expect_response(ex, "HTTP/1.0 200 OK");
  EXPECT_EQ(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, kMetricsBody);
}

TEST_P(StatusServerTest, MetricsPageIsRenderedPerRequest) {
  int calls = 0;
  metrics_ = [&calls] { return "sg_calls " + std::to_string(++calls) + "\n"; };
  EXPECT_EQ(expect_response(send("GET /metrics HTTP/1.0\r\n\r\n"), "HTTP/1.0 200 OK").body,
            "sg_calls 1\n");
  EXPECT_EQ(expect_response(send("GET /metrics HTTP/1.0\r\n\r\n"), "HTTP/1.0 200 OK").body,
            "sg_calls 2\n");
}

TEST_P(StatusServerTest, Status) {
  Response r = expect_response(send("GET /status HTTP/1.0\r\n\r\n"), "HTTP/1.0 200 OK");
  EXPECT_EQ(r.headers["Content-Type"], "application/json");
  EXPECT_EQ(r.body, kStatusBody);
}

TEST_P(StatusServerTest, IndexNamesBothPages) {
  Response r = expect_response(send("GET / HTTP/1.0\r\n\r\n"), "HTTP/1.0 200 OK");
  EXPECT_EQ(r.headers["Content-Type"], "text/plain; charset=utf-8");
  EXPECT_NE(r.body.find("/metrics"), std::string::npos);
  EXPECT_NE(r.body.find("/status"), std::string::npos);
}

TEST_P(StatusServerTest, QueryStringIsIgnored) {
  Response r = expect_response(send("GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), "HTTP/1.0 200 OK");
  EXPECT_EQ(r.body, kMetricsBody);
}

TEST_P(StatusServerTest, BareNewlinesEndTheHead) {
  Response r = expect_response(send("GET /status HTTP/1.0\nHost: x\n\n"), "HTTP/1.0 200 OK");
  EXPECT_EQ(r.body, kStatusBody);
}

TEST_P(StatusServerTest, RequestInPieces) {
  Request req{{"GET /met", "rics HTTP/1.1\r\nHost: x\r", "\n\r", "\n"}, false};
  Response r = expect_response(send(req), "HTTP/1.0 200 OK");
  EXPECT_EQ(r.body, kMetricsBody);
}

TEST_P(StatusServerTest, UnknownPathIs404) {
  expect_response(send("GET /nope HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not Found");
  expect_response(send("GET /metrics/ HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not Found");
}

TEST_P(StatusServerTest, OtherMethodIs405) {
  for (const char* method : {"POST", "HEAD", "DELETE"}) {
    Response r = expect_response(send(std::string(method) + " /metrics HTTP/1.1\r\n\r\n"),
                                 "HTTP/1.0 405 Method Not Allowed");
    EXPECT_EQ(r.headers["Allow"], "GET");
  }
}

TEST_P(StatusServerTest, GarbageIs400) {
  for (const char* raw :
       {"hello\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/2.0\r\n\r\n",
        "GET metrics HTTP/1.0\r\n\r\n", "GET  /metrics HTTP/1.0\r\n\r\n",
        "GET /metrics HTTP/1.0 extra\r\n\r\n", "\r\n\r\n", "G(T /metrics HTTP/1.0\r\n\r\n",
        "GET /metrics HTTP/1.0\r\nno colon here\r\n\r\n"}) {
    SCOPED_TRACE(raw);
    Response r = expect_response(send(raw), "HTTP/1.0 400 Bad Request");
    EXPECT_EQ(r.headers["Content-Type"], "text/plain; charset=utf-8");
  }
}

TEST_P(StatusServerTest, OversizeRequestIs400) {
  std::string raw = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(20000, 'a') + "\r\n\r\n";
  Response r = expect_response(send(raw), "HTTP/1.0 400 Bad Request");
  EXPECT_NE(r.body.find("8192"), std::string::npos) << r.body;
}

TEST_P(StatusServerTest, HeadLimitIsExactly8KiB) {
  const std::string start = "GET /metrics HTTP/1.1\r\nX-Filler: ";
  const std::string end = "\r\n\r\n";
  std::string fits = start + std::string(8192 - start.size() - end.size(), 'a') + end;
  ASSERT_EQ(fits.size(), 8192u);
  expect_response(send(fits), "HTTP/1.0 200 OK");
  std::string too_big = start + std::string(8193 - start.size() - end.size(), 'a') + end;
  expect_response(send(too_big), "HTTP/1.0 400 Bad Request");
}

TEST_P(StatusServerTest, IncompleteRequestThenEofIs400) {
  expect_response(send(Request{{"GET /metrics HTTP/1.0\r\n"}, true}), "HTTP/1.0 400 Bad Request");
}

TEST_P(StatusServerTest, ClientThatSendsNothingAndClosesGetsNothing) {
  Exchange ex = send(Request{{}, true});
  EXPECT_EQ(ex.received, "");
  EXPECT_EQ(ex.end, net::error::eof);
}

TEST_P(StatusServerTest, FailingPageIs500) {
  metrics_ = []() -> std::string { throw std::runtime_error("registry on fire"); };
  Response r =
      expect_response(send("GET /metrics HTTP/1.0\r\n\r\n"), "HTTP/1.0 500 Internal Server Error");
  EXPECT_NE(r.body.find("registry on fire"), std::string::npos);
  // The server still serves.
  expect_response(send("GET /status HTTP/1.0\r\n\r\n"), "HTTP/1.0 200 OK");
}

TEST_P(StatusServerTest, SilentClientIsClosedAfterTheDeadline) {
  start(kShortDeadline);
  Exchange ex = send(Request{{}, false});  // connects, sends nothing, keeps its side open
  EXPECT_EQ(ex.received, "");
  EXPECT_EQ(ex.end, net::error::eof) << ex.end.message();
  EXPECT_GE(ex.elapsed, kShortDeadline);
  EXPECT_LT(ex.elapsed, 3s) << "the injected deadline was not used";
}

TEST_P(StatusServerTest, SlowClientIsClosedAfterTheDeadline) {
  start(kShortDeadline);
  Exchange ex = send(Request{{"GET /metrics HTTP/1.0\r\n"}, false});  // never finishes the head
  EXPECT_EQ(ex.received, "");
  EXPECT_EQ(ex.end, net::error::eof) << ex.end.message();
  EXPECT_GE(ex.elapsed, kShortDeadline);
  EXPECT_LT(ex.elapsed, 3s);
}

TEST_P(StatusServerTest, ConcurrentClients) {
  std::vector<std::shared_ptr<Exchange>> all;
  for (int i = 0; i < 20; ++i) {
    all.push_back(start_client(
        io_, endpoint_, port_,
        Request{{i % 2 ? "GET /metrics HTTP/1.0\r\n\r\n" : "GET /status HTTP/1.0\r\n\r\n"},
                false}));
  }
  run_until(io_, [&] {
    for (auto& e : all)
      if (!e->done) return false;
    return true;
  });
  for (int i = 0; i < 20; ++i) {
    Response r = expect_response(*all[i], "HTTP/1.0 200 OK");
    EXPECT_EQ(r.body, i % 2 ? kMetricsBody : kStatusBody);
  }
}

TEST_P(StatusServerTest, DestroyedWhileAConnectionWaits) {
  auto ex = start_client(io_, endpoint_, port_, Request{{"GET /metr"}, false});
  // Let the server accept the connection and start reading (a few turns of the
  // loop; the client never completes its request, so nothing else can happen).
  for (int i = 0; i < 20 && !ex->done; ++i) io_.poll();
  EXPECT_FALSE(ex->done);
  auto destroyed_at = Clock::now();
  server_.reset();
  run_until(io_, [&] { return ex->done; });
  ASSERT_TRUE(ex->done);
  EXPECT_EQ(ex->received, "");
  EXPECT_LT(Clock::now() - destroyed_at, 1s) << "the connection outlived the server";
}

TEST_P(StatusServerTest, DestroyedFromInsideAPage) {
  // The worst case for lifetimes: the server goes away while its connection
  // coroutine is in the middle of building the response.
  bool called = false;
  metrics_ = [&] {
    called = true;
    server_.reset();
    return std::string("late\n");
  };
  auto ex = start_client(io_, endpoint_, port_, Request{{"GET /metrics HTTP/1.0\r\n\r\n"}, false});
  run_until(io_, [&] { return ex->done; });
  ASSERT_TRUE(ex->done);
  EXPECT_TRUE(called);
  EXPECT_EQ(ex->received, "");
  EXPECT_EQ(server_, nullptr);
}

// ---------------------------------------------------------------------------
// Binding.

std::string page() {
  return "x";
}

TEST(StatusServerBindTest, UnixSocketIsCreatedWithMode0660AndRemoved) {
  TempDir dir;
  net::io_context io;
  std::string path = dir.file("s.sock");
  {
    StatusServer server(io, {unix_endpoint(path)}, page, page);
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    EXPECT_EQ(server.bound_ports(), std::vector<uint16_t>{0});
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Leaves a socket file behind that nothing listens on, as a crashed daemon would.
void make_stale_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
}

TEST(StatusServerBindTest, StaleUnixSocketIsReplaced) {
  TempDir dir;
  net::io_context io;
  Endpoint ep = unix_endpoint(dir.file("s.sock"));
  make_stale_socket(ep.path);
  StatusServer server(io, {ep}, page, [] { return std::string("{}"); });
  Exchange ex = exchange(io, ep, 0, Request{{"GET /status HTTP/1.0\r\n\r\n"}, false});
  EXPECT_EQ(parse(ex.received).body, "{}");
}

TEST(StatusServerBindTest, LiveUnixSocketIsNotStolen) {
  TempDir dir;
  net::io_context io;
  Endpoint ep = unix_endpoint(dir.file("s.sock"));
  StatusServer first(io, {ep}, page, page);
  try {
    StatusServer second(io, {ep}, page, page);
    FAIL() << "bound a socket another server listens on";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(ep.to_string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("another process"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_socket(ep.path));
}

TEST(StatusServerBindTest, RegularFileIsNotReplaced) {
  TempDir dir;
  net::io_context io;
  Endpoint ep = unix_endpoint(dir.file("s.sock"));
  std::ofstream(ep.path) << "precious";
  try {
    StatusServer server(io, {ep}, page, page);
    FAIL() << "replaced a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(ep.to_string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a socket"), std::string::npos) << e.what();
  }
  std::ifstream in(ep.path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST(StatusServerBindTest, MissingDirectoryNamesEndpointAndError) {
  net::io_context io;
  Endpoint ep = unix_endpoint("/nonexistent-sg-dir/s.sock");
  try {
    StatusServer server(io, {ep}, page, page);
    FAIL() << "bound in a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unix:/nonexistent-sg-dir/s.sock"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
        << e.what();
  }
}

TEST(StatusServerBindTest, TcpPortInUseNamesEndpointAndError) {
  net::io_context io;
  StatusServer first(io, {tcp_endpoint()}, page, page);
  uint16_t port = first.bound_ports().at(0);
  ASSERT_NE(port, 0);
  try {
    StatusServer second(io, {tcp_endpoint(port)}, page, page);
    FAIL() << "bound a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("inet:127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
}

TEST(StatusServerBindTest, FailedConstructionRemovesWhatItBound) {
  TempDir dir;
  net::io_context io;
  std::string path = dir.file("a.sock");
  EXPECT_THROW(StatusServer(io, {unix_endpoint(path), unix_endpoint("/nonexistent-sg-dir/b.sock")},
                            page, page),
               std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(StatusServerBindTest, SeveralEndpointsServeTheSamePages) {
  TempDir dir;
  net::io_context io;
  std::vector<Endpoint> eps = {tcp_endpoint(), unix_endpoint(dir.file("s.sock")), tcp_endpoint()};
  StatusServer server(
      io, eps, [] { return std::string("m\n"); }, page);
  std::vector<uint16_t> ports = server.bound_ports();
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_NE(ports[0], 0);
  EXPECT_EQ(ports[1], 0);
  EXPECT_NE(ports[2], 0);
  EXPECT_NE(ports[0], ports[2]);
  for (std::size_t i = 0; i < eps.size(); ++i) {
    Exchange ex = exchange(io, eps[i], ports[i], Request{{"GET /metrics HTTP/1.0\r\n\r\n"}, false});
    EXPECT_EQ(parse(ex.received).body, "m\n") << eps[i].to_string();
  }
}

}  // namespace
}  // namespace sg
