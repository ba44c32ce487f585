// The status server over both transports: its pages, malformed and slow
// clients, deadlines, and being destroyed while busy. Binding its endpoints
// is in status_server_bind_test.cpp.
#include "server/status_server.hpp"

#include "tests/unit/status_server_test_support.hpp"

namespace sg {
namespace {

using namespace status_test;

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

}  // namespace
}  // namespace sg
