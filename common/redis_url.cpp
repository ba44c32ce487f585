#include "common/redis_url.hpp"

#include <charconv>

namespace sg {

namespace {

bool parse_db(std::string_view text, int& db) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), db);
  return ec == std::errc{} && ptr == text.data() + text.size() && db >= 0 && db < 10000;
}

}  // namespace

std::string redact_redis_url(std::string_view url) {
  const auto scheme = url.find("://");
  const auto at = url.rfind('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) {
    // No credentials where a URL has them; a stray "user:pw@" without a
    // scheme is still hidden whole.
    return at == std::string_view::npos ? std::string(url) : "***" + std::string(url.substr(at));
  }
  const auto from = scheme + 3;
  const auto colon = url.find(':', from);
  const auto cut = colon != std::string_view::npos && colon < at ? colon + 1 : from;
  return std::string(url.substr(0, cut)) + "***" + std::string(url.substr(at));
}

std::string redis_location(std::string_view url) {
  std::string error;
  const auto u = parse_redis_url(url, error);
  return u ? redis_location(u->endpoint) : "Redis";
}

std::string redis_location(const Endpoint& ep) {
  if (ep.kind == Endpoint::Kind::unix_socket) return "Redis at " + ep.path;
  if (ep.host.find(':') != std::string::npos)
    return "Redis at [" + ep.host + "]:" + std::to_string(ep.port);
  return "Redis at " + ep.host + ":" + std::to_string(ep.port);
}

std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& error) {
  const std::string shown = redact_redis_url(url);  // errors quote the URL, never its password
  RedisUrl out;
  if (url.starts_with("unix:")) {
    std::string_view rest = url.substr(5);
    if (rest.starts_with("//")) rest.remove_prefix(2);
    auto q = rest.find('?');
    std::string_view query = q == std::string_view::npos ? "" : rest.substr(q + 1);
    rest = rest.substr(0, q);
    if (!query.empty()) {
      if (!query.starts_with("db=") || !parse_db(query.substr(3), out.db)) {
        error =
            "bad query '" + std::string(query) + "' in '" + shown + "' (only ?db=N is understood)";
        return std::nullopt;
      }
    }
    auto ep = parse_endpoint("unix:" + std::string(rest), error);
    if (!ep) return std::nullopt;
    out.endpoint = *ep;
    return out;
  }
  if (!url.starts_with("redis://")) {
    error = "redis url must start with redis:// or unix:, got '" + shown + "'";
    return std::nullopt;
  }
  std::string_view rest = url.substr(8);
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    auto colon = auth.find(':');
    out.password = std::string(colon == std::string_view::npos ? auth : auth.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  auto slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !parse_db(db, out.db)) {
      error = "bad database number '" + std::string(db) + "' in '" + shown + "'";
      return std::nullopt;
    }
    rest = rest.substr(0, slash);
  }
  std::string hostport(rest);
  if (hostport.find(':') == std::string::npos ||
      (hostport.front() == '[' && hostport.back() == ']'))
    hostport += ":6379";
  auto ep = parse_endpoint("inet:" + hostport, error);
  if (!ep) return std::nullopt;
  out.endpoint = *ep;
  return out;
}

}  // namespace sg
