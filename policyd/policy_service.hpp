// Decides one policy request: the glue between the parsed request, the pure
// decision engine, the Redis limiter, metrics and the one log line per
// decision. Runs on the Asio loop thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/civil_time.hpp"
#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "formats/policy_protocol.hpp"
#include "policyd/mx_resolver.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/runtime.hpp"
#include "rules/decision.hpp"
#include "store/cap_limiter.hpp"
#include "store/redis_client.hpp"

namespace sg {

class PolicyService {
 public:
  using Done = std::function<void(std::string action_line)>;

  // redis_url: where the caps live (the config's, or --redis from the command line).
  PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                const RedisUrl& redis_url, const Clock& clock, metrics::Registry& registry);

  void start();  // connects to Redis; starts the reservation sweeper

  // Returns to the budget the reservations of transactions that never
  // reached END-OF-MESSAGE (commit = "end_of_message"), for every stream;
  // `done` runs when every stream's sweep has answered. The sweeper calls it
  // on its own every few seconds; tests call it directly.
  void sweep_reservations(std::function<void()> done = {});

  // Answers the request through `done` exactly once (maybe before returning).
  void handle(const policy::Request& request, Done done);

  void set_runtime(std::shared_ptr<const Runtime> runtime);
  std::shared_ptr<const Runtime> runtime() const { return runtime_; }
  PolicydMetrics& stats() { return stats_; }
  bool redis_ready() const { return redis_.connected(); }
  std::size_t mx_cached() const { return mx_ ? mx_->cached() : 0; }
  std::string status_json() const;

 private:
  struct Context;
  void on_mx(std::shared_ptr<Context> ctx, const MxResult& r, bool cached);
  void end_of_message(std::shared_ptr<Context> ctx);
  void schedule_sweep();
  void charge(std::shared_ptr<Context> ctx);
  void finish(Context& ctx, const Verdict& v);
  void record_limits(const Context& ctx, const LimiterResult& r);
  const CivilDay& today(int64_t now_ms);

  const Clock& clock_;
  std::shared_ptr<const Runtime> runtime_;
  std::string redis_text_;
  PolicydMetrics stats_;
  RedisClient redis_;
  CapLimiter limiter_;
  std::unique_ptr<MxLookup> mx_;  // null when [dns] enabled = false
  boost::asio::steady_timer sweep_timer_;
  uint64_t end_of_message_seen_ = 0;
  bool warned_no_end_of_message_ = false;
  uint64_t answered_ = 0;
  CivilDay day_{"", 0};
  int64_t day_computed_at_ = 0;
};

}  // namespace sg
