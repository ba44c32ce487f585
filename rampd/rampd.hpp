// streamguard-rampd's work, one round at a time, with the time passed in:
// the daemon (rampd_app.cpp) runs the rounds on timers with the real clock;
// the tests run them with an injected one.
//
//   ramp_round:  every stream's ramp aged and published to Redis (caps,
//                day, reason, version), and Listmonk's settings kept a
//                fraction under the stream's hourly cap; the day's counts
//                copied to the state file, and put back into a Redis that
//                lost them (rampd/store_keeper.hpp);
//   log_round:   new Postfix log lines fed to the breakers, and the
//                breakers published to Redis for policyd; the charges of
//                mail a milter refused after END-OF-MESSAGE given back;
//   drain_round: held mail released as the caps allow.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/metrics.hpp"
#include "rampd/breaker_feed.hpp"
#include "rampd/delivery_tally.hpp"
#include "rampd/drainer.hpp"
#include "rampd/listmonk_blocklist.hpp"
#include "rampd/log_follower.hpp"
#include "rampd/ramp_publisher.hpp"
#include "rampd/refusal_refunds.hpp"
#include "rampd/store_keeper.hpp"
#include "rampd/suppression_keeper.hpp"
#include "server/daemon_record.hpp"
#include "store/cap_limiter.hpp"
#include "store/lease.hpp"

namespace sg::rampd {

struct ListmonkState {
  bool ok = false;
  bool pending_reload = false;  // a value changed and Listmonk has not reloaded yet
  uint64_t rate = 0;            // the rate last written
  std::string error;            // the last problem ("" when none)
  int64_t synced_ms = 0;
  // The stream is in shadow mode: Listmonk is left as it is; the rate
  // streamguard would have written.
  bool shadow = false;
  uint64_t would_rate = 0;
};

class Rampd {
 public:
  Rampd(boost::asio::io_context& io, RedisClient& redis, std::shared_ptr<const Config> cfg);
  ~Rampd();

  // Call when the Redis connection is (re)established.
  void load_scripts();
  // A new configuration (SIGHUP): the breakers start over when their rules
  // changed; the log follower is reopened when its path changed.
  void set_config(std::shared_ptr<const Config> cfg);
  const Config& config() const { return *cfg_; }

  boost::asio::awaitable<void> ramp_round(int64_t now_ms);
  boost::asio::awaitable<void> log_round(int64_t now_ms);
  boost::asio::awaitable<void> drain_round(int64_t now_ms);

  std::string metrics_text();
  std::string status_json() const;
  // What INFO said about Redis's durability at the last connect (on /status).
  void set_redis_warnings(std::vector<std::string> w) { redis_warnings_ = std::move(w); }
  daemon::DaemonRecord& record() { return record_; }
  // Stopping: the lease goes, so the next rampd need not wait out its ttl;
  // `done` when Redis answered.
  void release_lease(std::function<void()> done) { lease_.release(std::move(done)); }
  const Lease& lease() const { return lease_; }
  metrics::Registry& registry() { return registry_; }

  const std::map<std::string, RampReport>& ramps() const { return ramps_; }
  const std::map<std::string, ListmonkState>& listmonk() const { return listmonk_; }
  const BreakerFeed& breakers() const { return *feed_; }
  const DrainStatus& drain() const { return drainer_.status(); }
  const SuppressionKeeper& suppression() const { return suppression_; }

 private:
  boost::asio::awaitable<void> sync_listmonk(const StreamConfig& s, uint64_t hourly_cap,
                                             int64_t now_ms);
  void log_ramp(const RampReport& rep);
  // The gauges and counters metrics_text() renders, set from the last rounds.
  void ramp_metrics();
  void delivery_metrics();
  void held_metrics();
  void listmonk_metrics();
  // A Redis that lost the stream's counts gets them back; "" or why not.
  // `unmarked`: the stream had no mark (this round is to set it).
  boost::asio::awaitable<std::string> restore(const StreamConfig& s,
                                              const std::vector<std::string>& ops, int64_t now_ms,
                                              bool& unmarked);
  void keeper_trouble(std::string problem);

  boost::asio::io_context& io_;
  boost::asio::thread_pool pool_{2};
  std::shared_ptr<const Config> cfg_;
  std::vector<std::string> redis_warnings_;
  daemon::DaemonRecord record_;  // pid, start, reloads: on /status
  metrics::Registry registry_;   // before the drainer, whose MX lookups count into it
  RampPublisher ramp_publisher_;
  BreakerPublisher breaker_publisher_;
  CapLimiter limiter_;  // policyd's caps, charged for the held mail released
  Drainer drainer_;
  RefusalRefunds refunds_{limiter_};  // mail a milter refused after END-OF-MESSAGE
  std::shared_ptr<BreakerFeed> feed_;
  DeliveryTally tally_;  // results by stream and operator, hour and day: /status
  SuppressionKeeper suppression_;
  listmonk::Blocklister blocklister_;
  Lease lease_;  // one rampd at a time on this Redis
  StoreKeeper keeper_;
  std::string keeper_problem_;  // the state file or the mark ("" when fine)
  std::unique_ptr<LogFollower> follower_;
  std::map<std::string, RampReport> ramps_;
  std::map<std::string, std::string> last_logged_;  // stream -> last ramp line logged
  std::map<std::string, ListmonkState> listmonk_;
  std::string breaker_problem_;
  std::string suppression_problem_;
  uint64_t drain_rounds_ = 0;  // drain rounds finished, for /metrics
  int64_t last_now_ms_ = 0;    // the latest round's time: /status and /metrics are as of then
};

}  // namespace sg::rampd
