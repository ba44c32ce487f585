#include "policyd/cap_limiter.hpp"

#include <hiredis/hiredis.h>

#include "common/limiter_keys.hpp"
#include "policyd/limiter_lua.hpp"

namespace sg {

const std::string& CapLimiter::script() {
  static const std::string s(kLimiterLua);
  return s;
}

CapLimiter::CapLimiter(RedisClient& redis, std::string key_prefix)
    : redis_(redis), prefix_(std::move(key_prefix)) {}

void CapLimiter::load_script() {
  redis_.command({"SCRIPT", "LOAD", script()}, [this](const redisReply* r, std::string_view) {
    if (r && r->type == REDIS_REPLY_STRING) sha_.assign(r->str, r->len);
  });
}

void CapLimiter::charge(const std::string& stream, const LimiterPlan& plan, int64_t now_ms,
                        const CivilDay& day, Callback cb) {
  const std::size_t n = plan.limiters.size();
  std::vector<std::string> args;
  args.reserve(3 + 1 + n + 2 + 5 * n);
  args.emplace_back();  // EVALSHA or EVAL, chosen in send()
  args.emplace_back();  // the sha or the script
  args.push_back(std::to_string(1 + n));
  args.push_back(keys::caps(prefix_, stream));
  for (const auto& l : plan.limiters)
    args.push_back(l.window == "hourly" ? keys::hourly_rate(prefix_, stream, l.op)
                                        : keys::daily_count(prefix_, stream, day.key, l.op));
  args.push_back(std::to_string(now_ms));
  args.push_back(std::to_string(n));
  const std::string reset_ms = std::to_string(std::max<int64_t>(1, day.next_midnight_ms - now_ms));
  for (const auto& l : plan.limiters) {
    args.push_back(l.window == "hourly" ? "r" : "c");
    args.push_back(l.cap_field);
    args.push_back(std::to_string(l.fallback));
    args.push_back(std::to_string(l.burst));
    args.push_back(reset_ms);
  }
  send(std::move(args), std::move(cb), false);
}

void CapLimiter::send(std::vector<std::string> args, Callback cb, bool retried) {
  bool by_sha = !sha_.empty() && !retried;
  args[0] = by_sha ? "EVALSHA" : "EVAL";
  args[1] = by_sha ? sha_ : script();
  // Kept alive for a NOSCRIPT retry; hiredis copies the command when it is sent.
  auto kept = std::make_shared<std::vector<std::string>>(std::move(args));
  std::vector<std::string_view> argv(kept->begin(), kept->end());
  const std::size_t limiters = static_cast<std::size_t>(std::stoul((*kept)[2])) - 1;
  redis_.command(argv, [this, kept, cb = std::move(cb), by_sha, limiters](
                           const redisReply* r, std::string_view err) mutable {
    if (!err.empty()) return cb(std::nullopt, err);
    if (by_sha && r->type == REDIS_REPLY_ERROR &&
        std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
      // The server lost its script cache: EVAL now (which caches it again).
      return send(std::move(*kept), std::move(cb), true);
    }
    std::string error;
    auto result = parse(r, limiters, error);
    cb(std::move(result), error);
  });
}

std::optional<LimiterResult> CapLimiter::parse(const redisReply* r, std::size_t limiters,
                                               std::string& error) {
  if (r->type == REDIS_REPLY_ERROR) {
    error = "redis: " + std::string(r->str, r->len);
    return std::nullopt;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 + 4 * limiters) {
    error = "redis: limiter reply has an unexpected shape";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < r->elements; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) {
      error = "redis: limiter reply holds a non-integer";
      return std::nullopt;
    }
  }
  LimiterResult out;
  out.allowed = r->element[0]->integer == 1;
  out.denied = static_cast<int>(r->element[1]->integer) - 1;
  if (!out.allowed && (out.denied < 0 || static_cast<std::size_t>(out.denied) >= limiters)) {
    error = "redis: limiter reply names no refusing limiter";
    return std::nullopt;
  }
  out.states.resize(limiters);
  for (std::size_t i = 0; i < limiters; ++i) {
    const redisReply* const* e = r->element + 2 + 4 * i;
    out.states[i].cap = e[0]->integer;
    out.states[i].used = e[1]->integer;
    out.states[i].retry_ms = e[2]->integer;
    out.states[i].refused = e[3]->integer == 1;
  }
  return out;
}

}  // namespace sg
