#include "ctl/report_command.hpp"

#include <unistd.h>

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <iostream>

#include "common/civil_time.hpp"
#include "common/clock.hpp"
#include "common/config.hpp"
#include "ctl/daemon_status.hpp"
#include "ctl/report_view.hpp"
#include "rules/limiter_keys.hpp"
#include "store/redis_await.hpp"
#include "store/redis_client.hpp"

namespace sg {

namespace {

namespace net = boost::asio;

// Each stream's count for the calendar day (in the config's zone) from
// Redis, the counter every charge moves: policyd's /status only knows what
// its own last charge found, and held mail rampd released is charged by
// rampd. Empty when Redis does not answer within 2 s (the report then says
// what the daemons last saw).
std::map<std::string, int64_t> read_day_counts(const Config& cfg, int64_t now_ms) {
  std::map<std::string, int64_t> counts;
  if (!set_process_timezone(cfg.timezone)) return counts;
  const std::string day = civil_day(now_ms).key;
  net::io_context io(1);
  RedisClient redis(io, RedisClientOptions{cfg.redis.target, std::chrono::milliseconds(2000)}, {});
  redis.start();
  auto reading = [&]() -> net::awaitable<void> {
    net::steady_timer wait(io);
    for (int i = 0; i < 40 && !redis.connected(); ++i) {
      wait.expires_after(std::chrono::milliseconds(50));
      auto waiting = wait.async_wait(net::use_awaitable);
      co_await std::move(waiting);
    }
    for (const auto& s : cfg.streams) {
      if (!redis.connected()) break;
      auto getting = cmd(redis, "GET", keys::daily_count(cfg.redis.key_prefix, s.name, day));
      const Reply r = co_await std::move(getting);
      if (!r.ok()) break;
      counts[s.name] = r.type == Reply::Type::string ? redis_reply::to_int(r.str).value_or(0) : 0;
    }
    io.stop();
  };
  net::co_spawn(io, reading(), net::detached);
  io.run();
  if (counts.size() != cfg.streams.size()) counts.clear();  // all or none: one source
  return counts;
}

}  // namespace

int run_report(const std::vector<std::string>& args) {
  int exit_code = 0;
  auto a = config_and_json("report", args, exit_code);
  if (!a) return exit_code;
  const Config& cfg = *a->config;
  ReportInput in;
  in.config_path = cfg.path;
  in.now_ms = SystemClock().now_ms();
  for (const auto& s : cfg.streams)
    in.configured[s.name] = {s.ramp.has_value(), s.hourly_cap, s.daily_cap};
  bool all_up = true;
  for (const auto& d : daemon_endpoints(cfg)) {
    ReportDaemon r{d.name, d.status.has_value(), false, ""};
    if (d.status) {
      auto j = fetch_status(*d.status, r.error);
      r.up = j.has_value();
      if (j && d.name == "streamguard-rampd") in.rampd = std::move(*j);
      if (j && d.name == "streamguard-policyd") in.policyd = std::move(*j);
    }
    all_up = all_up && (!r.asked || r.up);
    in.daemons.push_back(std::move(r));
  }
  in.day_counts = read_day_counts(cfg, in.now_ms);
  if (a->json) {
    std::cout << report_json(in).dump(2) << "\n";
  } else {
    const bool colour = ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
    std::cout << render_report(in, colour);
  }
  return all_up ? 0 : 1;
}

}  // namespace sg
