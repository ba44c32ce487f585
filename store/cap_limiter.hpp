// Charges one recipient against every cap of its LimiterPlan in one atomic
// Redis call (lua/limiter.lua; its header states KEYS, ARGV and the reply),
// and ends reservations (lua/reservations.lua): commit at END-OF-MESSAGE, or
// give back what a transaction that never completed had charged.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/civil_time.hpp"
#include "rules/decision.hpp"
#include "store/lua_script.hpp"
#include "store/redis_client.hpp"

namespace sg {

// A charge made as a reservation of one transaction (reserve_ms > 0), or
// for good (reserve_ms == 0 or no instance).
struct Reservation {
  int64_t reserve_ms = 0;
  std::string instance;
};

struct SweepResult {
  int64_t instances = 0;  // reservations returned by this call
  int64_t charges = 0;    // charges given back to the budget
  int64_t left = 0;       // expired reservations still waiting (over the per-call limit)
};

class CapLimiter {
 public:
  // Called once: the result, or nullopt and why the store could not answer.
  using Callback = std::function<void(std::optional<LimiterResult>, std::string_view error)>;
  using CommitCallback = std::function<void(std::optional<int64_t> charges, std::string_view)>;
  using SweepCallback = std::function<void(std::optional<SweepResult>, std::string_view)>;

  CapLimiter(RedisClient& redis, std::string key_prefix);

  // Call when the Redis connection is (re)established.
  void load_scripts();

  void charge(const std::string& stream, const LimiterPlan& plan, int64_t now_ms,
              const CivilDay& day, const Reservation& reservation, Callback cb);
  void commit(const std::string& stream, const std::string& instance, CommitCallback cb);
  // Gives one reservation's charges back now (the charges returned).
  void cancel(const std::string& stream, const std::string& instance, int64_t now_ms,
              CommitCallback cb);
  void sweep(const std::string& stream, int64_t now_ms, int64_t limit, SweepCallback cb);

  static const std::string& script();

 private:
  static std::optional<LimiterResult> parse(const redisReply* r, std::size_t limiters,
                                            std::string& error);

  RedisClient& redis_;
  std::string prefix_;
  LuaScript limiter_;
  LuaScript reservations_;
};

}  // namespace sg
