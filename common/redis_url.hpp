// Redis addresses as written in [redis] url:
//   redis://[USER:PASSWORD@]HOST[:PORT][/DB]             one node (port 6379)
//   unix://[USER:PASSWORD@]/path/to/redis.sock[?db=N]    one node (also unix:/path)
//   sentinel://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
//       the master Redis Sentinel knows by the name MASTER, asked of these
//       sentinels (port 26379) in turn; the credentials are the master's.
// USER is a Redis 6 ACL user; without it (":PASSWORD@" or "PASSWORD@") the
// AUTH carries the password alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.hpp"

namespace sg {

struct RedisUrl {
  Endpoint endpoint;  // the node of a redis:// or unix: URL; unused with sentinels
  int db = 0;
  std::string username;             // empty: AUTH PASSWORD
  std::string password;             // empty: no AUTH
  std::vector<Endpoint> sentinels;  // sentinel://: who to ask for the master
  std::string master_name;          // sentinel://: the name they know it by
  bool via_sentinel() const { return !sentinels.empty(); }
};

// On failure `error` names the URL with its password hidden (redacted).
std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& error);

// The URL as it may be printed or logged: a password (what follows the
// ':' of the credentials before the last '@') becomes "***":
// "redis://:***@10.0.0.5:6379/1", "redis://default:***@10.0.0.5".
std::string redact_redis_url(std::string_view url);

// Where Redis is, for a person: "Redis at 127.0.0.1:6379", "Redis at
// /run/redis/redis.sock", "Redis master 'sg' (sentinels 10.0.0.1:26379,
// 10.0.0.2:26379)" (no password, no scheme); "Redis" alone when the URL
// does not parse.
std::string redis_location(std::string_view url);
std::string redis_location(const RedisUrl& url);
std::string redis_location(const Endpoint& where);

// One node as a person writes it: "10.0.0.5:6379", "[::1]:26379",
// "/run/redis/redis.sock".
std::string redis_node(const Endpoint& where);

}  // namespace sg
