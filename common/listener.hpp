// Binding a daemon's listeners (policyd's policy socket, the milter's Asio
// engine): one place that replaces a stale unix socket file, opens it to
// whoever reaches its folder, and names the endpoint when binding fails.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/endpoint.hpp"

namespace sg {

// A listening TCP acceptor on ep (host a literal address; port 0 picks one).
inline std::unique_ptr<boost::asio::ip::tcp::acceptor> listen_tcp(boost::asio::io_context& io,
                                                                  const Endpoint& ep) {
  using boost::asio::ip::tcp;
  try {
    auto a = std::make_unique<tcp::acceptor>(io);
    tcp::endpoint e(boost::asio::ip::make_address(ep.host), ep.port);
    a->open(e.protocol());
    a->set_option(tcp::acceptor::reuse_address(true));
    a->bind(e);
    a->listen(boost::asio::socket_base::max_listen_connections);
    return a;
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + ep.to_string() + ": " + e.code().message());
  }
}

// A listening unix-socket acceptor at ep.path. A socket file left behind by a
// crash is replaced (never any other kind of file). Access is governed by the
// folder (Postfix's private/ is 0700 postfix), so the socket itself is open
// to whoever reaches it.
inline std::unique_ptr<boost::asio::local::stream_protocol::acceptor> listen_unix(
    boost::asio::io_context& io, const Endpoint& ep) {
  using boost::asio::local::stream_protocol;
  try {
    struct stat st {};
    if (::lstat(ep.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(ep.path.c_str());
    auto a = std::make_unique<stream_protocol::acceptor>(io, stream_protocol::endpoint(ep.path));
    ::chmod(ep.path.c_str(), 0666);
    return a;
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + ep.to_string() + ": " + e.code().message());
  }
}

}  // namespace sg
