// parse_http_url and HttpUrl (rampd/http_client.hpp): the URL Listmonk's
// reload is posted to, checked when the config is read.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

#include "common/endpoint.hpp"
#include "common/text.hpp"
#include "rampd/http_client.hpp"

namespace sg::http {
namespace {

using text::iequals;

bool host_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

std::string HttpUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != 80) h += ":" + std::to_string(port);
  return h;
}

std::string HttpUrl::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

namespace {

// What follows "http://", or nothing (and `error` set) for any other URL.
std::optional<std::string_view> after_http_scheme(std::string_view url, std::string& error) {
  for (char c : url) {
    if (is_ctl_or_space(c)) {
      error = "URL contains a space or a control character: '" + std::string(url) + "'";
      return std::nullopt;
    }
  }
  const size_t sep = url.find("://");
  const std::string_view scheme = sep == std::string_view::npos ? "" : url.substr(0, sep);
  if (iequals(scheme, "https")) {
    error = "https is not supported (only http://): '" + std::string(url) + "'";
    return std::nullopt;
  }
  if (!iequals(scheme, "http")) {
    error = "not an http:// URL: '" + std::string(url) + "'";
    return std::nullopt;
  }
  return url.substr(sep + 3);
}

// The host of `hp`: an IPv6 address in brackets, or a name or IPv4 address.
bool valid_host(const HostPort& hp, std::string_view url, std::string& error) {
  const std::string host(hp.host);
  if (hp.bracketed) {
    in6_addr a6{};
    if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) return true;
    error = "'" + host + "' is not an IPv6 address in '" + std::string(url) + "'";
    return false;
  }
  if (hp.colons > 1) {
    error = "an IPv6 address must be in brackets ([::1]) in '" + std::string(url) + "'";
    return false;
  }
  for (char c : host) {
    if (!host_name_char(c)) {
      error = "bad character '" + std::string(1, c) + "' in the host of '" + std::string(url) + "'";
      return false;
    }
  }
  if (!host.empty()) return true;
  error = "no host in '" + std::string(url) + "'";
  return false;
}

std::optional<uint16_t> parse_port(std::string_view port, std::string_view url,
                                   std::string& error) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc() || p != port.data() + port.size() ||
      value < 1 || value > 65535) {
    error = "bad port '" + std::string(port) + "' in '" + std::string(url) + "' (1-65535)";
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

// The request target: path and query, without the fragment; "/" for none.
std::string request_target(std::string_view tail) {
  const size_t hash = tail.find('#');
  if (hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (tail.empty()) return "/";
  if (tail.front() == '?') return "/" + std::string(tail);
  return std::string(tail);
}

}  // namespace

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error) {
  error.clear();
  const auto rest = after_http_scheme(url, error);
  if (!rest) return std::nullopt;
  const size_t auth_end = rest->find_first_of("/?#");
  const std::string_view authority = rest->substr(0, auth_end);
  const std::string_view tail = auth_end == std::string_view::npos ? "" : rest->substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    // Not echoed: the part before '@' may be a password.
    error = "user:password@ in an http:// URL is not supported (use api_user and api_token_file)";
    return std::nullopt;
  }
  HostPortError split_error;
  const auto hp = split_host_port(authority, false, split_error);
  if (!hp) {
    error = (split_error == HostPortError::unclosed_bracket ? "unclosed '[' in the host of '"
                                                            : "unexpected text after ']' in '") +
            std::string(url) + "'";
    return std::nullopt;
  }
  if (!valid_host(*hp, url, error)) return std::nullopt;
  HttpUrl out;
  out.host = std::string(hp->host);
  if (hp->has_port) {
    const auto port = parse_port(hp->port, url, error);
    if (!port) return std::nullopt;
    out.port = *port;
  }
  out.target = request_target(tail);
  return out;
}

}  // namespace sg::http
