// Ramp aging into Redis (issue 5 items 1 and 2). Once a minute, per stream
// with a ramp: copy the days policyd counted into rampd's own send history
// (policyd's daily counters expire a day after their day), count the warmup
// day (calendar or send days, rules/ramp.hpp), advance the ramp state at
// most one step a day, and publish the caps with the state in one atomic
// call (lua/caps.lua): versioned, with the day and the reason.
//
// A stamp that is missing or unreadable publishes nothing: the caps already
// in Redis stay (or, when there are none, policyd keeps the config's first
// step), and the report carries the error for a loud log line and a metric.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "rules/ramp.hpp"
#include "store/lua_script.hpp"
#include "store/redis_await.hpp"
#include "store/redis_client.hpp"

namespace sg::rampd {

// Days of send history kept per stream (older days are dropped).
inline constexpr int64_t kSendHistoryDays = 400;

struct RampReport {
  std::string stream;
  bool ok = false;
  std::string error;  // stamp or Redis problem (ok == false)
  ramp::Advanced advanced;
  ramp::Count count;
  bool frozen = false;      // a freeze_ramp breaker kept the day in force
  int64_t version = 0;      // ramp:version in the caps hash after publishing
  bool changed = false;     // a cap field changed
  uint64_t sent_today = 0;  // policyd's count of today so far
};

class RampPublisher {
 public:
  RampPublisher(RedisClient& redis, std::string key_prefix);
  void load_scripts();

  // `frozen`: a freeze_ramp breaker of the stream is open or recovering, and
  // `frozen_why` says which; the day in force does not move.
  boost::asio::awaitable<RampReport> publish(const StreamConfig& stream, int64_t now_ms,
                                             bool frozen, std::string frozen_why);

 private:
  boost::asio::awaitable<std::string> copy_counts(const StreamConfig& stream, int64_t today,
                                                  uint64_t& sent_today);
  // The ramp's day count (calendar days, or send days from the history);
  // what went wrong, "" when `count` is set.
  boost::asio::awaitable<std::string> count_days(const StreamConfig& stream, int64_t stamp_day,
                                                 int64_t today, ramp::Count& count);
  boost::asio::awaitable<Reply> publish_caps(const StreamConfig& stream,
                                             const ramp::Advanced& advanced, int64_t now_ms);

  RedisClient& redis_;
  std::string prefix_;
  LuaScript caps_;
};

}  // namespace sg::rampd
