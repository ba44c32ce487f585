// The status server's endpoints: a Unix socket's mode and removal, a stale
// socket replaced, a live one or a regular file never taken, errors that
// name the endpoint, and several endpoints serving the same pages.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/status_server.hpp"
#include "tests/unit/status_server_test_support.hpp"

namespace sg {
namespace {

using namespace status_test;

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
