#include "store/lease.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

#include <random>

#include "store/lua_scripts.hpp"
#include "store/redis_await.hpp"

namespace sg {

Lease::Lease(RedisClient& redis, std::string key, std::string holder, Options options)
    : redis_(redis),
      script_(redis, kLeaseLua),
      key_(std::move(key)),
      holder_(std::move(holder)),
      options_(options) {}

void Lease::load_script() {
  script_.load();
}

std::string Lease::holder_id() {
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + suffix;
}

bool Lease::dead_here(const std::string& id) {
  const auto first = id.find(':'), second = id.find(':', first + 1);
  if (first == std::string::npos || second == std::string::npos) return false;
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  if (id.compare(0, first, host) != 0) return false;
  long pid = 0;
  try {
    pid = std::stol(id.substr(first + 1, second - first - 1));
  } catch (...) {
    return false;
  }
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

boost::asio::awaitable<bool> Lease::hold(int64_t now_ms) {
  if (released_) co_return false;
  if (held_ && now_ms - renewed_ms_ < options_.renew_every.count() && now_ms >= renewed_ms_)
    co_return true;
  std::vector<std::string> keys{key_};
  std::vector<std::string> args{"hold", holder_, std::to_string(options_.ttl.count())};
  auto calling = call(script_, keys, args);
  Reply r = co_await std::move(calling);
  if (r.ok() && r.type == Reply::Type::string && !r.str.empty() && dead_here(r.str)) {
    spdlog::warn("lease {}: its holder {} ran on this host and is gone; this rampd takes over",
                 key_, r.str);
    args.push_back(r.str);
    auto taking = call(script_, std::move(keys), std::move(args));
    r = co_await std::move(taking);
  }
  const bool was = held_;
  if (!r.ok() || r.type != Reply::Type::string) {
    // Not known to hold it: skip the round rather than risk two rampds.
    held_ = false;
    const std::string why = r.ok() ? "unexpected reply" : r.error();
    if (why != error_)
      spdlog::warn("lease {}: cannot take or renew it ({}); this rampd waits", key_, why);
    error_ = why;
    co_return false;
  }
  error_.clear();
  held_ = r.str.empty();
  if (held_) {
    renewed_ms_ = now_ms;
    if (!was) spdlog::info("lease {}: held by this rampd ({}); it does the rounds", key_, holder_);
    other_.clear();
  } else if (was || r.str != other_) {
    spdlog::warn(
        "lease {}: another streamguard-rampd holds it ({}); this one waits and does nothing "
        "until that one stops or its lease expires ({} s without a renewal)",
        key_, r.str, options_.ttl.count() / 1000);
    other_ = r.str;
  }
  co_return held_;
}

void Lease::release(std::function<void()> done) {
  released_ = true;
  if (!held_) {
    if (done) done();
    return;
  }
  held_ = false;
  script_.call({key_}, {"release", holder_},
               [done = std::move(done)](const redisReply*, std::string_view) {
                 if (done) done();
               });
}

}  // namespace sg
