// Redis addresses as written in [redis] url:
//   redis://HOST:PORT[/DB]            redis://:PASSWORD@HOST:PORT/DB
//   unix:///path/to/redis.sock[?db=N]  (also unix:/path)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/endpoint.hpp"

namespace sg {

struct RedisUrl {
  Endpoint endpoint;
  int db = 0;
  std::string password;
};

// On failure `error` names the URL with its password hidden (redacted).
std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& error);

// The URL as it may be printed or logged: a password (what follows the
// ':' of the credentials before the last '@') becomes "***":
// "redis://:***@10.0.0.5:6379/1", "redis://default:***@10.0.0.5".
std::string redact_redis_url(std::string_view url);

// Where Redis is, for a person: "Redis at 127.0.0.1:6379", "Redis at
// /run/redis/redis.sock" (no password, no scheme); "Redis" alone when the
// URL does not parse.
std::string redis_location(std::string_view url);
std::string redis_location(const Endpoint& where);

}  // namespace sg
