// The caps in Redis (CapStore, store/cap_store.hpp): charges one recipient
// against every cap of its LimiterPlan in one atomic call (lua/limiter.lua;
// its header states KEYS, ARGV and the reply), and ends reservations
// (lua/reservations.lua): commit at END-OF-MESSAGE, or give back what a
// transaction that never completed had charged, or what a message a milter
// refused after END-OF-MESSAGE had; and marks rampd's releases of held mail
// so a release whose end rampd did not see is settled later.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/cap_store.hpp"
#include "store/lua_script.hpp"
#include "store/redis_client.hpp"

namespace sg {

class CapLimiter final : public CapStore {
 public:
  CapLimiter(RedisClient& redis, std::string key_prefix);

  // Call when the Redis connection is (re)established.
  void load_scripts();

  bool ready() const override { return redis_.connected(); }
  boost::asio::awaitable<Stored<LimiterResult>> charge(const std::string& stream,
                                                       const LimiterPlan& plan, int64_t now_ms,
                                                       const CivilDay& day,
                                                       const Reservation& reservation) override;
  boost::asio::awaitable<Stored<int64_t>> commit(const std::string& stream,
                                                 const std::string& instance,
                                                 const std::string& queue_id) override;
  boost::asio::awaitable<Stored<int64_t>> refund(const std::string& stream,
                                                 const std::string& queue_id,
                                                 int64_t now_ms) override;
  boost::asio::awaitable<Stored<int64_t>> cancel(const std::string& stream,
                                                 const std::string& instance,
                                                 int64_t now_ms) override;
  boost::asio::awaitable<Stored<SweepResult>> sweep(const std::string& stream, int64_t now_ms,
                                                    int64_t limit) override;
  boost::asio::awaitable<Stored<int64_t>> mark_releasing(const std::string& stream,
                                                         const std::string& instance,
                                                         int64_t now_ms, int64_t until_ms) override;
  boost::asio::awaitable<Stored<std::vector<std::string>>> releasing(
      const std::string& stream) override;

  static const std::string& script();

 private:
  static std::optional<LimiterResult> parse(const redisReply* r, std::size_t limiters,
                                            std::string& error);
  // The keys of one instance's reservation: the stream's set, the record,
  // the releasing set.
  std::vector<std::string> instance_keys(const std::string& stream, const std::string& instance);
  // The reservations script with these keys and arguments; its integer reply.
  boost::asio::awaitable<Stored<int64_t>> reservations_count(std::vector<std::string> keys,
                                                             std::vector<std::string> args);

  RedisClient& redis_;
  std::string prefix_;
  LuaScript limiter_;
  LuaScript reservations_;
};

}  // namespace sg
