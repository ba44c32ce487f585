#include "rampd/ramp_publisher.hpp"

#include <charconv>

#include "rules/limiter_keys.hpp"
#include "store/lua_scripts.hpp"
#include "store/redis_await.hpp"

namespace sg::rampd {
namespace {

using redis_reply::pairs;
using redis_reply::to_int;

std::optional<ramp::RampState> parse_state(const Reply& r) {
  ramp::RampState st;
  int found = 0;
  for (const auto& [k, v] : pairs(r)) {
    auto n = to_int(v);
    if (!n || *n < 0) return std::nullopt;
    if (k == "day") st.day = static_cast<uint32_t>(*n), ++found;
    if (k == "step_index") st.step_index = static_cast<uint32_t>(*n), ++found;
    if (k == "updated_civil_day") st.updated_civil_day = *n, ++found;
    if (k == "stepped_civil_day") st.stepped_civil_day = *n, ++found;
  }
  if (found != 4) return std::nullopt;
  return st;
}

std::string cap_value(const std::optional<uint64_t>& v) {
  return v ? std::to_string(*v) : std::string();
}

// caps.lua "ramp" arguments (not in the coroutine: GCC 12 mishandles braced
// lists of literals there).
std::vector<std::string> ramp_args(const RampConfig& ramp, const ramp::Advanced& adv,
                                   int64_t now_ms) {
  const auto& caps = adv.caps;
  const auto& st = adv.state;
  std::vector<std::string> args{"ramp", std::to_string(now_ms), std::to_string(st.day), adv.reason};
  std::vector<std::pair<std::string, std::string>> fields{
      {keys::cap_field("hourly"), cap_value(caps.hourly)},
      {keys::cap_field("daily"), cap_value(caps.daily)}};
  for (const auto& [op, steps] : ramp.operators) {
    auto it = caps.operator_daily.find(op);
    fields.emplace_back(keys::cap_field("daily", op), it == caps.operator_daily.end()
                                                          ? std::string()
                                                          : std::to_string(it->second));
  }
  args.push_back(std::to_string(fields.size()));
  for (auto& [f, v] : fields) args.insert(args.end(), {f, v});
  args.insert(args.end(),
              {"4", "day", std::to_string(st.day), "step_index", std::to_string(st.step_index),
               "updated_civil_day", std::to_string(st.updated_civil_day), "stepped_civil_day",
               std::to_string(st.stepped_civil_day)});
  return args;
}

}  // namespace

RampPublisher::RampPublisher(RedisClient& redis, std::string key_prefix)
    : redis_(redis), prefix_(std::move(key_prefix)), caps_(redis, kCapsLua) {}

void RampPublisher::load_scripts() {
  caps_.load();
}

boost::asio::awaitable<std::string> RampPublisher::copy_counts(const StreamConfig& s, int64_t today,
                                                               uint64_t& sent_today) {
  // policyd's counter of a day lives until the end of the next day: copying
  // yesterday's and the day before's each minute keeps every day that had
  // a minute of rampd running while its counter lived.
  const std::string history = keys::sent_days(prefix_, s.name);
  for (int64_t d = today; d >= today - 2; --d) {
    const std::string day = ramp::day_key(d);
    auto reading_count = cmd(redis_, "GET", keys::daily_count(prefix_, s.name, day));
    Reply r = co_await std::move(reading_count);
    if (!r.ok()) co_return "reading policyd's count of " + day + ": " + r.error();
    if (r.type != Reply::Type::string) continue;
    auto n = to_int(r.str);
    if (!n || *n < 0) continue;
    if (d == today) {
      sent_today = static_cast<uint64_t>(*n);
      continue;
    }
    auto writing_history = cmd(redis_, "HSET", history, day, r.str);
    Reply w = co_await std::move(writing_history);
    if (!w.ok()) co_return "writing the send history: " + w.error();
  }
  auto history_size = cmd(redis_, "HLEN", history);
  Reply len = co_await std::move(history_size);
  if (len.ok() && len.integer > kSendHistoryDays + 30) {
    auto history_days = cmd(redis_, "HKEYS", history);
    Reply all = co_await std::move(history_days);
    std::vector<std::string> argv{"HDEL", history};
    for (const auto& k : all.elements)
      if (auto d = ramp::day_number(k.str); !d || *d < today - kSendHistoryDays)
        argv.push_back(k.str);
    if (argv.size() > 2) {
      auto trimming = call(redis_, std::move(argv));
      co_await std::move(trimming);
    }
  }
  co_return std::string();
}

boost::asio::awaitable<std::string> RampPublisher::count_days(const StreamConfig& s,
                                                              int64_t stamp_day, int64_t today,
                                                              ramp::Count& count) {
  const RampConfig& ramp = *s.ramp;
  if (ramp.count != RampCount::send_days) {
    count = ramp::calendar_days(stamp_day, today);
    co_return std::string();
  }
  auto reading_history = cmd(redis_, "HGETALL", keys::sent_days(prefix_, s.name));
  Reply h = co_await std::move(reading_history);
  if (!h.ok()) co_return "reading the send history: " + h.error();
  std::vector<ramp::SentDay> history;
  for (auto& [day, sent] : pairs(h))
    if (auto n = to_int(sent); n && *n >= 0) history.push_back({day, static_cast<uint64_t>(*n)});
  std::string err;
  auto c = ramp::send_days(history, stamp_day, today, ramp.send_day_minimum, err);
  if (!c) co_return "send history: " + err;
  count = *c;
  count.day += ramp.send_days_before;  // a warmup carried over from before streamguard
  co_return std::string();
}

// The caps and the ramp state in one script call (store/lua/caps.lua).
boost::asio::awaitable<Reply> RampPublisher::publish_caps(const StreamConfig& s,
                                                          const ramp::Advanced& advanced,
                                                          int64_t now_ms) {
  std::vector<std::string> script_keys{keys::caps(prefix_, s.name),
                                       keys::ramp_state(prefix_, s.name)};
  auto publishing = call(caps_, std::move(script_keys), ramp_args(*s.ramp, advanced, now_ms));
  co_return co_await std::move(publishing);
}

boost::asio::awaitable<RampReport> RampPublisher::publish(const StreamConfig& s, int64_t now_ms,
                                                          bool frozen, std::string frozen_why) {
  RampReport rep;
  rep.stream = s.name;
  rep.frozen = frozen;
  if (!s.ramp) {
    rep.error = "stream has no ramp";
    co_return rep;
  }
  const RampConfig& ramp = *s.ramp;
  std::string err;
  auto stamp = ramp::read_stamp(ramp.stamp, err);
  if (!stamp) {
    rep.error = "warmup stamp " + err + "; caps left as they are";
    co_return rep;
  }
  const int64_t today = ramp::civil_day_number(now_ms);
  const int64_t stamp_day = ramp::civil_day_number(*stamp * 1000);
  auto copying = copy_counts(s, today, rep.sent_today);
  err = co_await std::move(copying);
  if (!err.empty()) {
    rep.error = err;
    co_return rep;
  }

  auto counting = count_days(s, stamp_day, today, rep.count);
  err = co_await std::move(counting);
  if (!err.empty()) {
    rep.error = err;
    co_return rep;
  }

  auto reading_state = cmd(redis_, "HGETALL", keys::ramp_state(prefix_, s.name));
  Reply prev_reply = co_await std::move(reading_state);
  if (!prev_reply.ok()) {
    rep.error = "reading the ramp state: " + prev_reply.error();
    co_return rep;
  }
  const auto previous = parse_state(prev_reply);
  if (frozen && previous) {
    rep.advanced.state = *previous;
    rep.advanced.caps = ramp::caps_on(ramp, previous->day);
    rep.advanced.reason =
        "day " + std::to_string(previous->day) + " kept: the ramp is frozen (" + frozen_why + ")";
  } else {
    rep.advanced = ramp::advance(ramp, previous, rep.count, today);
  }

  auto publishing = publish_caps(s, rep.advanced, now_ms);
  Reply r = co_await std::move(publishing);
  if (!r.ok() || r.type != Reply::Type::array || r.elements.size() != 2) {
    rep.error = "publishing the caps: " + (r.ok() ? std::string("unexpected reply") : r.error());
    co_return rep;
  }
  rep.version = r.elements[0].integer;
  rep.changed = r.elements[1].integer == 1;
  rep.ok = true;
  co_return rep;
}

}  // namespace sg::rampd
