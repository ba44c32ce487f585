// One Lua script run in Redis by its SHA: loaded with SCRIPT LOAD on every new
// connection, called with EVALSHA, and sent whole with EVAL when Redis
// answers NOSCRIPT (a restarted or flushed server), which caches it again.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/redis_client.hpp"

namespace sg {

class LuaScript {
 public:
  LuaScript(RedisClient& redis, std::string_view text) : redis_(redis), text_(text) {}

  void load();  // call when the connection is (re)established
  // Runs the script with KEYS = keys and ARGV = args; cb as RedisClient's.
  void call(std::vector<std::string> keys, std::vector<std::string> args, RedisClient::Callback cb);
  const std::string& text() const { return text_; }

 private:
  void send(std::shared_ptr<std::vector<std::string>> argv, RedisClient::Callback cb, bool retried);

  RedisClient& redis_;
  std::string text_;
  std::string sha_;  // empty until SCRIPT LOAD answered
};

}  // namespace sg
