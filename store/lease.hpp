// One streamguard-rampd at a time on a Redis (store/lua/lease.lua): a
// second rampd, started by mistake on the same host or on another that
// shares the Redis, must not also publish the ramp, release held mail or
// learn suppressions. The holder renews the lease as it works; the other
// waits, and takes over once the lease expires (the holder died or hung)
// or is released (the holder stopped), or at once when the holder was a
// rampd on this host whose process is gone (killed, crashed: a restart
// need not wait out the ttl).
//
//   hold()     at the start of each round: takes or renews the lease (at
//              most every renew_every; a renewal also refreshes the ttl),
//              and says whether this rampd may work. A Redis error counts
//              as not holding: better a round skipped than two rampds.
//   release()  when stopping: gives the lease up, so the next rampd need
//              not wait out the ttl.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "store/lua_script.hpp"
#include "store/redis_client.hpp"

namespace sg {

class Lease {
 public:
  struct Options {
    std::chrono::milliseconds ttl{30000};
    std::chrono::milliseconds renew_every{5000};
  };
  // `holder`: this process's id ("HOST:PID:RANDOM"); holder_id() makes one.
  Lease(RedisClient& redis, std::string key, std::string holder, Options options);
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  void load_script();
  // Whether this process holds the lease now (taken, renewed, or renewed
  // less than renew_every ago). Never after release().
  boost::asio::awaitable<bool> hold(int64_t now_ms);
  // Sends the release; `done` (optional) runs when Redis answered.
  void release(std::function<void()> done = {});

  bool held() const { return held_; }
  const std::string& key() const { return key_; }
  const std::string& id() const { return holder_; }
  // The other holder while this one waits ("" when none is known).
  const std::string& other() const { return other_; }
  const std::string& error() const { return error_; }

  static std::string holder_id();
  // Whether `id` (holder_id()'s form) names a process of this host that no
  // longer runs.
  static bool dead_here(const std::string& id);

 private:
  RedisClient& redis_;
  LuaScript script_;
  std::string key_, holder_;
  Options options_;
  bool held_ = false;
  bool released_ = false;
  int64_t renewed_ms_ = 0;
  std::string other_, error_;
};

}  // namespace sg
