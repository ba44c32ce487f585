// Delivery results by stream and receiving mailbox provider, over the last
// hour and over the calendar day (the config's zone, as the daily caps):
// the sender's daily check ("how much of today's mail to Microsoft was
// delivered, and why was the rest not?") on rampd's /status and in
// `streamguardctl report`.
//
// Kept in memory, fed from the results rampd reads in the Postfix log: a
// restarted rampd counts the day from what it reads after the restart (the
// Prometheus counters, streamguard_rampd_deliveries_total, are the record
// that survives). Results are placed by their log time, not by when they
// were read.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>

#include "rules/breaker.hpp"

namespace sg::rampd {

struct DeliveryCounts {
  uint64_t sent = 0, deferred = 0, bounced = 0, expired = 0;
  uint64_t total() const { return sent + deferred + bounced + expired; }
  void add(maillog::Status s);
  void add(const DeliveryCounts& o);
};

class DeliveryTally {
 public:
  using Key = std::pair<std::string, std::string>;     // stream, operator ("other" when unknown)
  using Reason = std::pair<std::string, std::string>;  // status, enhanced code ("none" if none)

  void record(const breaker::Event& e);

  // By (stream, operator), in the 60 minutes before now_ms.
  std::map<Key, DeliveryCounts> last_hour(int64_t now_ms) const;
  // By (stream, operator), on the calendar day of now_ms; empty once the
  // day has turned and nothing of the new day was read yet.
  std::map<Key, DeliveryCounts> today(int64_t now_ms) const;
  // Today's results that were not "sent", by stream then (status, code).
  std::map<std::string, std::map<Reason, uint64_t>> reasons_today(int64_t now_ms) const;

  // The JSON of /status's "delivery": per stream, per operator, last_hour
  // and today with their ratio (sent / all results; null with none), and
  // the stream's top deferral and bounce codes today.
  nlohmann::json status(int64_t now_ms) const;

 private:
  // Per-minute buckets of the last hour: bounded by 60 x streams x operators
  // whatever the volume.
  std::map<int64_t, std::map<Key, DeliveryCounts>> minutes_;
  std::string day_;  // "YYYYMMDD" of today_ (civil_day)
  std::map<Key, DeliveryCounts> today_;
  std::map<std::string, std::map<Reason, uint64_t>> reasons_;
};

}  // namespace sg::rampd
