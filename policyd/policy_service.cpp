#include "policyd/policy_service.hpp"

#include "common/redis_url.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include <boost/asio/co_spawn.hpp>

#include "common/civil_time.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "rules/suppression.hpp"
#include "store/redis_durability.hpp"

namespace sg {

using Steady = std::chrono::steady_clock;

struct PolicyService::Context {
  std::shared_ptr<const Runtime> runtime;
  const StreamConfig* stream = nullptr;
  std::string queue_id;
  std::string instance;
  std::string domain;
  std::string op;
  const char* op_by = "-";  // how the operator was found: static, mx, mx-cache
  LimiterPlan plan;
  Steady::time_point start;
};

using text::parse_port;

PolicyService::PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                             const RedisUrl& redis_url, const Clock& clock,
                             metrics::Registry& registry)
    : PolicyService(io, std::move(runtime), nullptr, clock, registry) {
  redis_where_ = redis_location(redis_url);
  redis_ = std::make_unique<RedisClient>(
      io,
      RedisClientOptions{redis_url, std::chrono::milliseconds(runtime_->config->redis.timeout_ms)},
      RedisClientHooks{
          [this] {
            stats_.redis_up.set(1);
            spdlog::info("redis: connected to {}", redis_->describe());
            limiter_->load_scripts();
            check_durability(*redis_, [this](std::vector<std::string> warnings) {
              for (const auto& w : warnings) spdlog::warn("redis: {}", w);
              stats_.redis_durable.set(warnings.empty() ? 1 : 0);
              redis_warnings_ = std::move(warnings);
            });
          },
          [this](std::string_view why) {
            stats_.redis_up.set(0);
            stats_.redis_reconnects.inc();
            spdlog::warn(
                "redis: connection to {} down ({}); answering on_error={} until "
                "it is back",
                redis_->describe(), why, to_string(runtime_->config->redis.on_error));
          },
          [this](std::string_view kind) { stats_.redis_errors.labels({kind}).inc(); }});
  limiter_ = std::make_unique<CapLimiter>(*redis_, runtime_->config->redis.key_prefix);
  store_ = limiter_.get();
}

PolicyService::PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                             CapStore* store, const Clock& clock, metrics::Registry& registry)
    : clock_(clock),
      runtime_(std::move(runtime)),
      stats_(registry),
      store_(store),
      sweep_timer_(io) {
  redis_where_ = redis_location(runtime_->config->redis.url);
  if (runtime_->config->dns.enabled)
    mx_ = std::make_unique<MxLookup>(io, runtime_->config->dns, clock, registry);
}

PolicyService::PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                             CapStore& store, const Clock& clock, metrics::Registry& registry)
    : PolicyService(io, std::move(runtime), &store, clock, registry) {}

PolicyService::~PolicyService() = default;

void PolicyService::start() {
  if (redis_) redis_->start();
  schedule_sweep();
}

void PolicyService::schedule_sweep() {
  // Often enough that a returned reservation is back within a few seconds of
  // its deadline; a sweep of a stream with nothing expired is one cheap call.
  const auto every = std::chrono::seconds(
      std::clamp<uint32_t>(runtime_->config->policyd.reserve_ttl_s / 10, 1, 30));
  sweep_timer_.expires_after(every);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    sweep_reservations([this] { schedule_sweep(); });
  });
}

void PolicyService::sweep_reservations(std::function<void()> done) {
  auto rt = runtime_;
  if (rt->config->policyd.commit != Commit::end_of_message || !store_->ready()) {
    if (done) done();
    return;
  }
  boost::asio::co_spawn(sweep_timer_.get_executor(), sweep_streams(std::move(rt)),
                        [done = std::move(done)](std::exception_ptr) {
                          if (done) done();
                        });
}

boost::asio::awaitable<void> PolicyService::sweep_streams(std::shared_ptr<const Runtime> rt) {
  for (const auto& s : rt->config->streams) {
    auto sweeping = store_->sweep(s.name, clock_.now_ms(), 500);
    Stored<SweepResult> r = co_await std::move(sweeping);
    if (!r.value) {
      spdlog::warn("reservations: sweep of stream {} failed: {}", s.name, r.error);
      continue;
    }
    if (r.value->instances == 0) continue;
    stats_.reservations.labels({s.name, "returned"}).inc(static_cast<double>(r.value->instances));
    spdlog::info(
        "reservations: stream {}: {} transaction(s) never reached END-OF-MESSAGE "
        "within {}s; {} charge(s) returned to the budget",
        s.name, r.value->instances, rt->config->policyd.reserve_ttl_s, r.value->charges);
    if (end_of_message_seen_ == 0 && !warned_no_end_of_message_) {
      warned_no_end_of_message_ = true;
      spdlog::error(
          "reservations: commit = \"end_of_message\" but no END-OF-MESSAGE request has "
          "arrived since start: every charge is being returned to the budget. Set "
          "smtpd_end_of_data_restrictions = check_policy_service {{ ... }} in main.cf "
          "(streamguardctl postfix-conf renders it), or set commit = \"rcpt\"");
    }
  }
}

void PolicyService::set_runtime(std::shared_ptr<const Runtime> runtime) {
  runtime_ = std::move(runtime);
  day_computed_at_ = 0;
  day_.next_midnight_ms = 0;  // the zone may have changed
  if (mx_) mx_->reset(runtime_->config->dns);
}

const CivilDay& PolicyService::today(int64_t now_ms) {
  // The calendar day changes once a day: recompute only past midnight (or if
  // the clock went back).
  if (now_ms < day_computed_at_ || now_ms >= day_.next_midnight_ms) {
    day_ = civil_day(now_ms);
    day_computed_at_ = now_ms;
  }
  return day_;
}

boost::asio::awaitable<std::string> PolicyService::handle(const policy::Request& request) {
  Context ctx;
  ctx.runtime = runtime_;
  ctx.start = Steady::now();
  ctx.queue_id = std::string(request.get("queue_id"));
  auto deciding = decide(ctx, request);
  Verdict v = co_await std::move(deciding);
  co_return finish(ctx, v);
}

boost::asio::awaitable<Verdict> PolicyService::decide(Context& ctx,
                                                      const policy::Request& request) {
  const Config& cfg = *ctx.runtime->config;
  // The transaction's instance matters only when charges are reservations.
  if (cfg.policyd.commit == Commit::end_of_message)
    ctx.instance = std::string(request.get("instance"));
  const auto state = request.get("protocol_state");
  auto port = parse_port(request.get("server_port"));

  // END-OF-MESSAGE commits what RCPT reserved; every other stage but RCPT passes.
  if (state == "END-OF-MESSAGE") {
    ctx.stream = port ? cfg.stream_for_port(*port) : nullptr;
    auto committing = end_of_message(ctx);
    Verdict v = co_await std::move(committing);
    co_return v;
  }
  if (state != "RCPT") co_return dunno("not_rcpt_stage");
  ctx.stream = port ? cfg.stream_for_port(*port) : nullptr;
  if (!ctx.stream) co_return decide_unknown_port(port.value_or(0), cfg.policyd.unknown_port);

  auto checking =
      check_recipient(*ctx.runtime, *ctx.stream, std::string(request.get("recipient")), mx_.get());
  RecipientCheck c = co_await std::move(checking);
  ctx.domain = std::move(c.domain);
  ctx.op = std::move(c.op);
  ctx.op_by = c.op_by;
  if (c.verdict) co_return *c.verdict;
  ctx.plan = std::move(c.plan);
  auto charging = charge(ctx);
  Verdict v = co_await std::move(charging);
  co_return v;
}

boost::asio::awaitable<Verdict> PolicyService::end_of_message(Context& ctx) {
  ++end_of_message_seen_;
  const Config& cfg = *ctx.runtime->config;
  if (!ctx.stream || cfg.policyd.commit != Commit::end_of_message || ctx.instance.empty())
    co_return dunno("end_of_message");
  // The message is accepted whatever the store says: a commit that fails
  // leaves the reservation to be returned at its deadline (counted low, never
  // mail lost). The charges are kept under the queue id: a milter answers
  // after this and may still refuse the message, and rampd gives them back
  // when the log says so.
  auto committing = store_->commit(ctx.stream->name, ctx.instance, ctx.queue_id);
  Stored<int64_t> charges = co_await std::move(committing);
  if (!charges.value) {
    spdlog::warn("reservations: commit of {} on stream {} failed: {}", ctx.instance,
                 ctx.stream->name, charges.error);
    co_return dunno("commit_failed");
  }
  if (*charges.value == 0) co_return dunno("nothing_reserved");
  stats_.reservations.labels({ctx.stream->name, "committed"}).inc();
  co_return dunno("committed");
}

boost::asio::awaitable<Verdict> PolicyService::charge(Context& ctx) {
  if (!store_->ready()) {
    stats_.redis_errors.labels({"unavailable"}).inc();
    co_return decide_store_error(*ctx.stream, ctx.runtime->config->redis.on_error, redis_where_);
  }
  const int64_t now = clock_.now_ms();
  const auto& pd = ctx.runtime->config->policyd;
  Reservation reservation;
  if (pd.commit == Commit::end_of_message) {
    reservation.reserve_ms = static_cast<int64_t>(pd.reserve_ttl_s) * 1000;
    reservation.instance = ctx.instance;
  }
  auto charging = store_->charge(ctx.stream->name, ctx.plan, now, today(now), reservation);
  Stored<LimiterResult> r = co_await std::move(charging);
  if (!r.value) {
    spdlog::warn("redis: charge for stream {} failed: {}", ctx.stream->name, r.error);
    co_return decide_store_error(*ctx.stream, ctx.runtime->config->redis.on_error, redis_where_);
  }
  if (r.value->not_kept) {
    stats_.redis_errors.labels({"not_kept"}).inc();
    co_return decide_store_unkept(*ctx.stream, ctx.runtime->config->redis.on_error, redis_where_);
  }
  if (!r.value->suppressed_field.empty()) {
    // Refused before any limiter was looked at: no cap or usage to record.
    const auto e = suppression::parse_entry(r.value->suppressed_field, r.value->suppressed_record);
    stats_.suppressed
        .labels({ctx.stream->name,
                 r.value->suppressed_field.starts_with("a:") ? "address" : "domain",
                 e ? e->rule : std::string("unreadable")})
        .inc();
  } else if (r.value->breaker == Action::dunno) {
    record_limits(ctx, *r.value, today(now).next_midnight_ms);
  }
  co_return decide_caps(*ctx.stream, ctx.plan, *r.value, now);
}

void PolicyService::record_limits(const Context& ctx, const LimiterResult& r, int64_t day_ends_ms) {
  for (std::size_t i = 0; i < r.states.size(); ++i) {
    const auto& spec = ctx.plan.limiters[i];
    // Both arms string_view: a std::string arm would make a temporary.
    std::string_view op = spec.op.empty() ? std::string_view("all") : std::string_view(spec.op);
    stats_.cap.labels({ctx.stream->name, op, spec.window})
        .set(static_cast<double>(r.states[i].cap));
    stats_.usage.labels({ctx.stream->name, op, spec.window})
        .set(static_cast<double>(r.states[i].used));
    if (spec.window != "daily") continue;
    // Found without building a key: a string is made once per stream and
    // operator, not per request.
    auto stream = daily_seen_.find(ctx.stream->name);
    if (stream == daily_seen_.end()) stream = daily_seen_.emplace(ctx.stream->name, OpSeen{}).first;
    auto seen = stream->second.find(op);
    if (seen == stream->second.end()) seen = stream->second.emplace(op, DailySeen{}).first;
    seen->second = {r.states[i].used, r.states[i].cap, day_ends_ms};
  }
}

std::string PolicyService::finish(const Context& ctx, const Verdict& v) {
  auto elapsed = Steady::now() - ctx.start;
  double seconds = std::chrono::duration<double>(elapsed).count();
  const std::string stream = ctx.stream ? ctx.stream->name : "none";
  stats_.requests.labels({stream, to_string(v.action), v.reason}).inc();
  if (v.shadow) stats_.shadow.labels({stream, to_string(v.would), v.reason}).inc();
  stats_.latency.observe(seconds);
  ++answered_;
  spdlog::info(
      "decision queue_id={} stream={} rcpt_domain={} operator={} operator_by={} action={}{} "
      "reason={} latency_us={} reply=\"{}\"",
      ctx.queue_id.empty() ? "-" : ctx.queue_id, stream, ctx.domain.empty() ? "-" : ctx.domain,
      ctx.op.empty() ? "-" : ctx.op, ctx.op_by, to_string(v.action),
      v.shadow ? std::string(" would=") + to_string(v.would) : "", v.reason,
      static_cast<long long>(seconds * 1e6), v.reply);
  return v.reply;
}

std::string PolicyService::status_json() const {
  const auto& cfg = *runtime_->config;
  std::string out = "{\"daemon\":\"streamguard-policyd\"," + record_.json_fields() +
                    ",\"config\":" + json::quote(cfg.path) +
                    ",\"redis_ready\":" + (store_->ready() ? "true" : "false") +
                    ",\"redis_warnings\":" + json::string_array(redis_warnings_) +
                    ",\"answered\":" + std::to_string(answered_) +
                    ",\"dns\":" + (mx_ ? "true" : "false") +
                    ",\"mx_cached\":" + std::to_string(mx_cached()) + ",\"streams\":[";
  for (std::size_t i = 0; i < cfg.streams.size(); ++i) {
    const auto& s = cfg.streams[i];
    if (i) out += ",";
    out += "{\"name\":" + json::quote(s.name) + ",\"mode\":\"" + to_string(s.mode) +
           "\",\"over_cap\":\"" + to_string(s.over_cap) + "\",\"ports\":[";
    for (std::size_t p = 0; p < s.ports.size(); ++p) {
      if (p) out += ',';
      out += std::to_string(s.ports[p]);
    }
    out += "]}";
  }
  // Only today's: a count of yesterday's is no usage of today's cap.
  const int64_t now = clock_.now_ms();
  out += "],\"daily_usage\":{";
  bool first_stream = true;
  for (const auto& [stream, ops] : daily_seen_) {
    std::string entries;
    for (const auto& [op, seen] : ops) {
      if (seen.day_ends_ms <= now) continue;
      entries += std::string(entries.empty() ? "" : ",") + json::quote(op) +
                 ":{\"used\":" + std::to_string(seen.used) +
                 ",\"cap\":" + std::to_string(seen.cap) + "}";
    }
    if (entries.empty()) continue;
    out += std::string(first_stream ? "" : ",") + json::quote(stream) + ":{" + entries + "}";
    first_stream = false;
  }
  return out + "}}";
}

}  // namespace sg
