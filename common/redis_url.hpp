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

std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& error);

}  // namespace sg
