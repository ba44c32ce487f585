#include "rampd/rampd.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "rampd/listmonk_sync.hpp"
#include "rampd/offload.hpp"
#include "rules/limiter_keys.hpp"

namespace sg::rampd {
namespace {

std::string frozen_by(const breaker::Breaker& b, const std::string& stream, int64_t now_ms) {
  for (const auto& t : b.tripped(now_ms))
    if (t.stream == stream && t.verdict.action == BreakerAction::freeze_ramp)
      return t.verdict.reason;
  return {};
}

}  // namespace

Rampd::Rampd(boost::asio::io_context& io, RedisClient& redis, std::shared_ptr<const Config> cfg)
    : io_(io),
      cfg_(std::move(cfg)),
      ramp_publisher_(redis, cfg_->redis.key_prefix),
      breaker_publisher_(redis, cfg_->redis.key_prefix),
      limiter_(redis, cfg_->redis.key_prefix),
      drainer_(io, pool_, limiter_, registry_),
      feed_(std::make_shared<BreakerFeed>(*cfg_, host_log_zone())),
      suppression_(redis, *cfg_),
      lease_(redis, keys::rampd_lease(cfg_->redis.key_prefix), Lease::holder_id(), {}),
      keeper_(redis, cfg_->redis.key_prefix) {
  keeper_trouble(keeper_.load(cfg_->rampd.state_file));
  if (!cfg_->rampd.maillog.empty())
    follower_ = std::make_unique<LogFollower>(cfg_->rampd.maillog, cfg_->rampd.maillog_from_start);
}

Rampd::~Rampd() {
  pool_.join();
}

void Rampd::load_scripts() {
  ramp_publisher_.load_scripts();
  breaker_publisher_.load_scripts();
  limiter_.load_scripts();
  lease_.load_script();
}

void Rampd::set_config(std::shared_ptr<const Config> cfg) {
  const bool rules_changed = cfg_->breakers != cfg->breakers;
  if (rules_changed) {
    spdlog::info(
        "breaker rules changed: the breakers start over (open ones stay in Redis until "
        "their cool-down ends)");
    feed_ = std::make_shared<BreakerFeed>(*cfg, host_log_zone());
  } else {
    feed_->remap(*cfg);
  }
  suppression_.set_config(*cfg);
  if (cfg->rampd.maillog != cfg_->rampd.maillog)
    follower_ = cfg->rampd.maillog.empty()
                    ? nullptr
                    : std::make_unique<LogFollower>(cfg->rampd.maillog, false);
  cfg_ = std::move(cfg);
}

void Rampd::log_ramp(const RampReport& rep) {
  const std::string line = rep.ok ? rep.advanced.reason : rep.error;
  auto& last = last_logged_[rep.stream];
  if (line == last) return;  // once a minute would bury the log: only what changed
  last = line;
  if (!rep.ok) {
    spdlog::error("stream {}: {}", rep.stream, rep.error);
    return;
  }
  const auto& a = rep.advanced;
  const bool odd = a.held || a.count_went_back || a.clock_went_back || a.stamp_in_future;
  auto level = odd ? spdlog::level::warn : spdlog::level::info;
  spdlog::log(level, "stream {}: ramp {} (caps version {}{})", rep.stream, a.reason, rep.version,
              rep.changed ? ", changed" : "");
}

void Rampd::keeper_trouble(std::string problem) {
  if (!problem.empty() && problem != keeper_problem_) spdlog::error("state: {}", problem);
  keeper_problem_ = std::move(problem);
}

boost::asio::awaitable<std::string> Rampd::restore(const StreamConfig& s,
                                                   const std::vector<std::string>& ops,
                                                   int64_t now_ms, bool& unmarked) {
  auto restoring = keeper_.restore(s, ops, now_ms);
  const Restored back = co_await std::move(restoring);
  unmarked = back.unmarked;
  if (!back.error.empty()) co_return "stream " + s.name + ": " + back.error;
  if (back.restored)
    spdlog::warn(
        "stream {}: Redis had lost its counts (no rampd mark: emptied, restarted without "
        "persistence, or replaced); put back from {}: {} counter(s) of today, {} day(s) of send "
        "history, the ramp state. policyd answered on_error until now",
        s.name, cfg_->rampd.state_file, back.counts, back.days);
  else if (back.unmarked)
    spdlog::info(
        "stream {}: a Redis rampd has not marked and {} holds nothing for the stream: "
        "counting starts from what Redis has",
        s.name, cfg_->rampd.state_file);
  co_return std::string();
}

boost::asio::awaitable<void> Rampd::ramp_round(int64_t now_ms) {
  last_now_ms_ = now_ms;
  auto holding = lease_.hold(now_ms);  // another rampd works on this Redis: wait
  if (!co_await std::move(holding)) co_return;
  auto cfg = cfg_;  // a reload during the round does not change it under us
  std::vector<std::string> ops;
  for (const auto& op : cfg->operators) ops.push_back(op.name);
  std::string trouble;
  for (const auto& s : cfg->streams) {
    bool unmarked = false;
    auto restoring = restore(s, ops, now_ms, unmarked);
    if (std::string e = co_await std::move(restoring); !e.empty()) {
      trouble = std::move(e);
      continue;  // never mark a Redis that was not put back
    }
    std::optional<uint64_t> hourly = s.hourly_cap;
    if (s.ramp) {
      const std::string why = frozen_by(feed_->engine(), s.name, now_ms);
      auto publishing = ramp_publisher_.publish(s, now_ms, !why.empty(), why);
      RampReport rep = co_await std::move(publishing);
      log_ramp(rep);
      if (rep.ok) hourly = rep.advanced.caps.hourly;
      ramps_[s.name] = std::move(rep);
      if (!ramps_[s.name].ok) hourly.reset();  // never mirror a cap we could not work out
    }
    if (s.listmonk && hourly) {
      auto syncing = sync_listmonk(s, *hourly, now_ms);
      co_await std::move(syncing);
    }
    auto keeping = keeper_.keep(s, ops, now_ms, unmarked);
    if (std::string e = co_await std::move(keeping); !e.empty())
      trouble = "stream " + s.name + ": " + e;
  }
  // What was copied is saved even when a stream failed: the others' copies
  // stay fresh.
  if (std::string e = keeper_.save(cfg->rampd.state_file); !e.empty()) trouble = std::move(e);
  keeper_trouble(std::move(trouble));
}

boost::asio::awaitable<void> Rampd::sync_listmonk(const StreamConfig& s, uint64_t hourly_cap,
                                                  int64_t now_ms) {
  auto& st = listmonk_[s.name];
  const ListmonkConfig lm = *s.listmonk;
  const auto choice = listmonk::choose_rate(hourly_cap, lm.fraction);
  st.shadow = s.mode == StreamMode::shadow;
  if (st.shadow) {  // watched, not enforced: the sender's own rate stays in force
    if (st.would_rate != choice.rate)
      spdlog::info(
          "stream {} is in shadow mode: Listmonk's settings are left as they are (streamguard "
          "would set its sliding window to {} per {}, hourly cap {})",
          s.name, choice.rate, lm.window, hourly_cap);
    st.would_rate = choice.rate;
    st.ok = true;
    st.synced_ms = now_ms;
    co_return;
  }
  listmonk::Desired want{choice.rate, lm.window};
  auto syncing = offload<listmonk::SyncResult>(
      pool_, io_, [lm, want] { return listmonk::sync_settings(lm, want); });
  auto result = co_await std::move(syncing);
  st.synced_ms = now_ms;
  if (!result.ok) {
    if (st.error != result.error)
      spdlog::error("stream {}: Listmonk not kept in step: {}", s.name, result.error);
    st.ok = false;
    st.error = result.error;
    co_return;
  }
  st.ok = true;
  st.error.clear();
  if (result.changed || result.uncertain) {  // uncertain: the COMMIT's answer was lost
    spdlog::info(
        "stream {}: Listmonk sliding window set to {} per {} (hourly cap {}, fraction "
        "{}; was {} per {}){}{}",
        s.name, choice.rate, lm.window, hourly_cap, lm.fraction, result.old_rate, result.old_window,
        choice.clamped ? ": " : "", choice.note);
    st.pending_reload = true;
  }
  st.rate = choice.rate;
  if (!st.pending_reload) co_return;
  if (lm.reload_url.empty()) {
    if (result.changed)
      spdlog::warn(
          "stream {}: Listmonk reads its settings only at start and no reload_url is "
          "configured: restart Listmonk for the new rate to apply",
          s.name);
    st.pending_reload = false;
    co_return;
  }
  auto reloading =
      offload<listmonk::ReloadResult>(pool_, io_, [lm] { return listmonk::reload(lm); });
  auto rel = co_await std::move(reloading);
  if (rel.ok) {
    spdlog::info("stream {}: Listmonk reloaded ({})", s.name, lm.reload_url);
    st.pending_reload = false;
  } else {
    st.error = "reload: " + rel.error;
    spdlog::error(
        "stream {}: Listmonk's settings are written but it did not reload ({}); "
        "retrying next round",
        s.name, rel.error);
  }
}

boost::asio::awaitable<void> Rampd::log_round(int64_t now_ms) {
  last_now_ms_ = now_ms;
  auto holding = lease_.hold(now_ms);
  if (!co_await std::move(holding)) co_return;
  // Held here: a reload (SIGHUP) replaces cfg_ and feed_ while this round
  // waits on Redis.
  auto cfg = cfg_;
  auto feed = feed_;
  if (follower_) {
    auto lines = follower_->poll();
    std::vector<breaker::Event> events;
    for (const auto& v : feed->feed(lines, now_ms, &events))
      spdlog::warn("breaker tripped: {}", v.reason);
    for (const auto& e : events) tally_.record(e);
    blocklister_.add(suppression_.learn(events), *cfg);
    auto refunding = refunds_.run(*cfg, lines, now_ms);
    co_await std::move(refunding);
  }
  auto publishing = breaker_publisher_.publish(*cfg, *feed, now_ms);
  breaker_problem_ = co_await std::move(publishing);
  if (!breaker_problem_.empty()) spdlog::error("{}", breaker_problem_);
  auto suppressing = suppression_.publish(*cfg, now_ms);
  suppression_problem_ = co_await std::move(suppressing);
  if (!suppression_problem_.empty()) spdlog::error("suppression: {}", suppression_problem_);
  auto blocklisting = blocklister_.run(cfg, now_ms, pool_, io_);
  co_await std::move(blocklisting);
}

boost::asio::awaitable<void> Rampd::drain_round(int64_t now_ms) {
  last_now_ms_ = now_ms;
  auto holding = lease_.hold(now_ms);
  if (!co_await std::move(holding)) co_return;
  auto cfg = cfg_;
  auto draining = drainer_.run_once(cfg, now_ms);
  co_await std::move(draining);
  ++drain_rounds_;
}

}  // namespace sg::rampd
