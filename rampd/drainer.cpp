#include "rampd/drainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/civil_time.hpp"
#include "common/command.hpp"
#include "formats/held_queue.hpp"
#include "rampd/offload.hpp"
#include "rules/decision.hpp"

namespace sg::rampd {
namespace {

constexpr uint32_t kCommandTimeoutMs = 30'000;
constexpr int64_t kRememberReleasedMs = 86'400'000;

std::string instance_of(const std::string& queue_id) {
  return "rampd-" + queue_id;
}

}  // namespace

Drainer::Drainer(boost::asio::io_context& io, boost::asio::thread_pool& pool, CapStore& store)
    : io_(io), pool_(pool), store_(store) {}

std::vector<std::string> Drainer::postfix_command(const Config& cfg, const char* program,
                                                  std::initializer_list<std::string> args) const {
  return command::postfix_argv(cfg.rampd.postfix_command_dir, program, cfg.rampd.postfix_config_dir,
                               args);
}

boost::asio::awaitable<command::Result> Drainer::run_off_loop(std::vector<std::string> argv) {
  return offload<command::Result>(
      pool_, io_, [argv = std::move(argv)] { return command::run(argv, kCommandTimeoutMs); });
}

boost::asio::awaitable<Drainer::Charge> Drainer::charge(const StreamConfig& s,
                                                        const std::string& id, Known& k,
                                                        int64_t now_ms) {
  const CivilDay day = civil_day(now_ms);
  const Reservation resv{kReserveMs, instance_of(id)};
  while (k.charged < k.recipients.size()) {
    // As policyd classifies it (an address without a usable domain: no operator).
    const auto domain = recipient_domain(k.recipients[k.charged]);
    const std::string op = domain ? operators_.classify(*domain).op : std::string();
    LimiterPlan plan = plan_limits(s, op);
    auto charging = store_.charge(s.name, plan, now_ms, day, resv);
    Stored<LimiterResult> r = co_await std::move(charging);
    if (!r.value) {
      status_.problem = "charging held mail of stream " + s.name + ": " + r.error;
      co_return Charge::error;
    }
    const LimiterResult& res = *r.value;
    if (res.allowed) {
      ++k.charged;
      k.last_charge_ms = now_ms;
      continue;
    }
    // An operator's cap or breaker: skip this message, not the stream.
    const bool op_level = res.breaker != Action::dunno
                              ? !op.empty()
                              : !plan.limiters.at(static_cast<std::size_t>(res.denied)).op.empty();
    co_return op_level ? Charge::skip : Charge::stream_blocked;
  }
  co_return Charge::all;
}

boost::asio::awaitable<void> Drainer::give_back(const std::string& stream, const std::string& id,
                                                Known& k, int64_t now_ms) {
  if (k.charged == 0) co_return;
  auto cancelling = store_.cancel(stream, instance_of(id), now_ms);
  Stored<int64_t> r = co_await std::move(cancelling);
  if (!r.value)
    spdlog::warn(
        "held {}: giving back {} charges failed ({}); they return when the "
        "reservation expires",
        id, k.charged, r.error);
  k.charged = 0;
}

boost::asio::awaitable<bool> Drainer::release(const Config& cfg, const StreamConfig& s,
                                              const std::string& id, Known& k, int64_t now_ms) {
  const auto argv = postfix_command(cfg, "postsuper", {"-H", id});
  auto postsuper = run_off_loop(argv);
  auto res = co_await std::move(postsuper);
  // postsuper reports "Released from hold: 1 message" on stderr.
  const bool released =
      res.ok() && res.err.find("Released from hold: 1 message") != std::string::npos;
  if (!released) {
    ++status_.release_failures_total;
    spdlog::error("held {} (stream {}): not released: {}", id, s.name,
                  res.ok() ? "postsuper released nothing (already released or deleted?)"
                           : command::describe(res, argv));
    auto giving_back = give_back(s.name, id, k, now_ms);
    co_await std::move(giving_back);
    co_return false;
  }
  auto committing = store_.commit(s.name, instance_of(id));
  Stored<int64_t> c = co_await std::move(committing);
  if (!c.value)
    spdlog::warn(
        "held {}: released, but committing its charges failed ({}): they return to the "
        "budget when the reservation expires",
        id, c.error);
  const auto flush = postfix_command(cfg, "postqueue", {"-i", id});
  auto flushing = run_off_loop(flush);
  auto f = co_await std::move(flushing);
  if (!f.ok())
    spdlog::warn(
        "held {}: released to the deferred queue; asking for delivery now failed ({}): "
        "it goes at the next queue run",
        id, command::describe(f, flush));
  auto& st = status_.streams[s.name];
  ++st.released_total;
  st.recipients_released_total += k.recipients.size();
  spdlog::info("released held {} (stream {}, {} recipient{}, held {}s)", id, s.name,
               k.recipients.size(), k.recipients.size() == 1 ? "" : "s",
               std::max<int64_t>(0, now_ms / 1000 - k.arrival_s));
  released_[id] = now_ms;
  co_return true;
}

boost::asio::awaitable<void> Drainer::run_once(std::shared_ptr<const Config> cfg_ptr,
                                               int64_t now_ms) {
  const Config& cfg = *cfg_ptr;
  if (operators_for_ != cfg_ptr) {
    operators_ = Classifier({}, cfg.operator_domains());
    operators_for_ = cfg_ptr;
  }
  auto reading = read_hold_queue(cfg);
  if (!co_await std::move(reading)) co_return;
  for (auto it = released_.begin(); it != released_.end();)
    it = now_ms - it->second > kRememberReleasedMs ? released_.erase(it) : std::next(it);
  Queues queues = tally(cfg, now_ms);
  if (!cfg.rampd.drain) co_return;
  for (auto& [name, q] : queues) {
    const StreamConfig* s = cfg.stream_named(name);
    if (!s) continue;
    auto draining = drain_stream(cfg, *s, q, now_ms);
    if (!co_await std::move(draining)) co_return;
  }
}

boost::asio::awaitable<bool> Drainer::read_hold_queue(const Config& cfg) {
  const auto list_argv = postfix_command(cfg, "postqueue", {"-j"});
  auto reading_queue = run_off_loop(list_argv);
  auto listing_cmd = co_await std::move(reading_queue);
  if (!listing_cmd.ok()) {
    status_.problem = "reading the queue: " + command::describe(listing_cmd, list_argv);
    co_return false;
  }
  status_.problem.clear();
  auto listing = held::parse_postqueue(listing_cmd.out);
  for (const auto& e : listing.errors) spdlog::warn("postqueue -j: {}", e);

  std::map<std::string, std::string> stream_of_transport;
  for (const auto& s : cfg.streams) stream_of_transport[s.postfix.transport] = s.name;
  std::set<std::string> listed;
  for (const auto& m : listing.messages) {
    if (m.queue_name != "hold") continue;
    listed.insert(m.queue_id);
    if (known_.count(m.queue_id)) continue;
    auto reading_envelope = read_envelope(cfg, m.queue_id);
    auto env = co_await std::move(reading_envelope);
    if (!env) continue;  // gone meanwhile, or unreadable: looked at again next round
    Known k;
    auto it = stream_of_transport.find(std::string(held::filter_transport(env->content_filter)));
    if (it != stream_of_transport.end()) k.stream = it->second;
    k.recipients = env->recipients;
    k.arrival_s = m.arrival_time;
    known_.emplace(m.queue_id, std::move(k));
  }
  for (auto it = known_.begin(); it != known_.end();)
    it = listed.count(it->first) ? std::next(it) : known_.erase(it);
  co_return true;
}

boost::asio::awaitable<std::optional<held::Envelope>> Drainer::read_envelope(
    const Config& cfg, const std::string& queue_id) {
  auto reading = run_off_loop(postfix_command(cfg, "postcat", {"-e", "-q", queue_id}));
  auto out = co_await std::move(reading);
  if (!out.ok()) co_return std::nullopt;
  std::string err;
  auto env = held::parse_postcat_envelope(out.out, err);
  if (!env) spdlog::warn("held {}: cannot read its envelope: {}", queue_id, err);
  co_return env;
}

Drainer::Queues Drainer::tally(const Config& cfg, int64_t now_ms) {
  Queues queues;
  status_.held_of_no_stream = 0;
  for (auto& [name, st] : status_.streams) st.held = st.held_over_warn = st.oldest_age_s = 0;
  for (auto& [id, k] : known_) {
    if (k.stream.empty()) {
      ++status_.held_of_no_stream;
      continue;
    }
    const int64_t age = std::max<int64_t>(0, now_ms / 1000 - k.arrival_s);
    auto& st = status_.streams[k.stream];
    ++st.held;
    st.oldest_age_s = std::max(st.oldest_age_s, age);
    if (age > cfg.rampd.held_warn_s) {
      ++st.held_over_warn;
      if (!k.warned)
        spdlog::warn(
            "held {} (stream {}) has waited {}h{:02}m{:02}s for its stream's budget; it is "
            "kept, not expired: raise the cap or release it by hand (postsuper -H {})",
            id, k.stream, age / 3600, age / 60 % 60, age % 60, id);
      k.warned = true;
    }
    queues[k.stream].emplace_back(k.arrival_s, id);
  }
  // Oldest first within each stream.
  for (auto& [name, q] : queues) std::sort(q.begin(), q.end());
  return queues;
}

boost::asio::awaitable<bool> Drainer::drain_stream(
    const Config& cfg, const StreamConfig& s,
    const std::vector<std::pair<int64_t, std::string>>& queue, int64_t now_ms) {
  for (const auto& [arrival, id] : queue) {
    if (released_.count(id)) continue;
    Known& k = known_.at(id);
    if (k.charged > 0 && now_ms - k.last_charge_ms > kReserveMs / 2) {
      // Its reservation is near expiry: start over.
      auto giving_back = give_back(s.name, id, k, now_ms);
      co_await std::move(giving_back);
    }
    auto charging = charge(s, id, k, now_ms);
    const Charge c = co_await std::move(charging);
    if (c == Charge::error) co_return false;
    if (c == Charge::stream_blocked) break;
    if (c == Charge::skip) {
      auto giving_back = give_back(s.name, id, k, now_ms);
      co_await std::move(giving_back);
      continue;
    }
    auto releasing = release(cfg, s, id, k, now_ms);
    co_await std::move(releasing);
  }
  co_return true;
}

}  // namespace sg::rampd
