#include "rampd/breaker_feed.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "rules/limiter_keys.hpp"
#include "store/lua_scripts.hpp"
#include "store/redis_await.hpp"

namespace sg::rampd {

tzif::Zone host_log_zone(const std::string& path) {
  std::string error;
  std::optional<tzif::Zone> zone;
  if (std::ifstream in(path, std::ios::binary); !in) {
    error = std::string("cannot open it: ") + std::strerror(errno);
  } else {
    std::ostringstream bytes;
    bytes << in.rdbuf();
    zone = tzif::Zone::parse(bytes.str(), error);
  }
  if (!zone) {
    spdlog::error(
        "maillog: the host's time zone {} cannot be read ({}): classic syslog stamps are read "
        "as UTC",
        path, error);
    return {};
  }
  if (zone->rule_beyond_table())
    spdlog::debug("maillog: {} lists transitions to {}; later stamps keep its last offset", path,
                  zone->last_transition());
  return *zone;
}

int64_t line_time_ms(const maillog::Delivery& d, int64_t now_ms, const tzif::Zone& log_zone) {
  constexpr int64_t kDay = 86'400'000;
  if (d.iso_timestamp) {
    auto t = maillog::iso_time_ms(d.timestamp);
    return t ? *t : now_ms;
  }
  // This year on the log's wall clock.
  const int64_t now_s = now_ms / 1000;
  const auto wall_now = static_cast<std::time_t>(now_s + log_zone.offset_at(now_s));
  std::tm wall{};
  ::gmtime_r(&wall_now, &wall);
  const int year = wall.tm_year + 1900;
  auto in_year = [&](int y) -> std::optional<int64_t> {
    auto w = maillog::syslog_time_ms(d.timestamp, y, 0);  // the wall clock, read as UTC
    if (!w) return std::nullopt;
    return log_zone.utc_from_wall(*w / 1000) * 1000;  // stamps are whole seconds
  };
  auto t = in_year(year);
  if (t && *t > now_ms + kDay) t = in_year(year - 1);
  return t ? *t : now_ms;
}

BreakerFeed::BreakerFeed(const Config& cfg, tzif::Zone log_zone)
    : mapper_(cfg), breaker_(cfg.breakers), log_zone_(std::move(log_zone)) {
  remap(cfg);
}

void BreakerFeed::remap(const Config& cfg) {
  mapper_ = breaker::EventMapper(cfg);
  egress_of_.clear();
  for (const auto& s : cfg.streams)
    egress_of_[s.postfix.transport] =
        s.postfix.bind_address.empty() ? "default" : s.postfix.bind_address;
}

std::vector<breaker::Verdict> BreakerFeed::feed(const std::vector<std::string>& lines,
                                                int64_t now_ms,
                                                std::vector<breaker::Event>* events) {
  std::vector<breaker::Verdict> tripped;
  for (const auto& line : lines) {
    ++counts_.lines;
    auto d = maillog::parse_line(line);
    if (!d) continue;
    ++counts_.deliveries;
    auto e = mapper_.event(*d, line_time_ms(*d, now_ms, log_zone_));
    if (!e) continue;
    ++counts_.of_streams;
    ++counts_.results[{e->stream, e->op.empty() ? "other" : e->op, maillog::to_string(e->status),
                       e->dsn.empty() ? "none" : e->dsn}];
    const std::string transport(d->service());  // "postfix/hcout1/smtp" -> "hcout1"
    auto egress = egress_of_.find(transport);
    ++counts_.egress[{e->stream, transport, egress == egress_of_.end() ? "?" : egress->second,
                      maillog::to_string(e->status)}];
    for (auto& v : breaker_.record(*e)) {
      ++counts_.trips;
      tripped.push_back(std::move(v));
    }
    if (events) events->push_back(std::move(*e));
  }
  return tripped;
}

std::map<std::string, std::string> BreakerFeed::fields(const std::string& stream,
                                                       int64_t now_ms) const {
  std::map<std::string, std::string> out;
  for (const auto& t : breaker_.tripped(now_ms)) {
    if (t.stream != stream || t.op.empty()) continue;
    const auto& v = t.verdict;
    if (v.action == BreakerAction::freeze_ramp) continue;
    std::string value;
    if (v.state == breaker::State::open) {
      value = std::string(v.action == BreakerAction::hold ? "hold " : "defer ") +
              std::to_string(v.until_ms) + " 0 " + v.rule + ": " + v.cause;
    } else {
      char frac[32];
      std::snprintf(frac, sizeof frac, "%.3f", v.fraction);
      value = "recover " + std::to_string(v.until_ms) + " " + frac + " " + v.rule + ": " + v.cause;
    }
    out["breaker:op:" + t.op] = std::move(value);
  }
  return out;
}

BreakerPublisher::BreakerPublisher(RedisClient& redis, std::string key_prefix)
    : prefix_(std::move(key_prefix)), caps_(redis, kCapsLua) {}

void BreakerPublisher::load_scripts() {
  caps_.load();
}

boost::asio::awaitable<std::string> BreakerPublisher::publish(const Config& cfg,
                                                              const BreakerFeed& feed,
                                                              int64_t now_ms) {
  std::string first_error;
  for (const auto& s : cfg.streams) {
    auto fields = feed.fields(s.name, now_ms);
    std::vector<std::string> args;
    args.reserve(3 + 2 * fields.size());
    args.push_back("breakers");
    args.push_back(std::to_string(now_ms));
    args.push_back(std::to_string(fields.size()));
    for (auto& [f, v] : fields) {
      args.push_back(f);
      args.push_back(v);
    }
    std::vector<std::string> keys(1, keys::caps(prefix_, s.name));
    auto publishing = call(caps_, std::move(keys), std::move(args));
    Reply r = co_await std::move(publishing);
    if (!r.ok() && first_error.empty())
      first_error = "publishing the breakers of stream " + s.name + ": " + r.error();
  }
  co_return first_error;
}

}  // namespace sg::rampd
