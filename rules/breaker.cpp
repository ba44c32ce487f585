#include "rules/breaker.hpp"

#include "common/civil_time.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace sg::breaker {

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int severity(const Verdict& v) {
  if (v.state == State::closed) return 0;
  int action = v.action == BreakerAction::hold ? 3 : v.action == BreakerAction::defer ? 2 : 1;
  return (v.state == State::open ? 10 : 5) + action;
}

// Is `a` more severe than `b`?
bool worse(const Verdict& a, const Verdict& b) {
  const int sa = severity(a), sb = severity(b);
  if (sa != sb) return sa > sb;
  if (a.state == State::recovering && a.fraction != b.fraction) return a.fraction < b.fraction;
  return a.until_ms > b.until_ms;
}

std::size_t status_index(maillog::Status s) {
  return static_cast<std::size_t>(s);
}

}  // namespace

const char* to_string(State s) {
  switch (s) {
    case State::closed:
      return "closed";
    case State::open:
      return "open";
    case State::recovering:
      return "recovering";
  }
  return "?";
}

std::optional<double> DeliveryCounts::delivery_ratio() const {
  if (total() == 0) return std::nullopt;
  return static_cast<double>(sent) / static_cast<double>(total());
}

double recovery_fraction(int64_t from_ms, int64_t to_ms, int64_t now_ms) {
  if (to_ms <= from_ms || now_ms >= to_ms) return 1.0;
  if (now_ms <= from_ms) return kRecoveryFloor;
  const double done = static_cast<double>(now_ms - from_ms) / static_cast<double>(to_ms - from_ms);
  return kRecoveryFloor + (1.0 - kRecoveryFloor) * done;
}

Breaker::Breaker(std::vector<BreakerRule> rules) : Breaker(std::move(rules), Limits{}) {}

Breaker::Breaker(std::vector<BreakerRule> rules, Limits limits)
    : rules_(std::move(rules)), limits_(limits) {
  for (auto& r : rules_) {
    // The config bounds these; a rule built by hand is bounded the same way.
    r.threshold = std::clamp<uint32_t>(r.threshold, 1, kMaxBreakerThreshold);
    r.window_s = std::max<uint32_t>(r.window_s, 1);
    compiled_.emplace_back(r);
  }
  const int64_t window_ms = int64_t{std::max<uint32_t>(limits_.rate_window_s, 1)} * 1000;
  bucket_ms_ = std::max<int64_t>(1, window_ms / static_cast<int64_t>(kRateBuckets));
}

bool Breaker::matches(std::size_t i, const Event& e) const {
  return compiled_[i].matches(e.op, e.status, e.dsn, e.text);
}

std::vector<Verdict> Breaker::record(const Event& e) {
  std::vector<Verdict> opened;

  // Delivery counts of the stream.
  auto sit = streams_.find(e.stream);
  if (sit == streams_.end() && streams_.size() < limits_.max_keys) {
    sit = streams_.emplace(e.stream, StreamCounts{}).first;
    sit->second.ring.resize(kRateBuckets);
  }
  if (sit != streams_.end()) {
    auto& sc = sit->second;
    ++sc.total[status_index(e.status)];
    const int64_t index = floor_div(e.time_ms, bucket_ms_);
    const auto n = static_cast<int64_t>(kRateBuckets);
    auto& b = sc.ring[static_cast<std::size_t>(index - floor_div(index, n) * n)];
    if (index > b.index) b = Bucket{index, {}};
    if (index == b.index) ++b.n[status_index(e.status)];  // an older bucket's event is too old
  }

  std::vector<std::size_t> hits;
  for (std::size_t i = 0; i < rules_.size(); ++i)
    if (matches(i, e)) hits.push_back(i);
  if (hits.empty()) return opened;

  Key key{e.stream, e.op};
  auto it = cells_.find(key);
  if (it == cells_.end()) {
    if (cells_.size() >= limits_.max_keys) {
      ++dropped_;
      return opened;
    }
    it = cells_.emplace(key, std::vector<Cell>(rules_.size())).first;
  }
  for (std::size_t i : hits) {
    const auto& r = rules_[i];
    Cell& c = it->second[i];
    // Open (or a late line from before the trip): not counted.
    if (c.ever_opened && e.time_ms < c.until_ms) continue;
    c.times.insert(std::upper_bound(c.times.begin(), c.times.end(), e.time_ms), e.time_ms);
    while (c.times.size() > r.threshold) c.times.pop_front();
    const int64_t newest = c.times.back();
    while (!c.times.empty() && c.times.front() < newest - int64_t{r.window_s} * 1000)
      c.times.pop_front();
    if (c.times.size() < r.threshold) continue;
    c.ever_opened = true;
    c.count = static_cast<uint32_t>(c.times.size());
    c.opened_ms = newest;
    c.until_ms = newest + int64_t{r.cooldown_s} * 1000;
    c.recovered_ms = c.until_ms + int64_t{r.recovery_s} * 1000;
    c.times.clear();
    opened.push_back(verdict(i, it->first, c, newest));
  }
  return opened;
}

Verdict Breaker::verdict(std::size_t i, const Key& key, const Cell& c, int64_t now_ms) const {
  Verdict v;
  if (!c.ever_opened || now_ms < c.opened_ms || now_ms >= c.recovered_ms) return v;
  const auto& r = rules_[i];
  v.action = r.action;
  v.rule = r.name;
  v.count = c.count;
  v.window_s = r.window_s;
  v.opened_ms = c.opened_ms;
  std::string what;
  for (const auto& s : r.status) what += (what.empty() ? "" : "/") + s;
  const std::string match = compiled_[i].describe();
  // The rule's text comes from the config: kept short and fit for a reply.
  v.cause = text::reply_safe("saw " + std::to_string(c.count) + " " + what + " results" +
                             match.substr(0, 200) + " within " + std::to_string(r.window_s) +
                             "s (threshold " + std::to_string(r.threshold) + ")");
  v.reason = "breaker '" + r.name + "' on " + key.first + "/" +
             (key.second.empty() ? std::string("unknown operator") : key.second) + ": " +
             v.cause.substr(4) + "; ";
  if (now_ms < c.until_ms) {
    v.state = State::open;
    v.until_ms = c.until_ms;
    v.fraction = 0.0;
    v.reason += std::string(to_string(r.action)) + " until " + utc_text(c.until_ms);
  } else {
    v.state = State::recovering;
    v.until_ms = c.recovered_ms;
    v.fraction = recovery_fraction(c.until_ms, c.recovered_ms, now_ms);
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%", v.fraction * 100.0);
    v.reason +=
        "recovering at " + std::string(pct) + " of the cap until " + utc_text(c.recovered_ms);
  }
  return v;
}

Verdict Breaker::state(std::string_view stream, std::string_view op, int64_t now_ms) const {
  Verdict best;
  auto it = cells_.find(KeyView(stream, op));
  if (it == cells_.end()) return best;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    Verdict v = verdict(i, it->first, it->second[i], now_ms);
    if (worse(v, best)) best = std::move(v);
  }
  return best;
}

bool Breaker::ramp_frozen(std::string_view stream, int64_t now_ms) const {
  for (const auto& [key, cells] : cells_) {
    if (key.first != stream) continue;
    for (std::size_t i = 0; i < rules_.size(); ++i)
      if (rules_[i].action == BreakerAction::freeze_ramp &&
          verdict(i, key, cells[i], now_ms).state != State::closed)
        return true;
  }
  return false;
}

std::vector<Tripped> Breaker::tripped(int64_t now_ms) const {
  std::vector<Tripped> out;
  for (const auto& [key, cells] : cells_) {
    Verdict v = state(key.first, key.second, now_ms);
    if (v.state != State::closed) out.push_back({key.first, key.second, std::move(v)});
  }
  return out;
}

DeliveryCounts Breaker::counts(std::string_view stream, int64_t now_ms) const {
  DeliveryCounts out;
  auto it = streams_.find(stream);
  if (it == streams_.end()) return out;
  const int64_t now_index = floor_div(now_ms, bucket_ms_);
  for (const auto& b : it->second.ring) {
    if (b.index > now_index || b.index <= now_index - static_cast<int64_t>(kRateBuckets)) continue;
    out.sent += b.n[status_index(maillog::Status::sent)];
    out.deferred += b.n[status_index(maillog::Status::deferred)];
    out.bounced += b.n[status_index(maillog::Status::bounced)];
    out.expired += b.n[status_index(maillog::Status::expired)];
  }
  return out;
}

DeliveryCounts Breaker::totals(std::string_view stream) const {
  DeliveryCounts out;
  auto it = streams_.find(stream);
  if (it == streams_.end()) return out;
  const auto& t = it->second.total;
  out.sent = t[status_index(maillog::Status::sent)];
  out.deferred = t[status_index(maillog::Status::deferred)];
  out.bounced = t[status_index(maillog::Status::bounced)];
  out.expired = t[status_index(maillog::Status::expired)];
  return out;
}

// ---- EventMapper

EventMapper::EventMapper(const Config& cfg)
    : mx_(cfg.operators), domains_(std::map<std::string, DomainList>{}, cfg.operator_domains()) {
  for (const auto& s : cfg.streams)
    if (!s.postfix.transport.empty()) stream_by_transport_.emplace(s.postfix.transport, s.name);
}

std::string EventMapper::stream_for(const maillog::Delivery& d) const {
  auto it = stream_by_transport_.find(d.service());
  return it == stream_by_transport_.end() ? std::string() : it->second;
}

std::string EventMapper::operator_for(const maillog::Delivery& d) const {
  std::string host = text::lower(d.relay_host);
  // relay=none: the MX that did not answer is in "connect to HOST[IP]:25: ...".
  if (host.empty() && d.detail.starts_with("connect to ")) {
    std::string_view rest = std::string_view(d.detail).substr(11);
    auto open = rest.find('[');
    if (open != std::string_view::npos) host = text::lower(rest.substr(0, open));
  }
  if (!host.empty()) {
    std::string op = mx_.operator_for({host});
    if (!op.empty()) return op;
  }
  if (auto domain = recipient_domain(d.recipient)) return domains_.classify(*domain).op;
  return {};
}

std::optional<Event> EventMapper::event(const maillog::Delivery& d, int64_t time_ms) const {
  std::string stream = stream_for(d);
  if (stream.empty()) return std::nullopt;
  Event e;
  e.time_ms = time_ms;
  e.stream = std::move(stream);
  e.op = operator_for(d);
  e.status = d.status;
  e.dsn = d.dsn;
  e.text = d.detail;
  e.recipient = d.recipient;
  e.reply = d.reply;
  return e;
}

}  // namespace sg::breaker
