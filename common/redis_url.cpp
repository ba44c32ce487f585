#include "common/redis_url.hpp"

#include <cctype>
#include <charconv>

namespace sg {

namespace {

bool parse_db(std::string_view text, int& db) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), db);
  return ec == std::errc{} && ptr == text.data() + text.size() && db >= 0 && db < 10000;
}

// "USER:PASSWORD", ":PASSWORD" or "PASSWORD". The user "default" is Redis's
// own: AUTH with the password alone means the same and also works on a
// Redis older than 6.
void take_credentials(std::string_view auth, RedisUrl& out) {
  const auto colon = auth.find(':');
  if (colon == std::string_view::npos) {
    out.password = std::string(auth);
    return;
  }
  out.username = std::string(auth.substr(0, colon));
  out.password = std::string(auth.substr(colon + 1));
  if (out.username == "default") out.username.clear();
}

// Takes "CREDENTIALS@" off the front of `rest`, up to the last `end`: "@"
// in redis:// and sentinel://, "@/" in unix:// (the path after the '@' stays,
// and an '@' inside a path is not mistaken for the end of a password).
void take_credentials_before(std::string_view& rest, std::string_view end, RedisUrl& out) {
  const auto at = rest.rfind(end);
  if (at == std::string_view::npos) return;
  take_credentials(rest.substr(0, at), out);
  rest.remove_prefix(at + 1);
}

// "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" with the port defaulted.
std::optional<Endpoint> tcp_node(std::string_view text, int default_port, std::string& error) {
  std::string hostport(text);
  if (hostport.empty() || hostport.find(':') == std::string::npos ||
      (hostport.front() == '[' && hostport.back() == ']'))
    hostport += ":" + std::to_string(default_port);
  return parse_endpoint("inet:" + hostport, error);
}

// "/DB" after the address, or nothing.
bool take_db(std::string_view text, const std::string& shown, RedisUrl& out, std::string& error) {
  if (text.empty() || parse_db(text, out.db)) return true;
  error = "bad database number '" + std::string(text) + "' in '" + shown + "'";
  return false;
}

std::optional<RedisUrl> parse_unix(std::string_view rest, const std::string& shown,
                                   std::string& error) {
  RedisUrl out;
  if (rest.starts_with("//")) rest.remove_prefix(2);
  if (!rest.starts_with('/')) take_credentials_before(rest, "@/", out);
  auto q = rest.find('?');
  std::string_view query = q == std::string_view::npos ? "" : rest.substr(q + 1);
  rest = rest.substr(0, q);
  if (!query.empty() && (!query.starts_with("db=") || !parse_db(query.substr(3), out.db))) {
    error = "bad query '" + std::string(query) + "' in '" + shown + "' (only ?db=N is understood)";
    return std::nullopt;
  }
  auto ep = parse_endpoint("unix:" + std::string(rest), error);
  if (!ep) return std::nullopt;
  out.endpoint = *ep;
  return out;
}

std::optional<RedisUrl> parse_node(std::string_view rest, const std::string& shown,
                                   std::string& error) {
  RedisUrl out;
  take_credentials_before(rest, "@", out);
  const auto slash = rest.find('/');
  if (slash != std::string_view::npos && !take_db(rest.substr(slash + 1), shown, out, error))
    return std::nullopt;
  auto ep = tcp_node(rest.substr(0, slash), 6379, error);
  if (!ep) return std::nullopt;
  out.endpoint = *ep;
  return out;
}

bool valid_master_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

std::optional<RedisUrl> parse_sentinel(std::string_view rest, const std::string& shown,
                                       std::string& error) {
  RedisUrl out;
  take_credentials_before(rest, "@", out);
  const auto slash = rest.find('/');
  std::string_view hosts = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  const auto db_slash = path.find('/');
  out.master_name = std::string(path.substr(0, db_slash));
  if (!valid_master_name(out.master_name)) {
    error =
        "a sentinel url names the master after the sentinels, as in "
        "sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster (1-64 of A-Z a-z 0-9 . _ -); got '" +
        shown + "'";
    return std::nullopt;
  }
  if (db_slash != std::string_view::npos && !take_db(path.substr(db_slash + 1), shown, out, error))
    return std::nullopt;
  while (true) {
    const auto comma = hosts.find(',');
    auto ep = tcp_node(hosts.substr(0, comma), 26379, error);
    if (!ep) {
      error += " (a sentinel of '" + shown + "')";
      return std::nullopt;
    }
    out.sentinels.push_back(*ep);
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  return out;
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
  return u ? redis_location(*u) : "Redis";
}

std::string redis_location(const RedisUrl& url) {
  if (!url.via_sentinel()) return redis_location(url.endpoint);
  std::string out = "Redis master '" + url.master_name + "' (sentinel";
  out += url.sentinels.size() > 1 ? "s " : " ";
  for (std::size_t i = 0; i < url.sentinels.size(); ++i)
    out += (i ? ", " : "") + redis_node(url.sentinels[i]);
  return out + ")";
}

std::string redis_location(const Endpoint& ep) {
  return "Redis at " + redis_node(ep);
}

std::string redis_node(const Endpoint& ep) {
  if (ep.kind == Endpoint::Kind::unix_socket) return ep.path;
  if (ep.host.find(':') != std::string::npos) return "[" + ep.host + "]:" + std::to_string(ep.port);
  return ep.host + ":" + std::to_string(ep.port);
}

std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& error) {
  const std::string shown = redact_redis_url(url);  // errors quote the URL, never its password
  if (url.starts_with("unix:")) return parse_unix(url.substr(5), shown, error);
  if (url.starts_with("redis://")) return parse_node(url.substr(8), shown, error);
  if (url.starts_with("sentinel://")) return parse_sentinel(url.substr(11), shown, error);
  error = "redis url must start with redis://, unix: or sentinel://, got '" + shown + "'";
  return std::nullopt;
}

}  // namespace sg
