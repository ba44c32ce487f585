#include "rampd/delivery_tally.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/civil_time.hpp"

namespace sg::rampd {

namespace {
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 3'600'000;
}  // namespace

void DeliveryCounts::add(maillog::Status s) {
  switch (s) {
    case maillog::Status::sent:
      ++sent;
      break;
    case maillog::Status::deferred:
      ++deferred;
      break;
    case maillog::Status::bounced:
      ++bounced;
      break;
    case maillog::Status::expired:
      ++expired;
      break;
  }
}

void DeliveryCounts::add(const DeliveryCounts& o) {
  sent += o.sent;
  deferred += o.deferred;
  bounced += o.bounced;
  expired += o.expired;
}

void DeliveryTally::record(const breaker::Event& e) {
  Key key{e.stream, e.op.empty() ? "other" : e.op};
  minutes_[e.time_ms / kMinuteMs][key].add(e.status);
  // Buckets older than any hour a query asks about, given the newest result.
  const int64_t keep_from = minutes_.rbegin()->first - kHourMs / kMinuteMs - 1;
  while (minutes_.begin()->first < keep_from) minutes_.erase(minutes_.begin());

  // A new day starts the day's tally over; a late result of an earlier day
  // (the log is read in order, so only around midnight) is left out of it.
  const auto day = civil_day(e.time_ms).key;
  if (day_.empty() || day > day_) {
    day_ = day;
    today_.clear();
    reasons_.clear();
  }
  if (day != day_) return;
  today_[key].add(e.status);
  if (e.status != maillog::Status::sent)
    ++reasons_[e.stream][{maillog::to_string(e.status), e.dsn.empty() ? "none" : e.dsn}];
}

std::map<DeliveryTally::Key, DeliveryCounts> DeliveryTally::last_hour(int64_t now_ms) const {
  std::map<Key, DeliveryCounts> out;
  // Every minute that ends after now - 1h: a result 59m59s old counts.
  for (const auto& [minute, counts] : minutes_) {
    if ((minute + 1) * kMinuteMs <= now_ms - kHourMs || minute * kMinuteMs > now_ms) continue;
    for (const auto& [k, c] : counts) out[k].add(c);
  }
  return out;
}

std::map<DeliveryTally::Key, DeliveryCounts> DeliveryTally::today(int64_t now_ms) const {
  if (day_.empty() || civil_day(now_ms).key != day_) return {};
  return today_;
}

std::map<std::string, std::map<DeliveryTally::Reason, uint64_t>> DeliveryTally::reasons_today(
    int64_t now_ms) const {
  if (day_.empty() || civil_day(now_ms).key != day_) return {};
  return reasons_;
}

namespace {

nlohmann::json counts_json(const DeliveryCounts& c) {
  nlohmann::json j = {
      {"sent", c.sent}, {"deferred", c.deferred}, {"bounced", c.bounced}, {"expired", c.expired}};
  j["ratio"] = c.total() ? nlohmann::json(double(c.sent) / double(c.total())) : nullptr;
  return j;
}

}  // namespace

nlohmann::json DeliveryTally::status(int64_t now_ms) const {
  nlohmann::json j = nlohmann::json::object();
  auto hour = last_hour(now_ms);
  auto day = today(now_ms);
  std::map<Key, bool> keys;
  for (const auto& [k, c] : hour) keys[k] = true;
  for (const auto& [k, c] : day) keys[k] = true;
  for (const auto& [k, unused] : keys) {
    auto& o = j[k.first]["operators"][k.second];
    o["last_hour"] = counts_json(hour.count(k) ? hour.at(k) : DeliveryCounts{});
    o["today"] = counts_json(day.count(k) ? day.at(k) : DeliveryCounts{});
  }
  // The stream's totals over its operators, and its commonest reasons.
  for (auto& [stream, s] : j.items()) {
    DeliveryCounts h, d;
    for (const auto& [k, c] : hour)
      if (k.first == stream) h.add(c);
    for (const auto& [k, c] : day)
      if (k.first == stream) d.add(c);
    s["last_hour"] = counts_json(h);
    s["today"] = counts_json(d);
    s["reasons_today"] = nlohmann::json::array();
  }
  for (const auto& [stream, reasons] : reasons_today(now_ms)) {
    std::vector<std::pair<uint64_t, Reason>> top;
    for (const auto& [r, n] : reasons) top.push_back({n, r});
    std::stable_sort(top.begin(), top.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    if (top.size() > 10) top.resize(10);
    for (const auto& [n, r] : top)
      j[stream]["reasons_today"].push_back({{"status", r.first}, {"dsn", r.second}, {"count", n}});
  }
  return j;
}

}  // namespace sg::rampd
