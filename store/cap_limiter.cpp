#include "store/cap_limiter.hpp"

#include <hiredis/hiredis.h>

#include "rules/limiter_keys.hpp"
#include "store/lua_scripts.hpp"
#include "store/redis_await.hpp"

namespace sg {

const std::string& CapLimiter::script() {
  static const std::string s(kLimiterLua);
  return s;
}

CapLimiter::CapLimiter(RedisClient& redis, std::string key_prefix)
    : redis_(redis),
      prefix_(std::move(key_prefix)),
      limiter_(redis, kLimiterLua),
      reservations_(redis, kReservationsLua) {}

void CapLimiter::load_scripts() {
  limiter_.load();
  reservations_.load();
}

boost::asio::awaitable<Stored<LimiterResult>> CapLimiter::charge(const std::string& stream,
                                                                 const LimiterPlan& plan,
                                                                 int64_t now_ms,
                                                                 const CivilDay& day,
                                                                 const Reservation& reservation) {
  const std::size_t n = plan.limiters.size();
  const bool reserving = reservation.reserve_ms > 0 && !reservation.instance.empty();
  std::vector<std::string> keys;
  keys.reserve(1 + n + 2);
  keys.push_back(keys::caps(prefix_, stream));
  for (const auto& l : plan.limiters)
    keys.push_back(l.window == "hourly" ? keys::hourly_rate(prefix_, stream, l.op)
                                        : keys::daily_count(prefix_, stream, day.key, l.op));
  if (reserving) {
    keys.push_back(keys::reservations(prefix_, stream));
    keys.push_back(keys::reservation(prefix_, stream, reservation.instance));
  }
  if (!plan.suppress_fields.empty()) keys.push_back(keys::suppressed(prefix_, stream));
  std::vector<std::string> args;
  args.reserve(5 + 5 * n);
  args.push_back(std::to_string(now_ms));
  args.push_back(std::to_string(n));
  args.push_back(reserving ? std::to_string(reservation.reserve_ms) : "0");
  args.push_back(reserving ? reservation.instance : "");
  args.push_back(plan.op);
  const std::string reset_ms = std::to_string(std::max<int64_t>(1, day.next_midnight_ms - now_ms));
  for (const auto& l : plan.limiters) {
    args.push_back(l.window == "hourly" ? "r" : "c");
    args.push_back(l.cap_field);
    args.push_back(std::to_string(l.fallback));
    args.push_back(std::to_string(l.burst));
    args.push_back(reset_ms);
  }
  args.push_back(std::to_string(plan.suppress_fields.size()));
  for (const auto& f : plan.suppress_fields) args.push_back(f);
  args.push_back(plan.require_kept ? "1" : "0");
  args.push_back(plan.dry_run ? "1" : "0");
  // Not a coroutine: everything the call needs is built above and owned by
  // the awaitable, so the caller's arguments need not outlive it.
  using Result = Stored<LimiterResult>;
  return await_callback<Result>([this, n, keys = std::move(keys),
                                 args = std::move(args)](std::function<void(Result)> done) mutable {
    limiter_.call(std::move(keys), std::move(args),
                  [n, done = std::move(done)](const redisReply* r, std::string_view err) {
                    Result out;
                    if (!err.empty())
                      out.error = err;
                    else
                      out.value = parse(r, n, out.error);
                    done(std::move(out));
                  });
  });
}

namespace {

// The integer a reservations call answers, or why there is none.
Stored<int64_t> integer_reply(const redisReply* r, std::string_view err, std::string_view what) {
  Stored<int64_t> out;
  if (!err.empty())
    out.error = err;
  else if (r->type == REDIS_REPLY_INTEGER)
    out.value = r->integer;
  else if (r->type == REDIS_REPLY_ERROR)
    out.error.assign(r->str, r->len);
  else
    out.error = "redis: " + std::string(what) + " reply is not a number";
  return out;
}

}  // namespace

std::vector<std::string> CapLimiter::instance_keys(const std::string& stream,
                                                   const std::string& instance) {
  return {keys::reservations(prefix_, stream), keys::reservation(prefix_, stream, instance),
          keys::releasing(prefix_, stream)};
}

boost::asio::awaitable<Stored<int64_t>> CapLimiter::reservations_count(
    std::vector<std::string> keys, std::vector<std::string> args) {
  using Result = Stored<int64_t>;
  return await_callback<Result>([this, keys = std::move(keys),
                                 args = std::move(args)](std::function<void(Result)> done) mutable {
    std::string what = args.front();  // "commit", "cancel", "release" or "refund"
    reservations_.call(
        std::move(keys), std::move(args),
        [what = std::move(what), done = std::move(done)](
            const redisReply* r, std::string_view err) { done(integer_reply(r, err, what)); });
  });
}

boost::asio::awaitable<Stored<int64_t>> CapLimiter::commit(const std::string& stream,
                                                           const std::string& instance,
                                                           const std::string& queue_id) {
  auto keys = instance_keys(stream, instance);
  std::vector<std::string> args{"commit", instance};
  if (!queue_id.empty()) {
    keys.push_back(keys::accepted(prefix_, stream, queue_id));
    args.push_back(std::to_string(kAcceptedKeepMs));
  }
  return reservations_count(std::move(keys), std::move(args));
}

boost::asio::awaitable<Stored<int64_t>> CapLimiter::refund(const std::string& stream,
                                                           const std::string& queue_id,
                                                           int64_t now_ms) {
  return reservations_count({keys::accepted(prefix_, stream, queue_id)},
                            {"refund", std::to_string(now_ms)});
}

boost::asio::awaitable<Stored<int64_t>> CapLimiter::cancel(const std::string& stream,
                                                           const std::string& instance,
                                                           int64_t now_ms) {
  return reservations_count(instance_keys(stream, instance),
                            {"cancel", std::to_string(now_ms), instance});
}

boost::asio::awaitable<Stored<int64_t>> CapLimiter::mark_releasing(const std::string& stream,
                                                                   const std::string& instance,
                                                                   int64_t now_ms,
                                                                   int64_t until_ms) {
  return reservations_count(instance_keys(stream, instance), {"release", std::to_string(now_ms),
                                                              instance, std::to_string(until_ms)});
}

boost::asio::awaitable<Stored<std::vector<std::string>>> CapLimiter::releasing(
    const std::string& stream) {
  auto listing = cmd(redis_, "ZRANGE", keys::releasing(prefix_, stream), "0", "-1");
  Reply r = co_await std::move(listing);
  Stored<std::vector<std::string>> out;
  if (!r.ok() || (r.type != Reply::Type::array && r.type != Reply::Type::nil)) {
    out.error = r.ok() ? "redis: ZRANGE reply is not a list" : r.error();
    co_return out;
  }
  out.value.emplace();
  for (const auto& e : r.elements) out.value->push_back(e.str);
  co_return out;
}

boost::asio::awaitable<Stored<SweepResult>> CapLimiter::sweep(const std::string& stream,
                                                              int64_t now_ms, int64_t limit) {
  std::vector<std::string> keys{keys::reservations(prefix_, stream),
                                keys::releasing(prefix_, stream)};
  std::vector<std::string> args{"sweep", std::to_string(now_ms),
                                keys::reservation(prefix_, stream, ""), std::to_string(limit)};
  using Result = Stored<SweepResult>;
  return await_callback<Result>([this, keys = std::move(keys),
                                 args = std::move(args)](std::function<void(Result)> done) mutable {
    reservations_.call(std::move(keys), std::move(args),
                       [done = std::move(done)](const redisReply* r, std::string_view err) {
                         Result out;
                         if (!err.empty()) {
                           out.error = err;
                         } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
                                    r->element[0]->type != REDIS_REPLY_INTEGER ||
                                    r->element[1]->type != REDIS_REPLY_INTEGER ||
                                    r->element[2]->type != REDIS_REPLY_INTEGER) {
                           out.error =
                               r->type == REDIS_REPLY_ERROR
                                   ? std::string(r->str, r->len)
                                   : std::string("redis: sweep reply has an unexpected shape");
                         } else {
                           out.value = SweepResult{r->element[0]->integer, r->element[1]->integer,
                                                   r->element[2]->integer};
                         }
                         done(std::move(out));
                       });
  });
}

std::optional<LimiterResult> CapLimiter::parse(const redisReply* r, std::size_t limiters,
                                               std::string& error) {
  if (r->type == REDIS_REPLY_ERROR) {
    error = "redis: " + std::string(r->str, r->len);
    return std::nullopt;
  }
  // allowed, denied, 4 per limiter, then breaker code, until, reason, then
  // the suppressed field and its record.
  const std::size_t integers = 2 + 4 * limiters + 2;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != integers + 3) {
    error = "redis: limiter reply has an unexpected shape";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < integers; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) {
      error = "redis: limiter reply holds a non-integer";
      return std::nullopt;
    }
  }
  const redisReply* why = r->element[integers];
  const redisReply* field = r->element[integers + 1];
  const redisReply* record = r->element[integers + 2];
  if (why->type != REDIS_REPLY_STRING || field->type != REDIS_REPLY_STRING ||
      record->type != REDIS_REPLY_STRING) {
    error = "redis: limiter reply has no breaker reason or suppression";
    return std::nullopt;
  }
  LimiterResult out;
  out.suppressed_field.assign(field->str, field->len);
  out.suppressed_record.assign(record->str, record->len);
  const long long breaker = r->element[integers - 2]->integer;
  out.breaker = breaker == 1 ? Action::defer : breaker == 2 ? Action::hold : Action::dunno;
  out.recovering = breaker == 3 || breaker == 5;
  out.recovering_op_only = breaker == 5;
  out.not_kept = breaker == 4;
  out.breaker_until_ms = r->element[integers - 1]->integer;
  out.breaker_reason.assign(why->str, why->len);
  out.allowed = r->element[0]->integer == 1;
  out.denied = static_cast<int>(r->element[1]->integer) - 1;
  if (!out.allowed && out.breaker == Action::dunno && out.suppressed_field.empty() &&
      !out.not_kept && (out.denied < 0 || static_cast<std::size_t>(out.denied) >= limiters)) {
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
