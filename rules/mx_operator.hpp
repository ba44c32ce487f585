// Which operator a domain belongs to by its MX hosts, and the TTL cache of
// MX lookups (the answers themselves are parsed in formats/mx.hpp; the
// resolver that sends the queries lives in policyd).
//
// A domain belongs to an operator only when EVERY one of its MX hosts matches
// one of that operator's suffixes: a practice domain on Google Workspace
// (aspmx.l.google.com, alt1.aspmx.l.google.com, ...) is google; a domain whose
// MX hosts are split between two operators, or that has no MX at all, is of no
// known operator.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "formats/mx.hpp"

namespace sg {

// Operators by MX host suffix, from [operators.NAME] mx_suffixes. A suffix
// with a leading dot (".google.com") matches hosts below it; one without
// ("google.com") matches that host and the hosts below it.
class MxOperatorMap {
 public:
  explicit MxOperatorMap(const std::vector<OperatorConfig>& operators);
  // The operator every host matches, or "" when one host matches none or
  // the hosts match different operators (or there are no hosts).
  std::string operator_for(const std::vector<std::string>& hosts) const;
  bool empty() const { return suffixes_.empty(); }

 private:
  std::string_view match(std::string_view host) const;
  std::vector<std::pair<std::string, std::string>> suffixes_;  // (suffix, operator)
};

// Lookups remembered until their TTL runs out, least recently used dropped
// beyond `capacity`. Not thread-safe: one per Asio loop.
class MxCache {
 public:
  struct Entry {
    MxResult result;
    int64_t expires_ms = 0;
  };
  explicit MxCache(std::size_t capacity) : capacity_(capacity) {}

  // The entry, if present and not expired at now_ms (an expired one is dropped).
  const Entry* find(const std::string& domain, int64_t now_ms);
  // Remembers `r` for its TTL clamped to the config (min/max, and the
  // negative and failure TTLs where they apply).
  void store(const std::string& domain, MxResult r, int64_t now_ms, const DnsConfig& cfg);
  std::size_t size() const { return map_.size(); }
  void clear();

  static uint32_t ttl_for(const MxResult& r, const DnsConfig& cfg);

 private:
  using Lru = std::list<std::string>;
  struct Slot {
    Entry entry;
    Lru::iterator lru;
  };
  std::size_t capacity_;
  Lru lru_;  // most recently used first
  std::unordered_map<std::string, Slot> map_;
};

}  // namespace sg
