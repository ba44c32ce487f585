#include "rampd/suppression_keeper.hpp"

#include <spdlog/spdlog.h>

#include "common/civil_time.hpp"

namespace sg::rampd {

namespace {

// Ended entries removed per round (the rest wait for the next).
constexpr int64_t kExpirePerRound = 1000;

std::vector<std::string> stream_names(const Config& cfg) {
  std::vector<std::string> out;
  for (const auto& s : cfg.streams) out.push_back(s.name);
  return out;
}

}  // namespace

SuppressionKeeper::SuppressionKeeper(RedisClient& redis, const Config& cfg)
    : store_(redis, cfg.redis.key_prefix), rules_(cfg.suppress), learner_(cfg.suppress) {}

void SuppressionKeeper::set_config(const Config& cfg) {
  if (cfg.suppress == rules_) return;
  spdlog::info("suppress rules changed: their counts start over (entries learned stay)");
  rules_ = cfg.suppress;
  learner_ = suppression::Learner(rules_);
}

std::vector<suppression::Entry> SuppressionKeeper::learn(
    const std::vector<breaker::Event>& events) {
  std::vector<suppression::Entry> out;
  for (const auto& e : events) {
    for (auto& entry : learner_.record(e)) {
      spdlog::warn("suppressed {} {} until {} (rule {}, {} result(s) via {}): {} {}",
                   to_string(entry.scope), entry.key, utc_text(entry.until_ms), entry.rule,
                   entry.count, entry.stream, entry.dsn, entry.text);
      recent_.push_back(entry);
      out.push_back(entry);
      if (recent_.size() > kRecent) recent_.pop_front();
      if (pending_.size() >= kMaxPending) {
        ++dropped_;
        continue;
      }
      pending_.push_back(std::move(entry));
    }
  }
  return out;
}

boost::asio::awaitable<std::string> SuppressionKeeper::publish(const Config& cfg, int64_t now_ms) {
  const auto streams = stream_names(cfg);
  if (!domains_indexed_) {
    // Once a start: domain entries written before their index existed.
    auto indexing = store_.index_domains();
    Stored<int64_t> n = co_await std::move(indexing);
    if (!n.value) co_return n.error;
    if (*n.value > 0) spdlog::info("suppression: {} domain entries indexed", *n.value);
    domains_indexed_ = true;
  }
  while (!pending_.empty()) {
    auto adding = store_.add(pending_.front(), streams);
    std::string err = co_await std::move(adding);
    if (!err.empty()) co_return err + " (" + std::to_string(pending_.size()) + " waiting)";
    pending_.pop_front();
  }
  auto expiring = store_.expire(now_ms, streams, kExpirePerRound);
  Stored<int64_t> ended = co_await std::move(expiring);
  if (!ended.value) co_return ended.error;
  expired_total_ += static_cast<uint64_t>(*ended.value);
  auto syncing = store_.sync(streams);
  Stored<int64_t> copied = co_await std::move(syncing);
  if (!copied.value) co_return copied.error;
  if (*copied.value > 0)
    spdlog::info("suppression: {} entries copied to streams whose copy differed", *copied.value);
  auto sizing = store_.sizes();
  auto n = co_await std::move(sizing);
  if (n.value) {
    addresses_ = n.value->addresses;
    domains_ = n.value->domains;
  }
  co_return std::string();
}

void SuppressionKeeper::metrics(metrics::Registry& r) const {
  auto& learned = r.counter("streamguard_rampd_suppress_learned_total",
                            "Suppression entries learned from the Postfix log, by rule.", {"rule"});
  for (const auto& rule : rules_) learned.labels({rule.name});
  for (const auto& [rule, n] : learner_.learned_by_rule())
    metrics::mirror(learned.labels({rule}), double(n));
  metrics::mirror(r.counter("streamguard_rampd_suppress_reputation_ignored_total",
                            "Results a [[suppress]] rule matched but that were reputation "
                            "replies (the breakers' to count), never learned.")
                      .labels({}),
                  double(learner_.counts().reputation_ignored));
  metrics::mirror(r.counter("streamguard_rampd_suppress_expired_total",
                            "Suppression entries removed when their time was up.")
                      .labels({}),
                  double(expired_total_));
  metrics::mirror(r.counter("streamguard_rampd_suppress_dropped_total",
                            "Entries learned but dropped: more than 100,000 waited for Redis, "
                            "or the learner's cells were full.")
                      .labels({}),
                  double(dropped_ + learner_.counts().dropped));
  r.gauge("streamguard_rampd_suppress_pending", "Entries learned and not yet written to Redis.")
      .labels({})
      .set(double(pending_.size()));
  auto& entries = r.gauge("streamguard_suppressed_entries",
                          "Suppressed addresses and domains in Redis, by kind (-1 before "
                          "rampd's first look).",
                          {"kind"});
  entries.labels({"address"}).set(double(addresses_));
  entries.labels({"domain"}).set(double(domains_));
}

nlohmann::json SuppressionKeeper::status() const {
  nlohmann::json j;
  j["entries"] = size();
  j["addresses"] = addresses_;
  j["domains"] = domains_;
  j["pending"] = pending_.size();
  j["recent"] = nlohmann::json::array();
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it)
    j["recent"].push_back({{"scope", to_string(it->scope)},
                           {"key", it->key},
                           {"rule", it->rule},
                           {"stream", it->stream},
                           {"dsn", it->dsn},
                           {"text", it->text},
                           {"learned", utc_text(it->learned_ms)},
                           {"until", utc_text(it->until_ms)}});
  return j;
}

}  // namespace sg::rampd
