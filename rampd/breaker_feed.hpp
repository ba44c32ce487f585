// The breakers' side of rampd (issue 5 item 4): Postfix log lines in,
// breaker fields in each stream's caps hash out, for policyd to honour
// (contract in store/lua/limiter.lua):
//   open defer/hold: "breaker:op:NAME" = "defer|hold UNTIL_MS 0 REASON"
//   recovering:      "breaker:op:NAME" = "recover UNTIL_MS FRACTION REASON"
// with FRACTION rewritten at every publish as recovery goes on. freeze_ramp
// breakers are rampd's own (the ramp publisher asks ramp_frozen()) and are
// not written. A breaker on results of no known operator cannot be enforced
// by policyd per operator; it is logged and shown on /status only.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <array>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "formats/tzif.hpp"
#include "rules/breaker.hpp"
#include "store/lua_script.hpp"
#include "store/redis_client.hpp"

namespace sg::rampd {

struct FeedCounts {
  uint64_t lines = 0;       // lines read
  uint64_t deliveries = 0;  // delivery results among them
  uint64_t of_streams = 0;  // results of a stream's transport
  uint64_t trips = 0;       // breakers tripped open
  // Results of a stream's transport by (stream, operator, status, dsn):
  // operator "other" when neither the relay host nor the domain tells it.
  std::map<std::array<std::string, 4>, uint64_t> results;
  // The same by (stream, transport, egress address, status): the path each
  // result left by, as the transport's smtp_bind_address in the config
  // ("default" when it sets none: the system's pick).
  std::map<std::array<std::string, 4>, uint64_t> egress;
};

class BreakerFeed {
 public:
  // Classic syslog stamps are read in `log_zone` (host_log_zone()).
  BreakerFeed(const Config& cfg, tzif::Zone log_zone);

  // A reloaded config with the same rules: the breakers keep their state, but
  // streams' transports and operators' MX suffixes and domains may have changed.
  void remap(const Config& cfg);

  // Parses the lines and records the results; returns the breakers they
  // tripped. The results of streams' transports are appended to `events`
  // when given (the suppression rules see the same results).
  std::vector<breaker::Verdict> feed(const std::vector<std::string>& lines, int64_t now_ms,
                                     std::vector<breaker::Event>* events = nullptr);

  // The caps-hash fields for one stream at `now` (field -> value).
  std::map<std::string, std::string> fields(const std::string& stream, int64_t now_ms) const;

  const breaker::Breaker& engine() const { return breaker_; }
  const FeedCounts& counts() const { return counts_; }

 private:
  breaker::EventMapper mapper_;
  std::map<std::string, std::string> egress_of_;  // transport -> bind address or "default"
  breaker::Breaker breaker_;
  tzif::Zone log_zone_;
  FeedCounts counts_;
};

// Writes fields() of every stream with caps.lua "breakers" (fields whose
// UNTIL_MS has passed are removed); returns "" or the first error.
class BreakerPublisher {
 public:
  BreakerPublisher(RedisClient& redis, std::string key_prefix);
  void load_scripts();
  boost::asio::awaitable<std::string> publish(const Config& cfg, const BreakerFeed& feed,
                                              int64_t now_ms);

 private:
  std::string prefix_;
  LuaScript caps_;
};

// The zone the host's syslog writes its stamps in: /etc/localtime, read once
// per call. Not the config's `timezone`, which is the process's TZ for
// calendar days: on a UTC host with an America/Chicago config, reading the
// stamps in the config's zone would put every line six hours off. UTC, and
// an error logged, when the file cannot be read.
tzif::Zone host_log_zone(const std::string& path = "/etc/localtime");

// When a log line was written: its ISO stamp, or its classic syslog stamp
// read in `log_zone` in the year it is there now; `now_ms` when neither
// reads (or the result is more than a day ahead, a line from last December
// read in January: then a year earlier).
int64_t line_time_ms(const maillog::Delivery& d, int64_t now_ms, const tzif::Zone& log_zone);

}  // namespace sg::rampd
