#include "rules/suppression.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "rules/classifier.hpp"

namespace sg::suppression {

namespace {

// Words receivers use when they refuse the sender, not the recipient.
constexpr std::string_view kReputationMarks[] = {
    "tss0",     "s3150",     "4.7.500",    "unsolicited", "reputation",
    "spamhaus", "blocklist", "block list", "blacklist",   "listed at"};

std::string cut(std::string_view s) {
  if (s.size() <= kMaxEntryText) return std::string(s);
  std::size_t n = kMaxEntryText;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // UTF-8 boundary
  return std::string(s.substr(0, n)) + "…";
}

}  // namespace

std::string entry_field(SuppressScope scope, std::string_view key) {
  return (scope == SuppressScope::address ? "a:" : "d:") + std::string(key);
}

bool is_reputation_reply(std::string_view dsn, std::string_view text) {
  // RFC 3463 subject 7: security or policy.
  if (dsn.size() >= 3 && dsn[1] == '.' && dsn[2] == '7') return true;
  for (auto mark : kReputationMarks)
    if (rules::icontains(text, mark)) return true;
  return false;
}

Learner::Learner(std::vector<SuppressRule> rules) : Learner(std::move(rules), Limits{}) {}

Learner::Learner(std::vector<SuppressRule> rules, Limits limits)
    : rules_(std::move(rules)), limits_(limits) {
  for (auto& r : rules_) {
    r.threshold = std::max<uint32_t>(r.threshold, 1);
    r.window_s = std::max<uint32_t>(r.window_s, 1);
    compiled_.emplace_back(r);
  }
}

void Learner::forget_alive(const std::string& address, const std::string& domain) {
  for (std::size_t i = 0; i < rules_.size(); ++i)
    cells_.erase({i, rules_[i].scope == SuppressScope::address ? address : domain});
}

void Learner::prune(int64_t now_ms) {
  for (auto it = learned_.begin(); it != learned_.end();)
    it = it->second <= now_ms ? learned_.erase(it) : std::next(it);
  for (auto it = cells_.begin(); it != cells_.end();) {
    const int64_t window_ms = int64_t{rules_[it->first.first].window_s} * 1000;
    it = now_ms - it->second.first_ms > window_ms ? cells_.erase(it) : std::next(it);
  }
}

std::vector<Entry> Learner::record(const breaker::Event& e) {
  std::vector<Entry> out;
  if (e.recipient.empty() || rules_.empty()) return out;
  const std::string address = text::lower(e.recipient);
  const auto domain = recipient_domain(address);
  if (!domain) return out;
  if (e.status == maillog::Status::sent) {
    forget_alive(address, *domain);
    return out;
  }
  const std::string& text = e.reply.empty() ? e.text : e.reply;
  bool reputation_checked = false, reputation = false;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& r = rules_[i];
    if (!compiled_[i].matches(e.op, e.status, e.dsn, e.text)) continue;
    if (!reputation_checked) {
      reputation = is_reputation_reply(e.dsn, e.text);
      reputation_checked = true;
      if (reputation) ++counts_.reputation_ignored;
    }
    if (reputation) return out;
    const std::string& key = r.scope == SuppressScope::address ? address : *domain;
    const std::string field = entry_field(r.scope, key);
    if (auto l = learned_.find(field); l != learned_.end() && l->second > e.time_ms) continue;
    auto it = cells_.find({i, key});
    if (it == cells_.end()) {
      if (cells_.size() >= limits_.max_keys) prune(e.time_ms);
      if (cells_.size() >= limits_.max_keys) {
        ++counts_.dropped;
        continue;
      }
      it = cells_.emplace(CellKey{i, key}, Cell{e.time_ms, e.time_ms, 0}).first;
    }
    Cell& c = it->second;
    if (e.time_ms - c.first_ms > int64_t{r.window_s} * 1000) c = Cell{e.time_ms, e.time_ms, 0};
    c.last_ms = std::max(c.last_ms, e.time_ms);
    ++c.count;
    if (c.count < r.threshold || c.last_ms - c.first_ms < int64_t{r.span_s} * 1000) continue;

    Entry en;
    en.scope = r.scope;
    en.key = key;
    en.rule = r.name;
    en.stream = e.stream;
    en.dsn = e.dsn;
    en.text = cut(text);
    en.count = c.count;
    en.learned_ms = e.time_ms;
    en.until_ms = e.time_ms + int64_t{r.ttl_s} * 1000;
    cells_.erase(it);
    if (learned_.size() >= limits_.max_keys) prune(e.time_ms);
    if (learned_.size() < limits_.max_keys) learned_[field] = en.until_ms;
    ++counts_.learned;
    ++by_rule_[r.name];
    out.push_back(std::move(en));
  }
  return out;
}

}  // namespace sg::suppression
