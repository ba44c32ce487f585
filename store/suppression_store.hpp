// The suppressed addresses and domains in Redis (rules/suppression.hpp for
// what an entry is; rules/limiter_keys.hpp for the keys). rampd writes what
// it learns and removes what has ended; policyd never writes: its limiter
// script reads the stream's copy in the same call that charges the caps.
//
//   add()     an entry into the whole set, its expiry index and every
//             stream's copy (single-key commands: each key may live on its
//             own Redis Cluster slot).
//   expire()  entries whose time is up, out of all of them (the limiter
//             already ignores them; this keeps Redis from growing).
//   sync()    a stream whose copy does not hold as many entries as the whole
//             set (a stream added since, a write lost with a connection)
//             gets a fresh copy, built aside and swapped in with RENAME so
//             policyd never sees it half made.
//   get(), remove(), page()  for streamguardctl suppress.
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
  // Entries removed (at most `limit` a call).
  boost::asio::awaitable<Stored<int64_t>> expire(int64_t now_ms, std::vector<std::string> streams,
                                                 int64_t limit);
  // Entries copied into streams whose copy differed (0 when all agreed).
  boost::asio::awaitable<Stored<int64_t>> sync(std::vector<std::string> streams);
  // Entries in the whole set.
  boost::asio::awaitable<Stored<int64_t>> size();
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
  boost::asio::awaitable<Stored<Page>> page(std::string cursor, int count);

 private:
  RedisClient& redis_;
  std::string prefix_;
};

}  // namespace sg
