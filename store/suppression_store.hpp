// The suppressed addresses and domains in Redis (rules/suppression.hpp for
// what an entry is; rules/limiter_keys.hpp for the keys). rampd writes what
// it learns and removes what has ended; policyd never writes: its limiter
// script reads the stream's copy in the same call that charges the caps.
//
//   add()     an entry into the whole set, its expiry index (and the
//             domains' index) and every stream's copy (single-key commands:
//             each key may live on its own Redis Cluster slot).
//   add_new() a batch of entries the same way, a few commands for the whole
//             batch, keeping entries already there: an import run twice
//             adds nothing the second time.
//   expire()  entries whose time is up, out of all of them (the limiter
//             already ignores them; this keeps Redis from growing).
//   sync()    a stream whose copy does not hold as many entries as the whole
//             set (a stream added since, a write lost with a connection)
//             gets a fresh copy, built aside and swapped in with RENAME so
//             policyd never sees it half made.
//   sizes()   addresses and domains, for rampd's gauges.
//   get(), remove(), page(), domains()  for streamguardctl suppress.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "rules/suppression.hpp"
#include "store/cap_store.hpp"
#include "store/redis_client.hpp"

namespace sg {

// Every argument is taken by value: a coroutine keeps it in its frame, so a
// caller may pass temporaries.
class SuppressionStore {
 public:
  SuppressionStore(RedisClient& redis, std::string key_prefix);

  // "" when written everywhere, else what failed.
  boost::asio::awaitable<std::string> add(suppression::Entry e, std::vector<std::string> streams);
  struct Added {
    int64_t added = 0;
    int64_t kept = 0;  // already suppressed (or twice in the batch): left as they were
  };
  // An entry already in the whole set and not ended by now_ms is kept.
  boost::asio::awaitable<Stored<Added>> add_new(std::vector<suppression::Entry> batch,
                                                std::vector<std::string> streams, int64_t now_ms);
  // Entries removed (at most `limit` a call).
  boost::asio::awaitable<Stored<int64_t>> expire(int64_t now_ms, std::vector<std::string> streams,
                                                 int64_t limit);
  // Entries copied into streams whose copy differed (0 when all agreed).
  boost::asio::awaitable<Stored<int64_t>> sync(std::vector<std::string> streams);
  // Entries in the whole set.
  boost::asio::awaitable<Stored<int64_t>> size();
  struct Sizes {
    int64_t addresses = 0;
    int64_t domains = 0;
  };
  boost::asio::awaitable<Stored<Sizes>> sizes();
  // Puts every domain entry of the whole set into the domains' index
  // (entries written before the index existed); how many were missing.
  boost::asio::awaitable<Stored<int64_t>> index_domains();
  // The domain entries not ended by now_ms, in the order they end.
  boost::asio::awaitable<Stored<std::vector<suppression::Entry>>> domains(int64_t now_ms);
  // The records of these fields in the whole set ("" for a field it lacks).
  boost::asio::awaitable<Stored<std::vector<std::string>>> get(std::vector<std::string> fields);
  // The field out of the whole set, its index and every stream's copy;
  // whether the whole set had it.
  boost::asio::awaitable<Stored<bool>> remove(std::string field, std::vector<std::string> streams);
  // One page of the whole set from `cursor` ("0" first): the next cursor
  // ("0" when done) and (field, record) pairs.
  struct Page {
    std::string cursor;
    std::vector<std::pair<std::string, std::string>> entries;
  };
  // `match`: only fields of that HSCAN pattern ("d:*"); "" for all.
  boost::asio::awaitable<Stored<Page>> page(std::string cursor, int count, std::string match = "");

 private:
  RedisClient& redis_;
  std::string prefix_;
};

}  // namespace sg
