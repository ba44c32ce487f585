#include "rampd/store_keeper.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/civil_time.hpp"
#include "rules/limiter_keys.hpp"
#include "store/redis_await.hpp"

namespace sg::rampd {

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int kFileVersion = 1;

// KEYS[1] the caps hash; ARGV: the mark's field, its value, "1" to set it
// even when absent. -1 when absent and not to be set.
constexpr const char* kMarkScript =
    "if ARGV[3] == '1' or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then "
    "return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return -1";

// Today's counters of the stream: the stream's own ("") and each operator's.
std::map<std::string, std::string> counter_keys(const std::string& prefix, const StreamConfig& s,
                                                const std::vector<std::string>& operators,
                                                const std::string& day) {
  std::map<std::string, std::string> out{{"", keys::daily_count(prefix, s.name, day)}};
  for (const auto& op : operators) out[op] = keys::daily_count(prefix, s.name, day, op);
  return out;
}

}  // namespace

StoreKeeper::StoreKeeper(RedisClient& redis, std::string key_prefix)
    : redis_(redis), prefix_(std::move(key_prefix)) {}

std::string StoreKeeper::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (std::filesystem::exists(path)) unreadable_ = path + ": cannot be read";
    return unreadable_;
  }
  try {
    const auto j = nlohmann::json::parse(in);
    if (j.value("version", 0) != kFileVersion)
      throw std::runtime_error("not a state file of this rampd (version)");
    std::map<std::string, StreamCopy> copies;
    for (const auto& [name, c] : j.at("streams").items()) {
      StreamCopy& copy = copies[name];
      copy.day = c.at("day").get<std::string>();
      copy.counts = c.at("counts").get<std::map<std::string, int64_t>>();
      copy.sent_days = c.at("sent_days").get<std::map<std::string, int64_t>>();
      copy.ramp_state = c.at("ramp_state").get<std::map<std::string, std::string>>();
    }
    copies_ = std::move(copies);
  } catch (const std::exception& e) {
    unreadable_ = path + ": " + e.what();
  }
  return unreadable_;
}

std::string StoreKeeper::save(const std::string& path) const {
  if (!unreadable_.empty())  // kept as it is, for the operator to look at
    return unreadable_ +
           " (not overwritten: repair or remove it and restart rampd; until then a Redis that "
           "comes back empty stays unmarked)";
  nlohmann::json streams = nlohmann::json::object();
  for (const auto& [name, c] : copies_)
    streams[name] = {{"day", c.day},
                     {"counts", c.counts},
                     {"sent_days", c.sent_days},
                     {"ramp_state", c.ramp_state}};
  const nlohmann::json j{{"version", kFileVersion}, {"streams", streams}};
  // Bytes from Redis that are not UTF-8 are replaced, never an exception.
  const std::string text = j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string tmp = path + ".tmp";
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // Synced before the rename and the folder after it: after a power cut
  // (which also empties a Redis without persistence) the file is the old
  // one or the new one, never a torn one.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written) return "cannot write " + tmp + ": " + std::strerror(err);
  std::filesystem::rename(tmp, path, ec);
  if (ec) return "cannot rename " + tmp + " to " + path + ": " + ec.message();
  if (const int d = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return {};
}

boost::asio::awaitable<Restored> StoreKeeper::restore(const StreamConfig& s,
                                                      const std::vector<std::string>& operators,
                                                      int64_t now_ms) {
  Restored out;
  auto asking = cmd(redis_, "HEXISTS", keys::caps(prefix_, s.name), kKeptField);
  Reply kept = co_await std::move(asking);
  if (!kept.ok()) {
    out.error = "asking for the mark: " + kept.error();
    co_return out;
  }
  out.unmarked = kept.integer == 0;
  if (out.unmarked && !unreadable_.empty()) {
    out.error = "Redis has no mark for the stream and the state file cannot be read (" +
                unreadable_ +
                "): left unmarked, so policyd keeps answering on_error. Repair or remove the "
                "file and restart rampd (removed, the day's counts start from what Redis has)";
    co_return out;
  }
  const auto it = copies_.find(s.name);
  if (!out.unmarked || it == copies_.end()) co_return out;
  const StreamCopy& copy = it->second;

  // Counters of today only: yesterday's copy would charge a day that ended.
  const CivilDay today = civil_day(now_ms);
  if (copy.day == today.key) {
    const std::string ttl = std::to_string(today.next_midnight_ms - now_ms + kDayMs);
    for (const auto& [op, key] : counter_keys(prefix_, s, operators, today.key)) {
      const auto n = copy.counts.find(op);
      if (n == copy.counts.end()) continue;
      auto reading = cmd(redis_, "GET", key);
      Reply now = co_await std::move(reading);
      if (!now.ok()) {
        out.error = "reading " + key + ": " + now.error();
        co_return out;
      }
      if (redis_reply::to_int(now.str).value_or(0) >= n->second) continue;
      auto writing = cmd(redis_, "SET", key, std::to_string(n->second), "PX", ttl);
      Reply w = co_await std::move(writing);
      if (!w.ok()) {
        out.error = "writing " + key + ": " + w.error();
        co_return out;
      }
      ++out.counts;
    }
  }

  const std::string history = keys::sent_days(prefix_, s.name);
  auto reading_history = cmd(redis_, "HGETALL", history);
  Reply h = co_await std::move(reading_history);
  if (!h.ok()) {
    out.error = "reading the send history: " + h.error();
    co_return out;
  }
  std::map<std::string, int64_t> there;
  for (const auto& [day, n] : redis_reply::pairs(h))
    there[day] = redis_reply::to_int(n).value_or(0);
  for (const auto& [day, n] : copy.sent_days) {
    if (there[day] >= n) continue;
    auto writing = cmd(redis_, "HSET", history, day, std::to_string(n));
    Reply w = co_await std::move(writing);
    if (!w.ok()) {
      out.error = "writing the send history: " + w.error();
      co_return out;
    }
    ++out.days;
  }

  // The ramp state only where there is none: rampd's own, written each round.
  for (const auto& [field, value] : copy.ramp_state) {
    auto writing = cmd(redis_, "HSETNX", keys::ramp_state(prefix_, s.name), field, value);
    Reply w = co_await std::move(writing);
    if (!w.ok()) {
      out.error = "writing the ramp state: " + w.error();
      co_return out;
    }
  }
  out.restored = true;
  co_return out;
}

boost::asio::awaitable<std::string> StoreKeeper::keep(const StreamConfig& s,
                                                      const std::vector<std::string>& operators,
                                                      int64_t now_ms, bool may_mark) {
  StreamCopy copy;
  copy.day = civil_day(now_ms).key;
  for (const auto& [op, key] : counter_keys(prefix_, s, operators, copy.day)) {
    auto reading = cmd(redis_, "GET", key);
    Reply r = co_await std::move(reading);
    if (!r.ok()) co_return "reading " + key + ": " + r.error();
    if (auto n = redis_reply::to_int(r.str); r.type == Reply::Type::string && n)
      copy.counts[op] = *n;
  }
  auto reading_history = cmd(redis_, "HGETALL", keys::sent_days(prefix_, s.name));
  Reply h = co_await std::move(reading_history);
  if (!h.ok()) co_return "reading the send history: " + h.error();
  for (const auto& [day, n] : redis_reply::pairs(h))
    if (auto v = redis_reply::to_int(n)) copy.sent_days[day] = *v;
  auto reading_state = cmd(redis_, "HGETALL", keys::ramp_state(prefix_, s.name));
  Reply st = co_await std::move(reading_state);
  if (!st.ok()) co_return "reading the ramp state: " + st.error();
  for (auto& [field, value] : redis_reply::pairs(st)) copy.ramp_state[field] = value;

  // The mark is set only by the round that found it missing (may_mark);
  // otherwise refreshed only where it still is, in one script call: a Redis
  // emptied during the round is left unmarked, and its copy is not taken.
  auto marking = cmd(redis_, "EVAL", kMarkScript, "1", keys::caps(prefix_, s.name), kKeptField,
                     std::to_string(now_ms), may_mark ? "1" : "0");
  Reply m = co_await std::move(marking);
  if (!m.ok()) co_return "setting the mark: " + m.error();
  if (m.integer < 0) co_return "Redis lost the mark during the round: put back next round";
  copies_[s.name] = std::move(copy);
  co_return std::string();
}

}  // namespace sg::rampd
