// Charges one recipient against every cap of its LimiterPlan in one atomic
// Redis call: EVALSHA of lua/limiter.lua (its header states KEYS, ARGV and the
// reply), loading the script on every new connection and falling back to
// EVAL when Redis answers NOSCRIPT (a restarted or flushed server).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/civil_time.hpp"
#include "common/decision.hpp"
#include "policyd/redis_client.hpp"

namespace sg {

class CapLimiter {
 public:
  // Called once: the result, or nullopt and why the store could not answer.
  using Callback = std::function<void(std::optional<LimiterResult>, std::string_view error)>;

  CapLimiter(RedisClient& redis, std::string key_prefix);

  // Call when the Redis connection is (re)established.
  void load_script();

  void charge(const std::string& stream, const LimiterPlan& plan, int64_t now_ms,
              const CivilDay& day, Callback cb);

  static const std::string& script();

 private:
  void send(std::vector<std::string> args, Callback cb, bool retried);
  static std::optional<LimiterResult> parse(const redisReply* r, std::size_t limiters,
                                            std::string& error);

  RedisClient& redis_;
  std::string prefix_;
  std::string sha_;  // empty until SCRIPT LOAD answered
};

}  // namespace sg
