#include "rampd/rampd.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "rampd/listmonk_sync.hpp"
#include "rampd/offload.hpp"

namespace sg::rampd {
namespace {

using metrics::mirror;

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
      suppression_(redis, *cfg_) {
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

boost::asio::awaitable<void> Rampd::ramp_round(int64_t now_ms) {
  last_now_ms_ = now_ms;
  auto cfg = cfg_;  // a reload during the round does not change it under us
  for (const auto& s : cfg->streams) {
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
  }
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
  // Held here: a reload (SIGHUP) replaces cfg_ and feed_ while this round
  // waits on Redis.
  auto cfg = cfg_;
  auto feed = feed_;
  if (follower_) {
    auto lines = follower_->poll();
    std::vector<breaker::Event> events;
    for (const auto& v : feed->feed(lines, now_ms, &events))
      spdlog::warn("breaker tripped: {}", v.reason);
    blocklister_.add(suppression_.learn(events), *cfg);
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
  auto cfg = cfg_;
  auto draining = drainer_.run_once(cfg, now_ms);
  co_await std::move(draining);
  ++drain_rounds_;
}

// The ramp of each stream as the last round published it.
void Rampd::ramp_metrics() {
  auto& r = registry_;
  auto& day = r.gauge("streamguard_rampd_ramp_day", "The ramp day in force.", {"stream"});
  auto& hourly = r.gauge("streamguard_rampd_hourly_cap",
                         "The hourly cap the ramp gives today (-1: none).", {"stream"});
  auto& ok = r.gauge("streamguard_rampd_ramp_ok",
                     "1 when the ramp was published in the last round, 0 on a stamp or Redis "
                     "problem.",
                     {"stream"});
  auto& version =
      r.gauge("streamguard_rampd_caps_version", "ramp:version in the caps hash.", {"stream"});
  for (const auto& [name, rep] : ramps_) {
    ok.labels({name}).set(rep.ok ? 1 : 0);
    if (!rep.ok) continue;
    day.labels({name}).set(rep.advanced.state.day);
    hourly.labels({name}).set(rep.advanced.caps.hourly ? double(*rep.advanced.caps.hourly) : -1);
    version.labels({name}).set(static_cast<double>(rep.version));
  }
}

// Breakers and delivery results, as of the last round.
void Rampd::delivery_metrics() {
  auto& r = registry_;
  auto& bstate = r.gauge("streamguard_rampd_breaker_state",
                         "Breakers: 1 open, 2 recovering (closed ones are not listed).",
                         {"stream", "operator", "rule"});
  const int64_t now = last_now_ms_;  // the time of the last round (the tests' clock)
  for (const auto& t : feed_->engine().tripped(now))
    bstate.labels({t.stream, t.op, t.verdict.rule})
        .set(t.verdict.state == breaker::State::open ? 1 : 2);
  auto& ratio = r.gauge("streamguard_rampd_delivery_ratio",
                        "Share of the stream's delivery results in the last hour that were sent "
                        "(0 to 1; -1: none).",
                        {"stream"});
  auto& results =
      r.gauge("streamguard_rampd_results_last_hour",
              "Delivery results of the stream in the last hour, by status.", {"stream", "status"});
  for (const auto& s : cfg_->streams) {
    auto c = feed_->engine().counts(s.name, now);
    ratio.labels({s.name}).set(c.delivery_ratio().value_or(-1));
    results.labels({s.name, "sent"}).set(double(c.sent));
    results.labels({s.name, "deferred"}).set(double(c.deferred));
    results.labels({s.name, "bounced"}).set(double(c.bounced));
    results.labels({s.name, "expired"}).set(double(c.expired));
  }
  auto& results_total =
      r.counter("streamguard_rampd_deliveries_total",
                "Delivery results in the Postfix log of a stream's transport, by stream, receiving "
                "operator (by relay host or domain; \"other\"), status and enhanced status code.",
                {"stream", "operator", "status", "dsn"});
  for (const auto& [k, n] : feed_->counts().results)
    mirror(results_total.labels({k[0], k[1], k[2], k[3]}), double(n));
  mirror(r.counter("streamguard_rampd_log_lines_total", "Postfix log lines read.").labels({}),
         double(feed_->counts().lines));
  mirror(r.counter("streamguard_rampd_breaker_trips_total", "Breakers tripped open.").labels({}),
         double(feed_->counts().trips));
}

// The hold queue as the last drain round saw it.
void Rampd::held_metrics() {
  auto& r = registry_;
  auto& held =
      r.gauge("streamguard_rampd_held", "Messages of the stream in the hold queue.", {"stream"});
  auto& held_old = r.gauge("streamguard_rampd_held_over_warn",
                           "Held messages older than [rampd] held_warn_s.", {"stream"});
  auto& released = r.counter("streamguard_rampd_released_total",
                             "Held messages released after charging the caps.", {"stream"});
  auto& waiting = r.gauge("streamguard_rampd_held_waiting",
                          "Held messages the last round skipped for an operator's cap or "
                          "breaker, or a failed MX lookup.",
                          {"stream"});
  auto& refused = r.gauge("streamguard_rampd_held_refused",
                          "Held messages kept because some of their recipients must not be "
                          "mailed now (the operator decides).",
                          {"stream"});
  auto& returned =
      r.counter("streamguard_rampd_returned_total",
                "Held messages returned to the sender, every recipient refused.", {"stream"});
  auto& suppressed =
      r.counter("streamguard_rampd_held_suppressed_total",
                "Held messages found, when charged, to have a recipient suppressed while they "
                "waited (never released to it).",
                {"stream"});
  for (const auto& [name, st] : drainer_.status().streams) {
    mirror(suppressed.labels({name}), double(st.suppressed_total));
    held.labels({name}).set(double(st.held));
    held_old.labels({name}).set(double(st.held_over_warn));
    mirror(released.labels({name}), double(st.released_total));
    waiting.labels({name}).set(double(st.waiting));
    refused.labels({name}).set(double(st.held_refused));
    mirror(returned.labels({name}), double(st.returned_total));
  }
  r.gauge("streamguard_rampd_held_of_no_stream", "Held messages no stream's transport is on.")
      .labels({})
      .set(double(drainer_.status().held_of_no_stream));
  // A counter that stops moving is a drainer that is stuck (a hung postqueue
  // or Redis call); tests wait on it instead of sleeping.
  mirror(r.counter("streamguard_rampd_drain_rounds_total",
                   "Rounds over the hold queue rampd has finished.")
             .labels({}),
         double(drain_rounds_));
}

// Listmonk's settings as last kept in step.
void Rampd::listmonk_metrics() {
  auto& r = registry_;
  auto& lm_ok =
      r.gauge("streamguard_rampd_listmonk_ok",
              "1 when Listmonk's settings were kept in step in the last round.", {"stream"});
  auto& lm_rate = r.gauge("streamguard_rampd_listmonk_rate",
                          "app.message_sliding_window_rate as last written.", {"stream"});
  for (const auto& [name, st] : listmonk_) {
    lm_ok.labels({name}).set(st.ok && !st.pending_reload ? 1 : 0);
    lm_rate.labels({name}).set(double(st.rate));
  }
}

std::string Rampd::metrics_text() {
  ramp_metrics();
  delivery_metrics();
  held_metrics();
  listmonk_metrics();
  suppression_.metrics(registry_);
  blocklister_.metrics(registry_);
  return registry_.render();
}

std::string Rampd::status_json() const {
  nlohmann::json j;
  j["daemon"] = "streamguard-rampd";
  j.update(nlohmann::json::parse("{" + record_.json_fields() + "}"));
  j["config"] = cfg_->path;
  j["redis_ready"] = limiter_.ready();
  j["redis_warnings"] = redis_warnings_;
  for (const auto& s : cfg_->streams) j["streams"][s.name]["mode"] = to_string(s.mode);
  for (const auto& [name, rep] : ramps_) {
    auto& s = j["streams"][name];
    s["ramp_ok"] = rep.ok;
    if (!rep.ok) {
      s["ramp_error"] = rep.error;
      continue;
    }
    s["ramp_day"] = rep.advanced.state.day;
    s["counted_day"] = rep.count.day;
    s["reason"] = rep.advanced.reason;
    s["frozen"] = rep.frozen;
    if (rep.advanced.caps.hourly) s["hourly_cap"] = *rep.advanced.caps.hourly;
    if (rep.advanced.caps.daily) s["daily_cap"] = *rep.advanced.caps.daily;
    s["sent_today"] = rep.sent_today;
    s["caps_version"] = rep.version;
  }
  for (const auto& [name, st] : listmonk_) {
    auto& l = j["streams"][name]["listmonk"];
    l["ok"] = st.ok;
    l["rate"] = st.rate;
    l["pending_reload"] = st.pending_reload;
    if (st.shadow) {
      l["shadow"] = true;
      l["would_rate"] = st.would_rate;
    }
    if (!st.error.empty()) l["error"] = st.error;
  }
  for (const auto& s : cfg_->streams)
    if (auto b = blocklister_.status(s.name); !b.is_null())
      j["streams"][s.name]["listmonk"]["blocklist"] = b;
  for (const auto& [name, st] : drainer_.status().streams) {
    auto& h = j["streams"][name]["held"];
    h["messages"] = st.held;
    h["over_warn"] = st.held_over_warn;
    h["oldest_age_s"] = st.oldest_age_s;
    h["released_total"] = st.released_total;
    h["waiting"] = st.waiting;
    h["refused"] = st.held_refused;
    h["returned_total"] = st.returned_total;
  }
  const int64_t now = last_now_ms_;  // the time of the last round (the tests' clock)
  j["breakers"] = nlohmann::json::array();
  for (const auto& t : feed_->engine().tripped(now))
    j["breakers"].push_back({{"stream", t.stream},
                             {"operator", t.op},
                             {"rule", t.verdict.rule},
                             {"state", breaker::to_string(t.verdict.state)},
                             {"until_ms", t.verdict.until_ms},
                             {"reason", t.verdict.reason}});
  if (!drainer_.status().problem.empty()) j["drain_problem"] = drainer_.status().problem;
  if (!breaker_problem_.empty()) j["breaker_problem"] = breaker_problem_;
  j["suppression"] = suppression_.status();
  if (!suppression_problem_.empty()) j["suppression"]["problem"] = suppression_problem_;
  if (follower_) {
    j["maillog"]["path"] = follower_->path();
    if (!follower_->problem().empty()) j["maillog"]["problem"] = follower_->problem();
  }
  return j.dump(2) + "\n";
}

}  // namespace sg::rampd
