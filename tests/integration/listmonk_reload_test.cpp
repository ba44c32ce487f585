// rampd's Listmonk reload call against a local HTTP stub that records what
// it receives: the path and the API token, the answers it understands
// (content length, chunked, errors with a hint), and every way it fails
// within the timeout.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampd/http_client.hpp"
#include "rampd/listmonk_sync.hpp"
#include "tests/integration/listmonk_sync_test_support.hpp"
#include "tests/loopback_port.hpp"

namespace sg {
namespace {

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ the reload call

// A one-thread HTTP server on 127.0.0.1 that records each request and answers
// as told.
class HttpStub {
 public:
  enum class Mode {
    reply_and_close,  // answer, then close
    reply_keep_open,  // answer with Content-Length, keep the connection open
    reply_chunked,    // answer with a chunked body, then close
    silent,           // read the request, never answer
  };
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // names lowercased
  };

  explicit HttpStub(Mode mode = Mode::reply_and_close, int status = 200,
                    std::string body = "{\"data\":true}")
      : mode_(mode), status_(status), body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("stub cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpStub() {
    stop_ = true;
    thread_.join();
    for (int c : open_) ::close(c);
    ::close(fd_);
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/api/admin/reload") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      handle(c);
    }
  }

  void handle(int c) {
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t want = 0;
    while (!stop_) {
      if (head_end != std::string::npos && in.size() >= head_end + 4 + want) break;
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        Request r = parse(in.substr(0, head_end));
        auto it = r.headers.find("content-length");
        want = it == r.headers.end() ? 0 : std::stoul(it->second);
      }
    }
    if (head_end != std::string::npos) {
      Request r = parse(in.substr(0, head_end));
      r.body = in.substr(head_end + 4);
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
    }
    std::string reason = status_ / 100 == 2 ? "OK" : "Error";
    std::string head = "HTTP/1.1 " + std::to_string(status_) + " " + reason +
                       "\r\nContent-Type: application/json\r\n";
    switch (mode_) {
      case Mode::reply_and_close:
        send_all(c, head + "Content-Length: " + std::to_string(body_.size()) +
                        "\r\nConnection: close\r\n\r\n" + body_);
        ::close(c);
        break;
      case Mode::reply_keep_open:
        send_all(c, head + "Content-Length: " + std::to_string(body_.size()) + "\r\n\r\n" + body_);
        open_.push_back(c);
        break;
      case Mode::reply_chunked: {
        std::string half = body_.substr(0, body_.size() / 2);
        std::string rest = body_.substr(body_.size() / 2);
        auto hex = [](size_t n) {
          char b[32];
          std::snprintf(b, sizeof b, "%zx", n);
          return std::string(b);
        };
        send_all(c, head + "Transfer-Encoding: chunked\r\n\r\n" + hex(half.size()) + "\r\n" + half +
                        "\r\n" + hex(rest.size()) + ";ext=1\r\n" + rest + "\r\n0\r\n\r\n");
        open_.push_back(c);  // the terminal chunk, not the close, ends the body
        break;
      }
      case Mode::silent:
        open_.push_back(c);
        break;
    }
  }

  static Request parse(const std::string& head) {
    Request r;
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    size_t s1 = line.find(' ');
    size_t s2 = line.find(' ', s1 + 1);
    r.method = line.substr(0, s1);
    r.target = line.substr(s1 + 1, s2 - s1 - 1);
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string h = head.substr(pos, end - pos);
      pos = end + 2;
      size_t colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string name = h.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      size_t v = h.find_first_not_of(' ', colon + 1);
      r.headers[name] = v == std::string::npos ? "" : h.substr(v);
    }
    return r;
  }

  static void send_all(int c, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(c, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  Mode mode_;
  int status_;
  std::string body_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::vector<int> open_;  // connections kept open until the stub ends
  std::mutex mu_;
  std::vector<Request> requests_;
};

class ListmonkReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sg-lm-token-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string token_file(const std::string& content) {
    std::string path = dir_ + "/listmonk.token";
    std::ofstream(path) << content;
    return path;
  }
  ListmonkConfig cfg(const std::string& url, uint32_t timeout_ms = 3000) {
    ListmonkConfig c;
    c.dsn = "postgresql:///listmonk";
    c.reload_url = url;
    c.timeout_ms = timeout_ms;
    return c;
  }
  std::string dir_;
};

TEST_F(ListmonkReloadTest, PostsToThePathWithTheApiToken) {
  HttpStub stub;
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = token_file("  tok-3f9a1c\n\n");  // whitespace trimmed

  auto r = listmonk::reload(c);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.error, "");
  auto reqs = stub.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/api/admin/reload");
  EXPECT_EQ(reqs[0].headers["authorization"], "token rampd:tok-3f9a1c");
  EXPECT_EQ(reqs[0].headers["host"], "127.0.0.1:" + std::to_string(stub.port()));
  EXPECT_EQ(reqs[0].headers["connection"], "close");
  EXPECT_EQ(reqs[0].headers["content-length"], "0");
  EXPECT_EQ(reqs[0].body, "");
}

TEST_F(ListmonkReloadTest, NoAuthorizationWithoutAnApiUser) {
  HttpStub stub;
  auto r = listmonk::reload(cfg(stub.url()));
  EXPECT_TRUE(r.ok) << r.error;
  auto reqs = stub.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers.count("authorization"), 0u);
}

TEST_F(ListmonkReloadTest, ServerErrorIsNotOkAndGivesTheStatus) {
  HttpStub stub(HttpStub::Mode::reply_and_close, 500, "{\"message\":\"reload failed\"}");
  auto r = listmonk::reload(cfg(stub.url()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 500);
  EXPECT_TRUE(contains(r.error, "answered HTTP 500")) << r.error;
  EXPECT_TRUE(contains(r.error, "reload failed")) << r.error;
  EXPECT_EQ(stub.requests().size(), 1u);
}

TEST_F(ListmonkReloadTest, ForbiddenHintsAtTheApiUser) {
  HttpStub stub(HttpStub::Mode::reply_and_close, 403, "{\"message\":\"permission denied\"}");
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = token_file("bad-token");
  auto r = listmonk::reload(c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 403);
  EXPECT_TRUE(contains(r.error, "settings:manage")) << r.error;
  EXPECT_FALSE(contains(r.error, "bad-token")) << r.error;
}

TEST_F(ListmonkReloadTest, UnreachablePortFailsWithinTheTimeout) {
  uint16_t port = sg::testing::free_loopback_port();
  auto t0 = Clock::now();
  auto r =
      listmonk::reload(cfg("http://127.0.0.1:" + std::to_string(port) + "/api/admin/reload", 1000));
  EXPECT_LT(ms_since(t0), 1000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_TRUE(contains(r.error, "cannot connect to 127.0.0.1:" + std::to_string(port))) << r.error;
}

TEST_F(ListmonkReloadTest, SilentServerTimesOutWithinTheTimeout) {
  HttpStub stub(HttpStub::Mode::silent);
  auto t0 = Clock::now();
  auto r = listmonk::reload(cfg(stub.url(), 300));
  auto took = ms_since(t0);
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 1500);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "timed out after 300 ms")) << r.error;
}

TEST_F(ListmonkReloadTest, ListenerThatNeverAcceptsTimesOut) {
  SilentListener silent;
  auto t0 = Clock::now();
  auto r = listmonk::reload(
      cfg("http://127.0.0.1:" + std::to_string(silent.port()) + "/api/admin/reload", 300));
  EXPECT_LT(ms_since(t0), 1500);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "timed out")) << r.error;
}

TEST_F(ListmonkReloadTest, ContentLengthEndsTheAnswerWithoutWaitingForClose) {
  HttpStub stub(HttpStub::Mode::reply_keep_open, 200, "{\"data\":true}");
  auto t0 = Clock::now();
  auto resp = http::post(stub.url(), {}, "", 5000);
  EXPECT_LT(ms_since(t0), 2000);
  EXPECT_TRUE(resp.ok) << resp.error;
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "{\"data\":true}");
}

TEST_F(ListmonkReloadTest, ChunkedAnswerIsDecoded) {
  HttpStub stub(HttpStub::Mode::reply_chunked, 200, "{\"data\":true}");
  auto t0 = Clock::now();
  auto resp = http::post(stub.url(), {{"X-Test", "1"}}, "{}", 5000);
  EXPECT_LT(ms_since(t0), 2000);
  EXPECT_TRUE(resp.ok) << resp.error;
  EXPECT_EQ(resp.body, "{\"data\":true}");
  auto reqs = stub.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "{}");
  EXPECT_EQ(reqs[0].headers["x-test"], "1");
}

TEST_F(ListmonkReloadTest, HeaderWithALineBreakIsRefused) {
  HttpStub stub;
  auto resp = http::post(stub.url(), {{"X-Test", "a\r\nX-Evil: 1"}}, "", 1000);
  EXPECT_FALSE(resp.ok);
  EXPECT_TRUE(contains(resp.error, "bad HTTP header")) << resp.error;
  EXPECT_TRUE(stub.requests().empty());
}

TEST_F(ListmonkReloadTest, MissingTokenFileIsAnErrorNamingIt) {
  HttpStub stub;
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = dir_ + "/no-such.token";
  auto r = listmonk::reload(c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_TRUE(contains(r.error, dir_ + "/no-such.token")) << r.error;
  EXPECT_TRUE(contains(r.error, "No such file")) << r.error;
  EXPECT_TRUE(stub.requests().empty());  // nothing sent without the token
}

TEST_F(ListmonkReloadTest, EmptyTokenFileIsAnErrorNamingIt) {
  HttpStub stub;
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = token_file(" \n\t\n");
  auto r = listmonk::reload(c);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, c.api_token_file + "' is empty")) << r.error;
  EXPECT_TRUE(stub.requests().empty());
}

TEST_F(ListmonkReloadTest, EmptyReloadUrlSendsNothing) {
  auto r = listmonk::reload(cfg(""));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.http_status, 0);
}

TEST_F(ListmonkReloadTest, HttpsUrlIsAnError) {
  auto r = listmonk::reload(cfg("https://127.0.0.1:9443/api/admin/reload"));
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "https is not supported")) << r.error;
}

}  // namespace
}  // namespace sg
