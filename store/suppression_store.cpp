#include "store/suppression_store.hpp"

#include <algorithm>
#include <set>

#include "rules/limiter_keys.hpp"
#include "store/redis_await.hpp"

namespace sg {

namespace {

// Fields copied per HSET while a stream's copy is rebuilt.
constexpr const char* kSyncBatch = "1000";

}  // namespace

SuppressionStore::SuppressionStore(RedisClient& redis, std::string key_prefix)
    : redis_(redis), prefix_(std::move(key_prefix)) {}

boost::asio::awaitable<std::string> SuppressionStore::add(suppression::Entry e,
                                                          std::vector<std::string> streams) {
  const std::string field = suppression::entry_field(e.scope, e.key);
  const std::string record = suppression::record_of(e);
  // The whole set first: a failure part way leaves a stream's copy short,
  // which sync() repairs from it.
  std::vector<std::vector<std::string>> commands;
  commands.push_back({"HSET", keys::suppress_all(prefix_), field, record});
  commands.push_back({"ZADD", keys::suppress_expiry(prefix_), std::to_string(e.until_ms), field});
  if (e.scope == SuppressScope::domain)
    commands.push_back(
        {"ZADD", keys::suppress_domains(prefix_), std::to_string(e.until_ms), field});
  for (const auto& s : streams)
    commands.push_back({"HSET", keys::suppressed(prefix_, s), field, record});
  for (auto& argv : commands) {
    auto calling = call(redis_, std::move(argv));
    Reply r = co_await std::move(calling);
    if (!r.ok()) co_return "writing suppression " + field + ": " + r.error();
  }
  co_return std::string();
}

boost::asio::awaitable<Stored<int64_t>> SuppressionStore::expire(int64_t now_ms,
                                                                 std::vector<std::string> streams,
                                                                 int64_t limit) {
  Stored<int64_t> out;
  auto listing = cmd(redis_, "ZRANGEBYSCORE", keys::suppress_expiry(prefix_), "-inf",
                     std::to_string(now_ms), "LIMIT", "0", std::to_string(limit));
  Reply ended = co_await std::move(listing);
  if (!ended.ok() || ended.type != Reply::Type::array) {
    out.error = "listing ended suppressions: " + (ended.ok() ? "not a list" : ended.error());
    co_return out;
  }
  if (ended.elements.empty()) {
    out.value = 0;
    co_return out;
  }
  std::vector<std::string> fields;
  for (const auto& e : ended.elements) fields.push_back(e.str);
  std::vector<std::string> keys{keys::suppress_all(prefix_)};
  for (const auto& s : streams) keys.push_back(keys::suppressed(prefix_, s));
  for (const auto& key : keys) {
    std::vector<std::string> argv{"HDEL", key};
    argv.insert(argv.end(), fields.begin(), fields.end());
    auto deleting = call(redis_, std::move(argv));
    Reply r = co_await std::move(deleting);
    if (!r.ok()) {
      out.error = "removing ended suppressions: " + r.error();
      co_return out;
    }
  }
  // Out of the indexes last: a failure above leaves them listed for next time.
  for (const auto& index : {keys::suppress_domains(prefix_), keys::suppress_expiry(prefix_)}) {
    std::vector<std::string> argv{"ZREM", index};
    argv.insert(argv.end(), fields.begin(), fields.end());
    auto removing = call(redis_, std::move(argv));
    Reply r = co_await std::move(removing);
    if (!r.ok()) {
      out.error = "removing ended suppressions: " + r.error();
      co_return out;
    }
  }
  out.value = static_cast<int64_t>(fields.size());
  co_return out;
}

boost::asio::awaitable<Stored<int64_t>> SuppressionStore::size() {
  Stored<int64_t> out;
  auto counting = cmd(redis_, "HLEN", keys::suppress_all(prefix_));
  Reply r = co_await std::move(counting);
  if (r.type != Reply::Type::integer)
    out.error = "counting suppressions: " + (r.ok() ? "not a number" : r.error());
  else
    out.value = r.integer;
  co_return out;
}

boost::asio::awaitable<Stored<SuppressionStore::Sizes>> SuppressionStore::sizes() {
  Stored<Sizes> out;
  auto all = size();
  Stored<int64_t> whole = co_await std::move(all);
  if (!whole.value) {
    out.error = whole.error;
    co_return out;
  }
  auto counting = cmd(redis_, "ZCARD", keys::suppress_domains(prefix_));
  Reply d = co_await std::move(counting);
  if (d.type != Reply::Type::integer) {
    out.error = "counting suppressed domains: " + (d.ok() ? "not a number" : d.error());
    co_return out;
  }
  // Both read between writes: never below zero.
  out.value = Sizes{std::max<int64_t>(0, *whole.value - d.integer), d.integer};
  co_return out;
}

boost::asio::awaitable<Stored<int64_t>> SuppressionStore::sync(std::vector<std::string> streams) {
  Stored<int64_t> out;
  auto sizing = size();
  Stored<int64_t> whole = co_await std::move(sizing);
  if (!whole.value) {
    out.error = whole.error;
    co_return out;
  }
  int64_t copied = 0;
  for (const auto& s : streams) {
    const std::string copy = keys::suppressed(prefix_, s);
    auto counting = cmd(redis_, "HLEN", copy);
    Reply n = co_await std::move(counting);
    if (n.type != Reply::Type::integer) {
      out.error = "counting " + copy + ": " + (n.ok() ? "not a number" : n.error());
      co_return out;
    }
    if (n.integer == *whole.value) continue;
    // Built aside in the stream's own slot, then swapped in at once.
    const std::string aside = copy + ":building";
    auto clearing = cmd(redis_, "DEL", aside);
    Reply cleared = co_await std::move(clearing);
    if (!cleared.ok()) {
      out.error = "rebuilding " + copy + ": " + cleared.error();
      co_return out;
    }
    std::string cursor = "0";
    do {
      auto scanning =
          cmd(redis_, "HSCAN", keys::suppress_all(prefix_), cursor, "COUNT", kSyncBatch);
      Reply page = co_await std::move(scanning);
      if (!page.ok() || page.type != Reply::Type::array || page.elements.size() != 2) {
        out.error = "reading suppressions: " + (page.ok() ? "unexpected reply" : page.error());
        co_return out;
      }
      cursor = page.elements[0].str;
      const auto& pairs = page.elements[1].elements;
      if (pairs.empty()) continue;
      std::vector<std::string> argv{"HSET", aside};
      for (const auto& p : pairs) argv.push_back(p.str);
      auto writing = call(redis_, std::move(argv));
      Reply w = co_await std::move(writing);
      if (!w.ok()) {
        out.error = "rebuilding " + copy + ": " + w.error();
        co_return out;
      }
      copied += static_cast<int64_t>(pairs.size() / 2);
    } while (cursor != "0");
    auto swapping =
        *whole.value > 0 ? cmd(redis_, "RENAME", aside, copy) : cmd(redis_, "DEL", copy);
    Reply sw = co_await std::move(swapping);
    if (!sw.ok()) {
      out.error = "swapping in " + copy + ": " + sw.error();
      co_return out;
    }
  }
  out.value = copied;
  co_return out;
}

boost::asio::awaitable<Stored<std::vector<std::string>>> SuppressionStore::get(
    std::vector<std::string> fields) {
  Stored<std::vector<std::string>> out;
  std::vector<std::string> argv{"HMGET", keys::suppress_all(prefix_)};
  argv.insert(argv.end(), fields.begin(), fields.end());
  auto reading = call(redis_, std::move(argv));
  Reply r = co_await std::move(reading);
  if (!r.ok() || r.type != Reply::Type::array || r.elements.size() != fields.size()) {
    out.error = "reading suppressions: " + (r.ok() ? std::string("unexpected reply") : r.error());
    co_return out;
  }
  out.value.emplace();
  for (const auto& e : r.elements) out.value->push_back(e.str);
  co_return out;
}

boost::asio::awaitable<Stored<bool>> SuppressionStore::remove(std::string field,
                                                              std::vector<std::string> streams) {
  Stored<bool> out;
  auto deleting = cmd(redis_, "HDEL", keys::suppress_all(prefix_), field);
  Reply whole = co_await std::move(deleting);
  if (whole.type != Reply::Type::integer) {
    out.error = "removing " + field + ": " + (whole.ok() ? "unexpected reply" : whole.error());
    co_return out;
  }
  std::vector<std::vector<std::string>> rest{{"ZREM", keys::suppress_expiry(prefix_), field},
                                             {"ZREM", keys::suppress_domains(prefix_), field}};
  for (const auto& s : streams) rest.push_back({"HDEL", keys::suppressed(prefix_, s), field});
  for (auto& argv : rest) {
    auto calling = call(redis_, std::move(argv));
    Reply r = co_await std::move(calling);
    if (!r.ok()) {
      out.error = "removing " + field + ": " + r.error();
      co_return out;
    }
  }
  out.value = whole.integer > 0;
  co_return out;
}

boost::asio::awaitable<Stored<SuppressionStore::Page>> SuppressionStore::page(std::string cursor,
                                                                              int count,
                                                                              std::string match) {
  Stored<Page> out;
  std::vector<std::string> argv{"HSCAN", keys::suppress_all(prefix_), cursor, "COUNT",
                                std::to_string(count)};
  if (!match.empty()) argv.insert(argv.end(), {"MATCH", match});
  auto scanning = call(redis_, std::move(argv));
  Reply r = co_await std::move(scanning);
  if (!r.ok() || r.type != Reply::Type::array || r.elements.size() != 2) {
    out.error = "reading suppressions: " + (r.ok() ? std::string("unexpected reply") : r.error());
    co_return out;
  }
  out.value.emplace();
  out.value->cursor = r.elements[0].str;
  const auto& pairs = r.elements[1].elements;
  for (std::size_t i = 0; i + 1 < pairs.size(); i += 2)
    out.value->entries.emplace_back(pairs[i].str, pairs[i + 1].str);
  co_return out;
}

boost::asio::awaitable<Stored<SuppressionStore::Added>> SuppressionStore::add_new(
    std::vector<suppression::Entry> batch, std::vector<std::string> streams, int64_t now_ms) {
  Stored<Added> out;
  Added counts;
  std::vector<std::string> fields;
  for (const auto& e : batch) fields.push_back(suppression::entry_field(e.scope, e.key));
  auto reading = get(fields);
  auto found = co_await std::move(reading);
  if (!found.value) {
    out.error = found.error;
    co_return out;
  }
  std::vector<std::string> all{"HSET", keys::suppress_all(prefix_)};
  std::vector<std::string> expiry{"ZADD", keys::suppress_expiry(prefix_)};
  std::vector<std::string> domains{"ZADD", keys::suppress_domains(prefix_)};
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::string& old = (*found.value)[i];
    const auto live = old.empty() ? std::nullopt : suppression::parse_entry(fields[i], old);
    if ((live && live->until_ms > now_ms) || !seen.insert(fields[i]).second) {
      ++counts.kept;
      continue;
    }
    ++counts.added;
    all.push_back(fields[i]);
    all.push_back(suppression::record_of(batch[i]));
    const std::string until = std::to_string(batch[i].until_ms);
    expiry.insert(expiry.end(), {until, fields[i]});
    if (batch[i].scope == SuppressScope::domain) domains.insert(domains.end(), {until, fields[i]});
  }
  if (counts.added > 0) {
    // The whole set first, as add() does: sync() repairs a copy left short.
    std::vector<std::vector<std::string>> commands{all, expiry};
    if (domains.size() > 2) commands.push_back(domains);
    for (const auto& s : streams) {
      commands.push_back(all);
      commands.back()[1] = keys::suppressed(prefix_, s);
    }
    for (auto& argv : commands) {
      auto calling = call(redis_, std::move(argv));
      Reply r = co_await std::move(calling);
      if (!r.ok()) {
        out.error = "writing suppressions: " + r.error();
        co_return out;
      }
    }
  }
  out.value = counts;
  co_return out;
}

boost::asio::awaitable<Stored<std::vector<suppression::Entry>>> SuppressionStore::domains(
    int64_t now_ms) {
  Stored<std::vector<suppression::Entry>> out;
  auto listing = cmd(redis_, "ZRANGEBYSCORE", keys::suppress_domains(prefix_),
                     "(" + std::to_string(now_ms), "+inf");
  Reply r = co_await std::move(listing);
  if (!r.ok() || r.type != Reply::Type::array) {
    out.error = "listing suppressed domains: " + (r.ok() ? "not a list" : r.error());
    co_return out;
  }
  out.value.emplace();
  if (r.elements.empty()) co_return out;
  std::vector<std::string> fields;
  for (const auto& e : r.elements) fields.push_back(e.str);
  auto reading = get(fields);
  auto records = co_await std::move(reading);
  if (!records.value) {
    out.error = records.error;
    co_return out;
  }
  for (std::size_t i = 0; i < fields.size(); ++i)
    if (auto e = suppression::parse_entry(fields[i], (*records.value)[i])) out.value->push_back(*e);
  co_return out;
}

boost::asio::awaitable<Stored<int64_t>> SuppressionStore::index_domains() {
  Stored<int64_t> out;
  int64_t added = 0;
  std::string cursor = "0";
  do {
    auto paging = page(cursor, 1000, "d:*");
    auto p = co_await std::move(paging);
    if (!p.value) {
      out.error = p.error;
      co_return out;
    }
    cursor = p.value->cursor;
    std::vector<std::string> argv{"ZADD", keys::suppress_domains(prefix_), "NX"};
    for (const auto& [field, record] : p.value->entries)
      if (auto e = suppression::parse_entry(field, record))
        argv.insert(argv.end(), {std::to_string(e->until_ms), field});
    if (argv.size() == 3) continue;
    auto indexing = call(redis_, std::move(argv));
    Reply r = co_await std::move(indexing);
    if (r.type != Reply::Type::integer) {
      out.error = "indexing suppressed domains: " + (r.ok() ? "unexpected reply" : r.error());
      co_return out;
    }
    added += r.integer;
  } while (cursor != "0");
  out.value = added;
  co_return out;
}

}  // namespace sg
