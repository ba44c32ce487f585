// Decides one policy request: the glue between the parsed request, the pure
// decision engine, the Redis limiter, metrics and the one log line per
// decision. Runs on the Asio loop thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/civil_time.hpp"
#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "formats/policy_protocol.hpp"
#include "policyd/policyd_metrics.hpp"
#include "recipient/mx_resolver.hpp"
#include "recipient/recipient_check.hpp"
#include "recipient/runtime.hpp"
#include "rules/decision.hpp"
#include "server/daemon_record.hpp"
#include "store/cap_limiter.hpp"
#include "store/cap_store.hpp"
#include "store/redis_client.hpp"

namespace sg {

class PolicyService {
 public:
  // With its own Redis connection to redis_url (the daemon; the integration
  // tests): the caps live there (the config's, or --redis).
  PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                const RedisUrl& redis_url, const Clock& clock, metrics::Registry& registry);
  // On a store the caller owns (unit tests: tests/fakes/fake_cap_store.hpp).
  PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                CapStore& store, const Clock& clock, metrics::Registry& registry);
  ~PolicyService();
  PolicyService(const PolicyService&) = delete;
  PolicyService& operator=(const PolicyService&) = delete;

  void start();  // connects to Redis; starts the reservation sweeper

  // Returns to the budget the reservations of transactions that never
  // reached END-OF-MESSAGE (commit = "end_of_message"), for every stream;
  // `done` runs when every stream's sweep has answered. The sweeper calls it
  // on its own every few seconds; tests call it directly.
  void sweep_reservations(std::function<void()> done = {});

  // The action line for one request. `request` is read until the answer.
  boost::asio::awaitable<std::string> handle(const policy::Request& request);

  void set_runtime(std::shared_ptr<const Runtime> runtime);
  std::shared_ptr<const Runtime> runtime() const { return runtime_; }
  PolicydMetrics& stats() { return stats_; }
  daemon::DaemonRecord& record() { return record_; }
  bool redis_ready() const { return store_->ready(); }
  std::size_t mx_cached() const { return mx_ ? mx_->cached() : 0; }
  std::string status_json() const;

 private:
  struct Context;
  PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                CapStore* store, const Clock& clock, metrics::Registry& registry);
  boost::asio::awaitable<Verdict> decide(Context& ctx, const policy::Request& request);
  boost::asio::awaitable<Verdict> end_of_message(Context& ctx);
  boost::asio::awaitable<Verdict> charge(Context& ctx);
  boost::asio::awaitable<void> sweep_streams(std::shared_ptr<const Runtime> rt);
  void schedule_sweep();
  std::string finish(const Context& ctx, const Verdict& v);  // logs, counts; the reply
  void record_limits(const Context& ctx, const LimiterResult& r, int64_t day_ends_ms);
  const CivilDay& today(int64_t now_ms);

  const Clock& clock_;
  std::shared_ptr<const Runtime> runtime_;
  std::string redis_where_;  // "Redis at 127.0.0.1:6379": the one used, for replies
  std::vector<std::string> redis_warnings_;
  daemon::DaemonRecord
      record_;  // pid, start, reloads: on /status  // from INFO at the last connect
  PolicydMetrics stats_;
  std::unique_ptr<RedisClient> redis_;   // null on a caller's store
  std::unique_ptr<CapLimiter> limiter_;  // over redis_
  CapStore* store_;                      // limiter_, or the caller's
  std::unique_ptr<MxLookup> mx_;         // null when [dns] enabled = false
  boost::asio::steady_timer sweep_timer_;
  uint64_t end_of_message_seen_ = 0;
  bool warned_no_end_of_message_ = false;
  uint64_t answered_ = 0;
  // Each daily cap's count as the last charge found it, by stream then
  // operator ("all": the stream's own): /status's daily_usage, which
  // streamguardctl report shows against the caps.
  struct DailySeen {
    int64_t used = 0, cap = -1;
    int64_t day_ends_ms = 0;  // the charge's calendar day ends then
  };
  using OpSeen = std::map<std::string, DailySeen, std::less<>>;
  std::map<std::string, OpSeen, std::less<>> daily_seen_;
  CivilDay day_{"", 0};
  int64_t day_computed_at_ = 0;
};

}  // namespace sg
