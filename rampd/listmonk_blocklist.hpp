// Listmonk in step with suppression (issue 11): for a stream with
// `listmonk = { dsn = ... }`, every address or domain rampd learns to
// suppress is blocklisted in that Listmonk's database, so the sending app
// stops selecting it too (the MTA refusal stays the backstop).
//
// What Listmonk does with a blocklisted subscriber (knadh/listmonk,
// schema.sql and queries.sql): subscribers(id, email, status
// subscriber_status 'enabled'|'disabled'|'blocklisted', updated_at, ...),
// unique on LOWER(email); its own blocklist action sets the status and
// unsubscribes the subscriber from every list (subscriber_lists.status =
// 'unsubscribed'); campaigns never select a blocklisted subscriber. This
// does the same, in one statement per batch: only subscribers not yet
// blocklisted are written, so a second run writes nothing.
//
//   blocklist()  the blocking job, on rampd's thread pool.
//   Blocklister  what waits per stream: entries learned go in; each round
//                sends them in batches; a failure keeps them, and the next
//                try waits 30 s, doubling up to 15 min (at most kMaxPending
//                wait per stream; more are dropped and counted).
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/metrics.hpp"
#include "rules/suppression.hpp"

namespace sg::listmonk {

inline constexpr std::size_t kBlocklistBatch = 1000;

struct BlocklistResult {
  bool ok = false;
  std::string error;     // names the database (dsn without its password)
  int64_t changed = 0;   // subscribers blocklisted now (already blocklisted ones are not counted)
  std::size_t sent = 0;  // of the addresses and domains given, those whose batch committed
};

// Blocklists every subscriber whose address is in `addresses` or whose
// domain is in `domains` (lower case), in batches of kBlocklistBatch, each
// batch its own transaction with its own deadline of cfg.timeout_ms.
BlocklistResult blocklist(const ListmonkConfig& cfg, const std::vector<std::string>& addresses,
                          const std::vector<std::string>& domains);

// Postgres's text form of a text[] ('{"a@b.example","c@d.example"}').
std::string text_array(const std::vector<std::string>& values);

// Of the first `taken` entries of `pending`, sent as their addresses (in
// order) then their domains, removes the first `sent` of those; the rest
// stay in order. Returns how many were removed.
std::size_t drop_sent(std::deque<suppression::Entry>& pending, std::size_t taken, std::size_t sent);

class Blocklister {
 public:
  static constexpr std::size_t kMaxPending = 100000;
  static constexpr int64_t kMaxBackoffMs = 15 * 60 * 1000;

  // Entries just learned, for every enforcing stream whose Listmonk wants them.
  void add(const std::vector<suppression::Entry>& learned, const Config& cfg);
  // Sends what waits, stream by stream (offloaded to `pool`), unless a
  // stream's last failure asks to wait longer than now_ms.
  boost::asio::awaitable<void> run(std::shared_ptr<const Config> cfg, int64_t now_ms,
                                   boost::asio::thread_pool& pool, boost::asio::io_context& io);

  void metrics(metrics::Registry& r) const;
  nlohmann::json status(const std::string& stream) const;  // null when none

 private:
  struct Stream {
    std::deque<suppression::Entry> pending;
    uint64_t blocklisted = 0;  // subscribers written
    uint64_t sent = 0;         // entries sent
    uint64_t dropped = 0;
    uint64_t failures = 0;
    std::string error;  // of the last attempt, "" when it went through
    int64_t backoff_ms = 0;
    int64_t next_try_ms = 0;  // after a failure, no try before
  };
  std::map<std::string, Stream> streams_;
};

}  // namespace sg::listmonk
