#include "policyd/policy_service.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>

#include "common/civil_time.hpp"

namespace sg {

using Steady = std::chrono::steady_clock;

struct PolicyService::Context {
  std::shared_ptr<const Runtime> runtime;
  const StreamConfig* stream = nullptr;
  std::string queue_id;
  std::string domain;
  std::string op;
  LimiterPlan plan;
  Steady::time_point start;
  Done done;
};

namespace {

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v == 0 || v > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(v);
}

// The part after the last '@', lowercased, for logging an address that
// recipient_domain() could not normalise.
std::string raw_domain(std::string_view rcpt) {
  auto at = rcpt.rfind('@');
  std::string d(at == std::string_view::npos ? std::string_view{} : rcpt.substr(at + 1));
  for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return d;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out;
}

}  // namespace

PolicyService::PolicyService(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime,
                             const RedisUrl& redis_url, const Clock& clock,
                             metrics::Registry& registry)
    : clock_(clock),
      runtime_(std::move(runtime)),
      redis_text_(redis_url.endpoint.to_string()),
      stats_(registry),
      redis_(io,
             RedisClientOptions{redis_url,
                                std::chrono::milliseconds(runtime_->config->redis.timeout_ms)},
             RedisClientHooks{
                 [this] {
                   stats_.redis_up.set(1);
                   spdlog::info("redis: connected to {}", redis_text_);
                   limiter_.load_script();
                 },
                 [this](std::string_view why) {
                   stats_.redis_up.set(0);
                   stats_.redis_reconnects.inc();
                   spdlog::warn(
                       "redis: connection to {} down ({}); answering on_error={} until "
                       "it is back",
                       redis_text_, why, to_string(runtime_->config->redis.on_error));
                 },
                 [this](std::string_view kind) { stats_.redis_errors.labels({kind}).inc(); }}),
      limiter_(redis_, runtime_->config->redis.key_prefix) {}

void PolicyService::start() {
  redis_.start();
}

void PolicyService::set_runtime(std::shared_ptr<const Runtime> runtime) {
  runtime_ = std::move(runtime);
  day_computed_at_ = 0;
  day_.next_midnight_ms = 0;  // the zone may have changed
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

void PolicyService::handle(const policy::Request& request, Done done) {
  auto ctx = std::make_shared<Context>();
  ctx->runtime = runtime_;
  ctx->start = Steady::now();
  ctx->queue_id = std::string(request.get("queue_id"));
  ctx->done = std::move(done);
  const Config& cfg = *ctx->runtime->config;

  // Only the RCPT stage is decided here; other stages pass.
  if (request.get("protocol_state") != "RCPT") return finish(*ctx, dunno("not_rcpt_stage"));

  auto port = parse_port(request.get("server_port"));
  ctx->stream = port ? cfg.stream_for_port(*port) : nullptr;
  if (!ctx->stream)
    return finish(*ctx, decide_unknown_port(port.value_or(0), cfg.policyd.unknown_port));

  auto rcpt = request.get("recipient");
  auto domain = recipient_domain(rcpt);
  ctx->domain = domain ? *domain : raw_domain(rcpt);
  auto c = ctx->runtime->classifier.classify(ctx->domain);
  ctx->op = c.op;
  if (auto v = decide_exclusion(*ctx->stream, c)) return finish(*ctx, *v);

  ctx->plan = plan_limits(*ctx->stream, ctx->op);
  charge(std::move(ctx));
}

void PolicyService::charge(std::shared_ptr<Context> ctx) {
  if (!redis_.connected()) {
    stats_.redis_errors.labels({"unavailable"}).inc();
    return finish(*ctx, decide_store_error(*ctx->stream, ctx->runtime->config->redis.on_error));
  }
  int64_t now = clock_.now_ms();
  const auto& stream_name = ctx->stream->name;
  const auto& plan = ctx->plan;
  limiter_.charge(
      stream_name, plan, now, today(now),
      [this, ctx](std::optional<LimiterResult> r, std::string_view error) {
        if (!r) {
          spdlog::warn("redis: charge for stream {} failed: {}", ctx->stream->name, error);
          return finish(*ctx,
                        decide_store_error(*ctx->stream, ctx->runtime->config->redis.on_error));
        }
        record_limits(*ctx, *r);
        finish(*ctx, decide_caps(*ctx->stream, ctx->plan, *r));
      });
}

void PolicyService::record_limits(const Context& ctx, const LimiterResult& r) {
  for (std::size_t i = 0; i < r.states.size(); ++i) {
    const auto& spec = ctx.plan.limiters[i];
    // Both arms string_view: a std::string arm would make a temporary.
    std::string_view op = spec.op.empty() ? std::string_view("all") : std::string_view(spec.op);
    stats_.cap.labels({ctx.stream->name, op, spec.window})
        .set(static_cast<double>(r.states[i].cap));
    stats_.usage.labels({ctx.stream->name, op, spec.window})
        .set(static_cast<double>(r.states[i].used));
  }
}

void PolicyService::finish(Context& ctx, const Verdict& v) {
  auto elapsed = Steady::now() - ctx.start;
  double seconds = std::chrono::duration<double>(elapsed).count();
  const std::string stream = ctx.stream ? ctx.stream->name : "none";
  stats_.requests.labels({stream, to_string(v.action), v.reason}).inc();
  if (v.shadow) stats_.shadow.labels({stream, to_string(v.would), v.reason}).inc();
  stats_.latency.observe(seconds);
  ++answered_;
  spdlog::info(
      "decision queue_id={} stream={} rcpt_domain={} operator={} action={}{} reason={} "
      "latency_us={} reply=\"{}\"",
      ctx.queue_id.empty() ? "-" : ctx.queue_id, stream, ctx.domain.empty() ? "-" : ctx.domain,
      ctx.op.empty() ? "-" : ctx.op, to_string(v.action),
      v.shadow ? std::string(" would=") + to_string(v.would) : "", v.reason,
      static_cast<long long>(seconds * 1e6), v.reply);
  auto done = std::move(ctx.done);
  done(v.reply);
}

std::string PolicyService::status_json() const {
  const auto& cfg = *runtime_->config;
  std::string out = "{\"daemon\":\"streamguard-policyd\",\"config\":\"" + json_escape(cfg.path) +
                    "\",\"redis_ready\":" + (redis_.connected() ? "true" : "false") +
                    ",\"answered\":" + std::to_string(answered_) + ",\"streams\":[";
  for (std::size_t i = 0; i < cfg.streams.size(); ++i) {
    const auto& s = cfg.streams[i];
    if (i) out += ",";
    out += "{\"name\":\"" + s.name + "\",\"mode\":\"" +
           (s.mode == StreamMode::shadow ? "shadow" : "enforce") + "\",\"over_cap\":\"" +
           to_string(s.over_cap) + "\",\"ports\":[";
    for (std::size_t p = 0; p < s.ports.size(); ++p) {
      if (p) out += ',';
      out += std::to_string(s.ports[p]);
    }
    out += "]}";
  }
  return out + "]}";
}

}  // namespace sg
