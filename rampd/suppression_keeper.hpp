// rampd's side of suppression (issue 11): the results of the streams'
// transports the log follower reads go through the [[suppress]] rules
// (rules/suppression.hpp); each entry learned is logged once and written to
// Redis (store/suppression_store.hpp), where every stream's policyd and the
// drainer refuse it. Each round also removes ended entries and repairs a
// stream's copy that differs from the whole set.
//
// An entry whose write failed (Redis down) is kept and written next round:
// nothing learned is lost while rampd runs. At most kMaxPending wait; more
// are dropped and counted.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/metrics.hpp"
#include "rules/breaker.hpp"
#include "rules/suppression.hpp"
#include "store/suppression_store.hpp"

namespace sg::rampd {

class SuppressionKeeper {
 public:
  static constexpr std::size_t kMaxPending = 100000;
  static constexpr std::size_t kRecent = 20;  // the last entries learned, on /status

  SuppressionKeeper(RedisClient& redis, const Config& cfg);

  // A reloaded config: new rules start their counts over.
  void set_config(const Config& cfg);
  // The results of the streams' transports (BreakerFeed's events); the
  // entries they taught (also queued for Redis).
  std::vector<suppression::Entry> learn(const std::vector<breaker::Event>& events);
  // Writes what was learned, removes ended entries, repairs stream copies.
  // "" or the first problem.
  boost::asio::awaitable<std::string> publish(const Config& cfg, int64_t now_ms);

  // streamguard_rampd_suppress_* on /metrics.
  void metrics(metrics::Registry& r) const;
  // /status: the set's size, what waits to be written, the last entries learned.
  nlohmann::json status() const;

  const suppression::Learner& learner() const { return learner_; }
  const std::deque<suppression::Entry>& recent() const { return recent_; }
  std::size_t pending() const { return pending_.size(); }
  uint64_t dropped() const { return dropped_; }
  uint64_t expired_total() const { return expired_total_; }
  // Entries in Redis as of the last round (-1 before the first answer).
  int64_t size() const { return addresses_ < 0 ? -1 : addresses_ + domains_; }

 private:
  SuppressionStore store_;
  std::vector<SuppressRule> rules_;
  suppression::Learner learner_;
  std::deque<suppression::Entry> pending_;
  std::deque<suppression::Entry> recent_;
  uint64_t dropped_ = 0;
  uint64_t expired_total_ = 0;
  bool domains_indexed_ = false;
  int64_t addresses_ = -1;
  int64_t domains_ = -1;
};

}  // namespace sg::rampd
