// A Redis that comes back empty (a restart without persistence, FLUSHALL, a
// fresh replica promoted) has lost the day's counters, the send history and
// the ramp state: policyd would hand every stream a second daily cap, and a
// send-days ramp would start over at day 0. rampd keeps a copy of them in
// its own state file ([rampd] state_file) and marks each stream's caps hash
// as kept (field "rampd:kept"); policyd, with [redis] expect_rampd, charges
// only where the mark is (store/lua/limiter.lua), answering on_error until
// then.
//
// Each ramp round, per stream:
//   restore()   no mark: put back what the state file holds (today's counts
//               when they are of today, the send history, the ramp state),
//               each only where Redis has less; nothing when it holds
//               nothing (a first start);
//   (the ramp is published)
//   keep()      read today's counts, the history and the ramp state into
//               the copy, then set the mark;
// and after the round, save() writes the state file (temporary file, synced,
// then renamed). What was counted after the last save and before the loss
// is lost with Redis: the overshoot is at most one round's (interval_s)
// mail while rampd runs, more when it was down. The file is this host's: a
// rampd on another host (a standby that takes the lease) has its own.
//
// A state file that exists but cannot be read is never overwritten, and no
// unmarked stream is marked while it is so: policyd keeps answering
// on_error until the operator repairs or removes it and restarts rampd.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <string>

#include "common/config.hpp"
#include "store/redis_client.hpp"

namespace sg::rampd {

// The caps hash field rampd sets (limiter.lua checks it by this name).
inline constexpr const char* kKeptField = "rampd:kept";

// What the state file holds of one stream.
struct StreamCopy {
  std::string day;                                // civil day of `counts` ("YYYYMMDD")
  std::map<std::string, int64_t> counts;          // "" (the stream) or operator -> count
  std::map<std::string, int64_t> sent_days;       // the send history
  std::map<std::string, std::string> ramp_state;  // the ramp state hash
};

struct Restored {
  bool unmarked = false;  // the caps hash had no mark
  bool restored = false;  // ... and the state file's copy was put back
  int64_t counts = 0;     // counters written
  int64_t days = 0;       // send-history days written
  std::string error;      // a Redis problem ("" when none)
};

class StoreKeeper {
 public:
  StoreKeeper(RedisClient& redis, std::string key_prefix);

  // Reads the state file; a missing one is a first start. An unreadable one
  // is an error (logged by the caller): restore() then refuses to mark.
  std::string load(const std::string& path);
  std::string save(const std::string& path) const;

  boost::asio::awaitable<Restored> restore(const StreamConfig& s,
                                           const std::vector<std::string>& operators,
                                           int64_t now_ms);
  // "" when the copy was taken and the mark set (or refreshed). `may_mark`:
  // this round found the stream unmarked and put it back (restore()); else
  // a Redis that lost its mark since is neither marked nor copied, and the
  // next round restores it.
  boost::asio::awaitable<std::string> keep(const StreamConfig& s,
                                           const std::vector<std::string>& operators,
                                           int64_t now_ms, bool may_mark);

  const std::map<std::string, StreamCopy>& copies() const { return copies_; }

 private:
  RedisClient& redis_;
  std::string prefix_;
  std::map<std::string, StreamCopy> copies_;
  std::string unreadable_;  // why the state file could not be read ("" when it could)
};

}  // namespace sg::rampd
