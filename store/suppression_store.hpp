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
//   list()    one page of the whole set, for status pages and streamguardctl.
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

class SuppressionStore {
 public:
  SuppressionStore(RedisClient& redis, std::string key_prefix);

  // "" when written everywhere, else what failed.
  boost::asio::awaitable<std::string> add(const suppression::Entry& e,
                                          const std::vector<std::string>& streams);
  // Entries removed (at most `limit` a call).
  boost::asio::awaitable<Stored<int64_t>> expire(int64_t now_ms,
                                                 const std::vector<std::string>& streams,
                                                 int64_t limit);
  // Entries copied into streams whose copy differed (0 when all agreed).
  boost::asio::awaitable<Stored<int64_t>> sync(const std::vector<std::string>& streams);
  // Entries in the whole set.
  boost::asio::awaitable<Stored<int64_t>> size();

 private:
  RedisClient& redis_;
  std::string prefix_;
};

}  // namespace sg
