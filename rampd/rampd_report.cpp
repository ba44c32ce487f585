// streamguard-rampd's reports: /metrics (the gauges and counters set from
// the last rounds) and /status (the same and more, as JSON). The rounds
// themselves are in rampd.cpp.
#include <nlohmann/json.hpp>

#include "rampd/rampd.hpp"

namespace sg::rampd {

using metrics::mirror;

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
  auto& egress_total = r.counter(
      "streamguard_rampd_egress_results_total",
      "Delivery results of a stream by the transport it left through and that transport's "
      "egress address ([[stream]] postfix bind_address; \"default\" when none is set).",
      {"stream", "transport", "egress", "status"});
  for (const auto& [k, n] : feed_->counts().egress)
    mirror(egress_total.labels({k[0], k[1], k[2], k[3]}), double(n));
  mirror(r.counter("streamguard_rampd_log_lines_total", "Postfix log lines read.").labels({}),
         double(feed_->counts().lines));
  mirror(r.counter("streamguard_rampd_breaker_trips_total", "Breakers tripped open.").labels({}),
         double(feed_->counts().trips));
  auto& refunded = r.counter(
      "streamguard_rampd_refunded_messages_total",
      "Messages a milter refused after END-OF-MESSAGE whose charges rampd gave back (commit = "
      "\"end_of_message\"), by stream.",
      {"stream"});
  auto& refunded_charges = r.counter("streamguard_rampd_refunded_charges_total",
                                     "The charges those messages had made, by stream.", {"stream"});
  for (const auto& [stream, c] : refunds_.counts()) {
    mirror(refunded.labels({stream}), double(c.messages));
    mirror(refunded_charges.labels({stream}), double(c.charges));
  }
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
  registry_
      .gauge("streamguard_rampd_lease_held",
             "1 when this rampd holds the lease and does the rounds; 0 while another does.")
      .labels({})
      .set(lease_.held() ? 1 : 0);
  return registry_.render();
}

std::string Rampd::status_json() const {
  nlohmann::json j;
  j["daemon"] = "streamguard-rampd";
  j.update(nlohmann::json::parse("{" + record_.json_fields() + "}"));
  j["config"] = cfg_->path;
  j["redis_ready"] = limiter_.ready();
  j["redis_warnings"] = redis_warnings_;
  j["lease"] = {{"key", lease_.key()}, {"held", lease_.held()}, {"id", lease_.id()}};
  if (!lease_.other().empty()) j["lease"]["other"] = lease_.other();
  // What rampd keeps to put back a Redis that lost the day (store_keeper.hpp).
  j["state_file"] = {{"path", cfg_->rampd.state_file},
                     {"problem", keeper_problem_.empty() ? nlohmann::json(nullptr)
                                                         : nlohmann::json(keeper_problem_)}};
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
  j["delivery"] = tally_.status(now);
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
