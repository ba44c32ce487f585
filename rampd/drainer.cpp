#include "rampd/drainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/civil_time.hpp"
#include "common/command.hpp"
#include "formats/held_queue.hpp"
#include "rampd/offload.hpp"
#include "rampd/queue_helper_client.hpp"
#include "rules/decision.hpp"

namespace sg::rampd {
namespace {

constexpr int64_t kRememberReleasedMs = 86'400'000;

// A verdict's reply for a log line: without the action word and the status
// code Postfix would have given the client ("DEFER_IF_PERMIT 4.7.1 streamguard: stream ..."
// -> "streamguard: stream ...").
std::string_view why(std::string_view reply) {
  for (int words = 0; words < 2; ++words) {
    const auto sp = reply.find(' ');
    if (sp == std::string_view::npos) break;
    const auto word = reply.substr(0, sp);
    const bool action = words == 0 && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") ==
                                          std::string_view::npos;
    const bool code = word.size() >= 5 && (word[0] == '4' || word[0] == '5') && word[1] == '.';
    if (!action && !code) break;
    reply.remove_prefix(sp + 1);
  }
  return reply;
}

}  // namespace

Drainer::Drainer(boost::asio::io_context& io, boost::asio::thread_pool& pool, CapStore& store,
                 metrics::Registry& registry)
    : io_(io), pool_(pool), store_(store), registry_(registry) {}

Drainer::~Drainer() = default;

bool Drainer::use_config(const std::shared_ptr<const Config>& cfg) {
  if (runtime_for_ == cfg) return runtime_ != nullptr;
  runtime_for_ = cfg;
  auto built = build_runtime(cfg);
  if (!built.runtime) {
    // The previous runtime is not kept: held mail waits until the lists read.
    runtime_.reset();
    runtime_problem_ =
        "reading the lists of " + cfg->path + ": " + built.errors.front().to_string();
    spdlog::error("held mail is not released until the lists read: {}", runtime_problem_);
    return false;
  }
  runtime_ = built.runtime;
  runtime_problem_.clear();
  // MX lookups only when one can change a stream's answer, as in policyd.
  const bool lookups = std::any_of(cfg->streams.begin(), cfg->streams.end(),
                                   [&](const StreamConfig& s) { return runtime_->needs_mx(s); });
  if (!lookups) {
    mx_.reset();
  } else if (mx_) {
    mx_->reset(cfg->dns);
  } else {
    try {
      mx_ = std::make_unique<MxLookup>(io_, cfg->dns, clock_, registry_);
    } catch (const std::exception& e) {
      // Custom domains then have no operator: as with [dns] on_failure = "dunno"
      // they meet the stream's caps only. Said, not hidden.
      spdlog::error("held mail: MX lookups cannot start ({}): custom domains get no operator",
                    e.what());
    }
  }
  return true;
}

std::vector<std::string> Drainer::postfix_command(const Config& cfg, const char* program,
                                                  std::initializer_list<std::string> args) const {
  return command::postfix_argv(cfg.rampd.postfix_command_dir, program, cfg.rampd.postfix_config_dir,
                               args);
}

std::vector<std::string> Drainer::queue_argv(const Config& cfg, queue_helper::Verb verb,
                                             const std::string& id) const {
  if (cfg.rampd.queue_helper)
    return {"queue-helper:" + cfg.rampd.queue_helper->path, queue_helper::verb_name(verb), id};
  return command::postfix_argv(cfg.rampd.postfix_command_dir, queue_helper::program_of(verb),
                               cfg.rampd.postfix_config_dir,
                               queue_helper::arguments_of({verb, id}));
}

boost::asio::awaitable<command::Result> Drainer::run_queue_command(const Config& cfg,
                                                                   queue_helper::Verb verb,
                                                                   std::string id,
                                                                   std::vector<std::string> argv) {
  if (!cfg.rampd.queue_helper) return run_off_loop(std::move(argv));
  // The helper kills its command at its own deadline; a little more here
  // leaves room for the answer to arrive.
  return offload<command::Result>(
      pool_, io_,
      [helper = *cfg.rampd.queue_helper, req = queue_helper::Request{verb, std::move(id)},
       t = command_timeout_ms_ + 5000] { return ask_queue_helper(helper, req, t); });
}

boost::asio::awaitable<command::Result> Drainer::run_off_loop(std::vector<std::string> argv) {
  return offload<command::Result>(pool_, io_, [argv = std::move(argv), t = command_timeout_ms_] {
    return command::run(argv, t);
  });
}

boost::asio::awaitable<Drainer::Charge> Drainer::charge(const StreamConfig& s,
                                                        const std::string& id, Known& k,
                                                        int64_t now_ms) {
  // Every recipient is checked before any is charged: one refused or waiting
  // recipient decides for the whole message.
  std::vector<RecipientCheck> checks;
  std::vector<std::string> refused;
  for (const auto& rcpt : k.recipients) {
    auto checking = check_recipient(*runtime_, s, rcpt, mx_.get());
    RecipientCheck c = co_await std::move(checking);
    if (c.verdict && c.verdict->action == Action::reject) {
      refused.push_back(rcpt + ": " + std::string(why(c.verdict->reply)));
    } else if (c.verdict && c.verdict->action != Action::dunno) {
      note_wait(id, k, s, *c.verdict);  // the MX lookup failed, on_failure holds or defers
      co_return Charge::skip;
    }
    checks.push_back(std::move(c));
  }
  k.refused = std::move(refused);
  if (!k.refused.empty()) co_return Charge::refused;

  const CivilDay day = civil_day(now_ms);
  const Reservation resv{kReserveMs, instance_of(id)};
  while (k.charged < k.recipients.size()) {
    const RecipientCheck& c = checks[k.charged];
    if (c.verdict) {
      // Shadow mode: excluded, and not charged, as policyd answers it.
      ++k.charged;
      continue;
    }
    auto charging = store_.charge(s.name, c.plan, now_ms, day, resv);
    Stored<LimiterResult> r = co_await std::move(charging);
    if (!r.value) {
      // The script may have run (a deadline that fired after it did).
      k.dirty = true;
      status_.problem = "charging held mail of stream " + s.name + ": " + r.error;
      co_return Charge::error;
    }
    const LimiterResult& res = *r.value;
    if (!res.suppressed_field.empty()) {
      // Suppressed while it waited: never released to it (nothing was charged
      // for it; what the others charged is given back by refuse()).
      const Verdict v = decide_caps(s, c.plan, res, now_ms);
      if (v.action == Action::dunno) {  // shadow: released, as policyd answers it
        ++k.charged;
        continue;
      }
      k.refused = {k.recipients[k.charged] + ": " + std::string(why(v.reply))};
      ++status_.streams[s.name].suppressed_total;
      co_return Charge::refused;
    }
    if (res.allowed) {
      ++k.charged;
      k.last_charge_ms = now_ms;
      continue;
    }
    // Redis lost the day's counts: nothing leaves until the ramp round has
    // put them back and marked it.
    if (res.not_kept) co_return Charge::stream_blocked;
    // An operator's cap or breaker: skip this message, not the stream.
    const bool op_level =
        res.breaker != Action::dunno
            ? !c.op.empty()
            : !c.plan.limiters.at(static_cast<std::size_t>(res.denied)).op.empty();
    if (!op_level) co_return Charge::stream_blocked;
    note_wait(id, k, s, decide_caps(s, c.plan, res, now_ms));
    co_return Charge::skip;
  }
  co_return Charge::all;
}

void Drainer::note_wait(const std::string& id, Known& k, const StreamConfig& s, const Verdict& v) {
  ++status_.streams[s.name].waiting;
  if (k.waiting == v.reason) return;
  k.waiting = v.reason;
  spdlog::info("held {} (stream {}) waits: {}", id, s.name, why(v.reply));
}

boost::asio::awaitable<void> Drainer::run_once(std::shared_ptr<const Config> cfg_ptr,
                                               int64_t now_ms) {
  const Config& cfg = *cfg_ptr;
  auto listing = list_hold_queue(cfg);
  if (!co_await std::move(listing)) co_return;
  for (auto it = released_.begin(); it != released_.end();)
    it = now_ms - it->second > kRememberReleasedMs ? released_.erase(it) : std::next(it);
  // Settled before anything new is looked at or charged, with the listing
  // just read: whether each marked message is still held.
  auto settling = settle(cfg, now_ms);
  const bool settled = co_await std::move(settling);
  auto reading = read_new_envelopes(cfg);
  co_await std::move(reading);
  first_round_ = false;
  Queues queues = tally(cfg, now_ms);
  if (!settled || !cfg.rampd.drain) co_return;
  if (!use_config(cfg_ptr)) {
    status_.problem = runtime_problem_;
    co_return;
  }
  for (auto& [name, q] : queues) {
    const StreamConfig* s = cfg.stream_named(name);
    if (!s) continue;
    auto draining = drain_stream(cfg, *s, q, now_ms);
    if (!co_await std::move(draining)) co_return;
  }
}

boost::asio::awaitable<bool> Drainer::list_hold_queue(const Config& cfg) {
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
  in_hold_.clear();
  for (const auto& m : listing.messages)
    if (m.queue_name == "hold") in_hold_[m.queue_id] = m.arrival_time;
  for (auto it = known_.begin(); it != known_.end();)
    it = in_hold_.count(it->first) ? std::next(it) : known_.erase(it);
  co_return true;
}

boost::asio::awaitable<void> Drainer::read_new_envelopes(const Config& cfg) {
  std::map<std::string, std::string> stream_of_transport;
  for (const auto& s : cfg.streams) stream_of_transport[s.postfix.transport] = s.name;
  for (const auto& [id, arrival] : in_hold_) {
    if (known_.count(id)) continue;
    auto reading_envelope = read_envelope(cfg, id);
    auto env = co_await std::move(reading_envelope);
    if (!env) continue;  // gone meanwhile, or unreadable: looked at again next round
    Known k;
    k.dirty = first_round_;  // an earlier rampd may have left it charges
    auto it = stream_of_transport.find(std::string(held::filter_transport(env->content_filter)));
    if (it != stream_of_transport.end()) k.stream = it->second;
    k.recipients = env->recipients;
    k.arrival_s = arrival;
    known_.emplace(id, std::move(k));
  }
}

boost::asio::awaitable<std::optional<held::Envelope>> Drainer::read_envelope(
    const Config& cfg, const std::string& queue_id) {
  auto reading = run_queue_command(cfg, queue_helper::Verb::envelope, queue_id,
                                   queue_argv(cfg, queue_helper::Verb::envelope, queue_id));
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
  for (auto& [name, st] : status_.streams)
    st.held = st.held_over_warn = st.oldest_age_s = st.waiting = st.held_refused = 0;
  for (auto& [id, k] : known_) {
    if (k.stream.empty()) {
      ++status_.held_of_no_stream;
      continue;
    }
    const int64_t age = std::max<int64_t>(0, now_ms / 1000 - k.arrival_s);
    auto& st = status_.streams[k.stream];
    ++st.held;
    if (!k.refused.empty()) ++st.held_refused;
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
    if (k.dirty || (k.charged > 0 && now_ms - k.last_charge_ms > kReserveMs / 2)) {
      // What it holds is unknown, or its reservation is near expiry: start over.
      auto giving_back = give_back(s.name, id, k, now_ms);
      if (!co_await std::move(giving_back)) co_return false;
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
    if (c == Charge::refused) {
      auto refusing = refuse(cfg, s, id, k, now_ms);
      co_await std::move(refusing);
      continue;
    }
    k.waiting.clear();
    auto releasing = release(cfg, s, id, k, now_ms);
    co_await std::move(releasing);
  }
  co_return true;
}

}  // namespace sg::rampd
