// What every daemon's /status says about itself besides its own state, in
// the same words for all three (streamguardctl status reads them): its pid,
// when it started, and its reloads (how many worked, how many failed, when
// the last one was and whether it worked). Reloads come from the loop
// thread (SIGHUP) and, in the libmilter engine, from its signal thread: the
// record takes a lock.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace sg::daemon {

class DaemonRecord {
 public:
  DaemonRecord();  // started now

  void reload(bool ok);

  // "\"pid\":N,\"started\":\"2026-12-03T14:00:00Z\",\"reloads\":{\"ok\":N,
  // \"failed\":N,\"last\":\"…\"|null,\"last_ok\":true|false|null}": fields
  // for the daemon's /status object.
  std::string json_fields() const;

 private:
  int64_t started_s_;
  mutable std::mutex mu_;
  uint64_t ok_ = 0, failed_ = 0;
  int64_t last_s_ = 0;  // 0: never reloaded
  bool last_ok_ = true;
};

// Seconds since the epoch as "2026-12-03T14:00:00Z".
std::string iso_utc(int64_t epoch_s);

}  // namespace sg::daemon
