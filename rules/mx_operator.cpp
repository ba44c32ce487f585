#include "rules/mx_operator.hpp"

#include <algorithm>

namespace sg {

MxOperatorMap::MxOperatorMap(const std::vector<OperatorConfig>& operators) {
  for (const auto& op : operators)
    for (const auto& s : op.mx_suffixes) {
      std::string suffix = s;
      while (!suffix.empty() && suffix.back() == '.') suffix.pop_back();
      if (!suffix.empty()) suffixes_.emplace_back(std::move(suffix), op.name);
    }
  // Longest first: a more specific suffix wins over a shorter one.
  std::stable_sort(suffixes_.begin(), suffixes_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::string_view MxOperatorMap::match(std::string_view host) const {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  for (const auto& [suffix, op] : suffixes_) {
    if (suffix.front() == '.') {
      if (host.size() > suffix.size() && host.ends_with(suffix)) return op;
    } else if (host == suffix || (host.size() > suffix.size() && host.ends_with(suffix) &&
                                  host[host.size() - suffix.size() - 1] == '.')) {
      return op;
    }
  }
  return {};
}

std::string MxOperatorMap::operator_for(const std::vector<std::string>& hosts) const {
  std::string_view found;
  for (const auto& h : hosts) {
    auto op = match(h);
    if (op.empty()) return {};
    if (!found.empty() && op != found) return {};
    found = op;
  }
  return std::string(found);
}

const MxCache::Entry* MxCache::find(const std::string& domain, int64_t now_ms) {
  auto it = map_.find(domain);
  if (it == map_.end()) return nullptr;
  if (it->second.entry.expires_ms <= now_ms) {
    lru_.erase(it->second.lru);
    map_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second.entry;
}

uint32_t MxCache::ttl_for(const MxResult& r, const DnsConfig& cfg) {
  switch (r.kind) {
    case MxResult::Kind::failure:
      return cfg.failure_ttl_s;
    case MxResult::Kind::nxdomain:
    case MxResult::Kind::no_mx:
      return std::min(r.ttl.value_or(cfg.negative_ttl_s), cfg.negative_ttl_s);
    case MxResult::Kind::mx:
    case MxResult::Kind::null_mx:
      break;
  }
  uint32_t ttl = r.ttl.value_or(cfg.min_ttl_s);
  return std::clamp(ttl, cfg.min_ttl_s, cfg.max_ttl_s);
}

void MxCache::store(const std::string& domain, MxResult r, int64_t now_ms, const DnsConfig& cfg) {
  uint32_t ttl = ttl_for(r, cfg);
  if (ttl == 0 || capacity_ == 0) return;
  Entry e{std::move(r), now_ms + static_cast<int64_t>(ttl) * 1000};
  if (auto it = map_.find(domain); it != map_.end()) {
    it->second.entry = std::move(e);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (map_.size() >= capacity_) {
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(domain);
  map_.emplace(domain, Slot{std::move(e), lru_.begin()});
}

void MxCache::clear() {
  map_.clear();
  lru_.clear();
}

}  // namespace sg
